/** The inference server (DESIGN.md section 7): embed it with SpikestreamServer.start(). */
export { SpikestreamServer, DEFAULT_HOST, DEFAULT_PORT } from './server.js';
export type { ServeOptions, SessionInfo } from './server.js';
export { DEFAULT_SERVE_LIMITS, resolveServeLimits } from './limits.js';
export type { ServeLimits } from './limits.js';
export { loadServedModel, serveModel, DEFAULT_DECISION_US, DEFAULT_WINDOW_US } from './served-model.js';
export type { ServedModel, StreamDefaults } from './served-model.js';
export type { LocalSession } from './local-session.js';
export type { Session } from './session.js';
export { ServeConfigError } from './serve-config-error.js';
export { createLogger, silentLogger } from './logger.js';
export * from './protocol.js';
