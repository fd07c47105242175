/** spikestream/events: columnar event batches, streaming decoders and encoders, format detection. */
export {
  EVENT_FORMATS, allocBatch, batchFrom, batchLength, concatBatches, emptyBatch, sliceBatch, trimBatch, BatchBuilder,
  type EventBatch, type EventFormat, type GeometrySource, type StreamMeta,
} from './batch.js';
export { DecodeError, isDecodeError, type DecodeErrorCode } from './decode-error.js';
export { DEFAULT_DECODER_LIMITS, type DecoderInfo, type DecoderLimits, type DecoderOptions, type EventDecoder } from './decoder.js';
export { createDecoder, type AnyDecoderOptions } from './create-decoder.js';
export { isOrdered, markOrdered } from './ordered-batches.js';
export { detectFormat, type Detection } from './detect-format.js';
export { openEventFile, readEventFile, type EventFileStream, type OpenEventFileOptions } from './open-event-file.js';
export { accumulateStats, EMPTY_STATS, type EventStats } from './event-stats.js';
export { NmnistDecoder, encodeNmnist } from './nmnist.js';
export { CsvDecoder, CsvEncoder, encodeCsv, type CsvOptions } from './csv.js';
