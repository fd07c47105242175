/**
 * The acceptance check of the trainer as a command (`eval --compare-tfjs`): the tfjs forward pass
 * of a model file against the engine's predictions on the same recordings. They may differ only
 * where a float32 tie at a threshold (or between the top two scores) was counted.
 */
import type { Dataset } from '../data/dataset.js';
import type { Model } from '../model/model.js';
import { selectBackend } from './backend.js';
import { binDataset } from './frame-set.js';
import { TfGraph } from './tf-graph.js';
import { TrainError } from './train-error.js';
import { EVAL_TIE_TOLERANCE, evaluateFrames, graphWeights } from './trainer.js';

export async function compareWithTfjs(model: Model, ds: Dataset, enginePredictions: Int32Array): Promise<{ accuracy: number; agree: number; tied: number; untied: number }> {
  const b = model.input.binning;
  if (b.mode !== 'n_time_bins' && b.mode !== 'n_event_bins') {
    throw new TrainError('UNSUPPORTED', `--compare-tfjs needs a fixed number of timesteps per sample (n_time_bins or n_event_bins binning); the model bins by ${b.mode}`);
  }
  await selectBackend();
  const fs = await binDataset(ds, { binning: b, T: b.bins, channels: model.input.channels, height: model.input.height, width: model.input.width });
  const tfg = new TfGraph(model.graph);
  const r = evaluateFrames(tfg, graphWeights(tfg, model.graph), fs, { tieTolerance: EVAL_TIE_TOLERANCE });
  let agree = 0;
  let tied = 0;
  let untied = 0;
  for (let i = 0; i < fs.length; i++) {
    if (r.predictions[i] === enginePredictions[i]) agree++;
    else if ((r.nearTies as Int32Array)[i] > 0 || (r.scoreTies as Uint8Array)[i] > 0) tied++;
    else untied++;
  }
  return { accuracy: r.accuracy, agree, tied, untied };
}
