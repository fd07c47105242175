/**
 * A gradient worker thread (see gradient-pool.ts): computes the chunks of a training batch it is
 * sent with chunk-gradients.ts, on its own tfjs backend (the main thread's kind), and posts the
 * results back on its port before flagging them in the shared control word, which the main thread
 * waits on.
 */
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import type { Graph } from '../snn/graph.js';
import { selectBackend, type BackendName } from './backend.js';
import { chunkGradients, type ChunkResult, type ChunkSpec } from './chunk-gradients.js';
import { TfGraph } from './tf-graph.js';

/** A job: chunks of one batch for one graph (sent again only when it changes). */
export interface GradientJob {
  readonly seq: number;
  readonly graphKey: number;
  readonly graph: Graph | null;
  readonly backend: BackendName;
  /** Per param, trainer layout. */
  readonly weights: Float32Array[];
  readonly spec: ChunkSpec;
  readonly chunks: readonly { readonly x: Float32Array; readonly onehot: Float32Array; readonly B: number }[];
}

export type GradientReply = { readonly seq: number; readonly results: ChunkResult[] } | { readonly seq: number; readonly error: string };

interface WorkerInit {
  readonly port: MessagePort;
  /** [0]: seq of the last reply posted; [1]: 1 once this thread exits. */
  readonly ctl: Int32Array;
}

let graph: { key: number; tfg: TfGraph } | null = null;
let backend: BackendName | null = null;

async function handle(job: GradientJob): Promise<ChunkResult[]> {
  if (backend !== job.backend) backend = await selectBackend(job.backend);
  if (!graph || graph.key !== job.graphKey) {
    if (!job.graph) throw new Error(`gradient worker: graph ${job.graphKey} was never sent`);
    graph = { key: job.graphKey, tfg: new TfGraph(job.graph) };
  }
  const tfg = graph.tfg;
  return job.chunks.map((c) => chunkGradients(tfg, job.weights, c.x, c.onehot, c.B, job.spec));
}

if (parentPort && workerData) {
  const { port, ctl } = workerData as WorkerInit;
  // A main thread waiting for a reply learns at once that none will come.
  process.on('exit', () => {
    Atomics.store(ctl, 1, 1);
    Atomics.notify(ctl, 0);
  });
  // Jobs run one at a time, in order.
  let queue: Promise<void> = Promise.resolve();
  port.on('message', (job: GradientJob) => {
    queue = queue.then(async () => {
      let reply: GradientReply;
      try {
        const results = await handle(job);
        reply = { seq: job.seq, results };
        port.postMessage(reply, results.flatMap((r) => [r.scores.buffer, ...r.grads.map((g) => g.buffer)]) as ArrayBuffer[]);
      } catch (e) {
        reply = { seq: job.seq, error: e instanceof Error ? e.message : String(e) };
        port.postMessage(reply);
      }
      Atomics.store(ctl, 0, job.seq);
      Atomics.notify(ctl, 0);
    });
  });
}
