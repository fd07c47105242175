/**
 * spikestream: event-camera inference runtime. The curated public API: events (decoders,
 * encoders, detection), the RxJS pipeline (sources, filters, binning), the SNN engines and the
 * model file. The server, client, datasets and trainer have their own subpaths
 * (spikestream/serve, spikestream/client, ...), so importing the runtime never loads tfjs.
 */
export * from './events/index.js';
export * from './stream/index.js';
export * from './snn/index.js';
export * from './model/index.js';
