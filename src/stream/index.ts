/**
 * spikestream/stream: RxJS sources, filters and binning operators over columnar event batches.
 * Each operator has a pure core on EventBatch next to it (same module) for arrays and tests.
 */
export { timestepParts, timestepEventCount, type Timestep } from './timestep.js';
export { EventTimestep, accumulateCounts, accumulateCountsInt16, INT16_COUNT_MAX, type DenseCounters } from './event-timestep.js';
export { heartbeat, clockOf, withClock, type ClockedBatch } from './clocked-batch.js';
export { StreamError, isStreamError, type StreamErrorCode } from './stream-error.js';
export { createBinningStats, type BinningStats } from './binning-stats.js';
export { DEFAULT_BINNING_LIMITS, type BinningLimits } from './binning-limits.js';
export { batchOperator, mapBatches, type StepResult } from './batch-operator.js';

// Sources
export { fromBatches, type BatchSource, type ReplayOptions } from './from-batches.js';
export { fromEventFile, type FromEventFileOptions } from './from-event-file.js';
export { fromWebSocket, createLiveSourceStats, type FromWebSocketOptions, type LiveSourceStats } from './from-web-socket.js';
export { probeGeometry } from './probe-geometry.js';
export { ProtocolError, isProtocolError, type ProtocolErrorCode } from './protocol-error.js';
export {
  DEFAULT_PROTOCOL_LIMITS, decodeFrame, encodeEventsMessage, encodeRawMessage, endRawDecode, eventsMessageSchema, eventsMessageToBatch,
  initRawDecode, parseEventsMessage, parseRawMessage, rawMessageSchema, rawMessageToBatch,
  type AnyMessage, type EventsMessage, type EventsToBatchOptions, type ProtocolLimits, type RawDecodeState, type RawMessage,
} from './protocol-events.js';

// Filters
export { denoise, denoiseEvents, initDenoise, type DenoiseOptions, type DenoiseState } from './denoise.js';
export { refractoryPeriod, refractoryPeriodEvents, initRefractoryPeriod, type RefractoryPeriodOptions, type RefractoryPeriodState } from './refractory-period.js';
export { suppressHotPixels, suppressHotPixelsEvents, initSuppressHotPixels, type SuppressHotPixelsOptions, type SuppressHotPixelsState } from './suppress-hot-pixels.js';
export { crop, cropEvents, cropBox, type CropOptions } from './crop.js';
export { centerCrop, centerCropEvents, type CenterCropOptions } from './center-crop.js';
export { downsample, downsampleEvents, type DownsampleOptions } from './downsample.js';
export { flipLR, flipLREvents } from './flip-lr.js';
export { flipUD, flipUDEvents } from './flip-ud.js';
export { transpose, transposeEvents } from './transpose.js';
export { mergePolarities, mergePolaritiesEvents } from './merge-polarities.js';

// Binning
export { binByTime, binEventsByTime, initTimeBins, pushTimeBins, endTimeBins, type BinByTimeOptions, type TimeBinState } from './bin-by-time.js';
export { binByCount, binEventsByCount, initCountBins, pushCountBins, endCountBins, type BinByCountOptions, type CountBinState } from './bin-by-count.js';
export { binToNTimeBins, binEventsToNTimeBins, type BinToNTimeBinsOptions } from './bin-to-n-time-bins.js';
export { binToNEventBins, binEventsToNEventBins, type BinToNEventBinsOptions } from './bin-to-n-event-bins.js';

// Output
export { NpyFrameWriter, encodeNpy, encodeNpyHeader, type NpyArray, type NpyDtype } from './npy.js';
