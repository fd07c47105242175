/**
 * tfjs backend selection: @tensorflow/tfjs-node when it is installed (an optional dependency: its
 * install downloads libtensorflow, impossible offline), else the wasm backend, else cpu. Only the
 * training module imports tfjs; the engines never do.
 */
import * as tf from '@tensorflow/tfjs-core';
import { registerTrainerGradients } from './gradients.js';
import { BACKEND_NAMES, type BackendName } from './options.js';
import { TrainError } from './train-error.js';

export { BACKEND_NAMES, type BackendName };

// A variable specifier keeps TypeScript from resolving a module that is usually absent.
const TFJS_NODE = '@tensorflow/tfjs-node';

/** Registers the backend's package; false when it cannot be loaded here. */
async function load(name: BackendName): Promise<boolean> {
  try {
    if (name === 'tensorflow') await import(TFJS_NODE);
    else if (name === 'wasm') await import('@tensorflow/tfjs-backend-wasm');
    else await import('@tensorflow/tfjs-backend-cpu');
    return true;
  } catch {
    return false;
  }
}

/** Backends that load and initialise on this machine, in preference order. */
export async function availableBackends(): Promise<BackendName[]> {
  const out: BackendName[] = [];
  for (const name of BACKEND_NAMES) {
    if (!(await load(name))) continue;
    if (tf.findBackend(name) || tf.findBackendFactory(name)) out.push(name);
  }
  return out;
}

/**
 * Makes `preferred` (or the first that works of tensorflow, wasm, cpu) the active backend and
 * returns its name. A preferred backend that cannot start is an error, not a silent fallback.
 */
export async function selectBackend(preferred?: BackendName): Promise<BackendName> {
  registerTrainerGradients();
  // Production mode: no "install the node backend" banner on stderr for cpu (wasm prints none).
  tf.env().set('PROD', true);
  const order = preferred ? [preferred] : BACKEND_NAMES;
  for (const name of order) {
    if (!(await load(name))) continue;
    if (tf.getBackend() === name) return name;
    try {
      if (await tf.setBackend(name)) {
        await tf.ready();
        return name;
      }
    } catch {
      // try the next one
    }
  }
  throw new TrainError('BAD_OPTION', preferred ? `the tfjs backend "${preferred}" is not available here` : 'no tfjs backend could be initialised');
}
