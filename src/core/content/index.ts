export type { BlobInfo, ContentStore, ContentWriter, ExpectedBlob, IngestSource, IngestStatus, VerifyProblem } from './store.js';
export { LocalContentStore } from './local-store.js';
export { digestHex, digestOf, isValidDigest } from './digest.js';
