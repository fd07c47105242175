/**
 * The plumbing every stage shares, in the shape of RxJS's own operators (bufferTime, bufferCount):
 * per subscription a closure over local state, built by `init` when the subscription starts (so
 * each subscriber gets its own, as with any cold operator); a pure `step` from state and batch to
 * the next state and outputs; errors thrown by `init`, `step` or `finish` go to
 * `subscriber.error`; teardown drops the state so its buffers can be collected.
 *
 * Errors thrown by downstream consumers are not caught here: only the stage's own work is guarded.
 *
 * Ownership of batches: stages never write to their input, and may keep views on it after the
 * call returns (binning does, instead of copying every event: an open window holds views on the
 * batches fed so far, and the timesteps it emits hold them on). So a batch's memory must not change
 * while anything downstream may still hold it: for a batch fed to binning, until the window state
 * and every timestep containing its events are done with. Sources normally hand out fresh memory
 * per batch (decoders return new columns per write, fromBatches passes batches through as given,
 * eventsMessageToBatch copies out of its message); a source that recycles batch memory must check
 * that first, as the server's per-session pool does (src/serve/event-pool.ts).
 */
import { Observable, type OperatorFunction } from 'rxjs';
import type { EventBatch } from '../events/batch.js';
import { withClock, type ClockedBatch } from './clocked-batch.js';

export interface StepResult<S, Out> {
  readonly state: S;
  readonly outputs: readonly Out[];
}

export function batchOperator<S, In, Out>(
  init: () => S,
  step: (state: S, input: In) => StepResult<S, Out>,
  finish?: (state: S) => readonly Out[],
): OperatorFunction<In, Out> {
  return (source) =>
    new Observable<Out>((subscriber) => {
      let state = init();
      let active = true;
      const emit = (outs: readonly Out[]): void => {
        for (let i = 0; i < outs.length && !subscriber.closed; i++) subscriber.next(outs[i]);
      };
      const sub = source.subscribe({
        next(input) {
          if (!active) return;
          let r: StepResult<S, Out>;
          try {
            r = step(state, input);
          } catch (e) {
            subscriber.error(e);
            return;
          }
          state = r.state;
          emit(r.outputs);
        },
        error(e) {
          subscriber.error(e);
        },
        complete() {
          if (active && finish) {
            let outs: readonly Out[];
            try {
              outs = finish(state);
            } catch (e) {
              subscriber.error(e);
              return;
            }
            emit(outs);
          }
          subscriber.complete();
        },
      });
      return () => {
        active = false;
        sub.unsubscribe();
        state = undefined as S; // release the state's buffers
      };
    });
}

/**
 * A stateless per-batch stage: one output batch per input batch (possibly empty), carrying the
 * input's clock so heartbeats survive any chain of filters.
 */
export function mapBatches(fn: (b: EventBatch) => EventBatch): OperatorFunction<EventBatch, ClockedBatch> {
  return batchOperator<null, EventBatch, ClockedBatch>(
    () => null,
    (_s, b) => ({ state: null, outputs: [withClock(fn(b), b)] }),
  );
}
