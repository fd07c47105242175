/**
 * V8 flags the serving process runs with (`spikestream serve` relaunches itself with them; see
 * cli/relaunch.ts), and why.
 *
 * `--initial-heap-size=64` (MB): a server's live JavaScript heap is small (~15 MB with 8 sessions)
 * while it allocates and frees tens of MB per second, and V8 sizes its old-generation limit from
 * the live size. After a burst (the throughput phases of bench/serve.ts), V8 kept starting
 * incremental marking with the old generation flat at 15 MB of a 39 MB limit and ran a
 * mark-compact every 150-230 ms; their pauses and marking steps made the p99 latency at
 * 8 x 1 M events/s 9.4-12 ms. Starting from a 64 MB heap, the same run had a p99 of 3.1 ms and
 * about a third of the mark-compacts. V8 reads the flag only when the heap is created, so it cannot
 * be set from inside a running process (v8.setFlagsFromString was measured to change nothing).
 * The cost is memory: collected less often, the heap holds more garbage (the bench server's RSS
 * after all phases went from ~310 MB to 330-420 MB).
 */
export const SERVE_V8_FLAGS: readonly string[] = Object.freeze(['--initial-heap-size=64']);

/** Whether a process with these execArgv and NODE_OPTIONS already sets each flag (any value). */
export function hasV8Flags(flags: readonly string[], execArgv: readonly string[], nodeOptions: string | undefined): boolean {
  const given = [...execArgv, ...(nodeOptions ?? '').split(/\s+/)].map((a) => a.split('=')[0].replace(/_/g, '-'));
  return flags.every((f) => given.includes(f.split('=')[0].replace(/_/g, '-')));
}
