/**
 * Entry of a pipeline worker thread (worker-pool.ts starts it): the served models, rebuilt from
 * what the main thread sends, and the sessions placed on this worker, each a WorkerSession fed
 * through its ring and sliced fairly by this thread's own SliceScheduler.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { serveModel, type ServedModel } from './served-model.js';
import { SliceScheduler } from './slice-scheduler.js';
import { WorkerSession } from './worker-session.js';
import type { Ack, FromWorker, ToWorker, WorkerInit } from './worker-protocol.js';

const port = parentPort;
if (port === null) throw new Error('pipeline-worker.ts runs in a worker thread (see worker-pool.ts)');

const init = workerData as WorkerInit;
const models = new Map<string, ServedModel>();
for (const m of init.models) models.set(m.name, serveModel(m.model, { name: m.name, engineBytes: m.engineBytes, maxPooledEngines: m.maxPooledEngines }));
const sessions = new Map<number, WorkerSession>();
const post = (m: FromWorker): void => port.postMessage(m);
// Acks of a scheduler round go out together, once the round (a macrotask) is over.
let acks: Ack[] = [];
const ack = (a: Ack): void => {
  if (acks.length === 0) {
    queueMicrotask(() => {
      const out = acks;
      acks = [];
      post({ k: 'acks', acks: out });
    });
  }
  acks.push(a);
};
const scheduler = new SliceScheduler(init.sliceMs, (w, e) => {
  const s = w as WorkerSession;
  post({ k: 'fail', s: s.s, message: (e as Error).message });
  s.close();
  sessions.delete(s.s);
});

port.on('message', (m: ToWorker) => {
  switch (m.k) {
    case 'open': {
      const served = models.get(m.spec.model);
      if (served === undefined) {
        post({ k: 'fail', s: m.s, message: `worker: no model "${m.spec.model}"` });
        return;
      }
      try {
        sessions.set(m.s, new WorkerSession(m.s, served, m.spec, m.ring, m.capacity, post, ack));
      } catch (e) {
        post({ k: 'fail', s: m.s, message: (e as Error).message });
      }
      return;
    }
    case 'work': {
      for (const w of m.batch) {
        const s = sessions.get(w.s);
        if (s === undefined) continue;
        s.add(w.items);
        scheduler.schedule(s);
      }
      return;
    }
    case 'steps':
      sessions.get(m.s)?.observeSteps(m.on);
      return;
    case 'close':
      sessions.get(m.s)?.close();
      sessions.delete(m.s);
      return;
    case 'drop':
      models.get(m.model)?.dropPooled();
      return;
  }
});

post({ k: 'ready' });
