/** Structured logs (pino, JSON lines). The server logs to stderr so stdout stays free for the CLI. */
import { pino, type Logger } from 'pino';

export type { Logger } from 'pino';

export function createLogger(level: string = process.env.SPIKESTREAM_LOG_LEVEL ?? 'info'): Logger {
  return pino({ name: 'spikestream', level, base: { pid: process.pid } }, pino.destination({ fd: 2, sync: false }));
}

/** A logger that drops everything (tests, embedding). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
