import { DecodeError } from '../events/decode-error.js';

/** A user-facing CLI failure: the message is the whole story, no stack needed. */
export class CliError extends Error {
  override readonly name = 'CliError';
}

/** One line naming what went wrong; DecodeErrors already name format, offset and reason. */
export function formatCliError(e: unknown): string {
  if (e instanceof DecodeError) return `${e.message} [${e.code}]`;
  if (e instanceof Error) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'EACCES' || code === 'EISDIR') return e.message;
    return e.message.split('\n')[0];
  }
  return String(e);
}
