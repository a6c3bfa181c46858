export { StreamingServer, type StreamingServerOptions, type StreamingLogger } from './server.js';
export type { StreamingBackend, StreamIO, TerminalSize } from './backend.js';
export type { ExecRequest, AttachRequest, PortForwardRequest } from './request-cache.js';
