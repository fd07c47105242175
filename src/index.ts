/**
 * spikestream: event-camera inference runtime. The curated public API; deeper modules are
 * reachable through the package's subpath exports (spikestream/events, ...).
 */
export * from './events/index.js';
export type { Timestep } from './stream/timestep.js';
