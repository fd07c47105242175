/**
 * Runs the current command again in a child Node process started with extra V8 flags, for flags
 * that V8 reads only when the heap is created (see serve/v8-flags.ts). The parent forwards
 * SIGINT, SIGTERM and SIGHUP, and exits with the child's code; the child, told by the environment,
 * shuts down gracefully (SIGTERM to itself) if the parent disappears without a signal (SIGKILL), so
 * no server outlives its launcher.
 *
 * Set SPIKESTREAM_NO_RELAUNCH=1 to run in this process as it is (e.g. under a debugger or a
 * supervisor that sets the flags itself through NODE_OPTIONS, which also skips the relaunch).
 */
import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { hasV8Flags } from '../serve/v8-flags.js';

const CHILD_ENV = 'SPIKESTREAM_RELAUNCHED';
const FORWARDED = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/** Whether this process should relaunch itself to get `flags`. */
export function needsRelaunch(flags: readonly string[], env: NodeJS.ProcessEnv = process.env, execArgv: readonly string[] = process.execArgv): boolean {
  if (env.SPIKESTREAM_NO_RELAUNCH === '1' || env[CHILD_ENV] === '1') return false;
  return !hasV8Flags(flags, execArgv, env.NODE_OPTIONS);
}

/**
 * Starts this process's command line again with `flags` and resolves to the exit code the parent
 * should end with (the child's, or 128 + signal number when a signal ended it).
 */
export function relaunch(flags: readonly string[]): Promise<number> {
  // execArgv keeps loaders and -e scripts; argv[1..] is the script (if any) and the arguments.
  // Own process group (detached): a terminal's Ctrl-C reaches the parent only, which forwards it
  // once; reaching both, the child would get SIGINT twice and take the second as "quit now".
  const child = spawn(process.execPath, [...flags, ...process.execArgv, ...process.argv.slice(1)], {
    stdio: ['inherit', 'inherit', 'inherit', 'ipc'],
    env: { ...process.env, [CHILD_ENV]: '1' },
    detached: true,
  });
  const forward = (sig: NodeJS.Signals) => () => {
    child.kill(sig);
  };
  const handlers = FORWARDED.map((sig) => [sig, forward(sig)] as const);
  for (const [sig, h] of handlers) process.on(sig, h);
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      for (const [sig, h] of handlers) process.off(sig, h);
      resolve(code ?? 128 + (signal ? constants.signals[signal] : 0));
    });
  });
}

/**
 * In a relaunched child: stop gracefully when the parent goes away without forwarding a signal.
 * The IPC channel exists only to notice that; it must not keep the process alive.
 */
export function watchLauncher(): void {
  if (process.env[CHILD_ENV] !== '1' || process.send === undefined) return;
  process.channel?.unref();
  process.once('disconnect', () => process.kill(process.pid, 'SIGTERM'));
}
