/** spikestream/model: the versioned msgpack model file, and NIR import/export. */
export { MODEL_FORMAT, MODEL_VERSION, BINNING_MODES, connectionDensity, type Model, type ModelInput, type BinningSpec, type TrainingInfo, type PlainValue } from './model.js';
export { readModelFile, writeModelFile } from './model-file.js';
export { encodeModel, decodeModel } from './model-codec.js';
export { ModelError, isModelError, type ModelErrorCode } from './model-error.js';
export { modelFromGraph, randomModel, type RandomModelOptions } from './random-model.js';
export { importNirModel, exportNirModel, type NirModelImport, type NirModelImportOptions } from './nir/nir-model.js';
export { NirError, isNirError, type NirErrorCode } from './nir/nir-error.js';
