export { applyLayer, DiffIdMismatchError, type ApplyOptions, type ApplyResult, type WhiteoutMode } from './apply.js';
export { detectCompression, type LayerCompression } from './decompress.js';
export { UnsafeEntryError } from './safe-path.js';
