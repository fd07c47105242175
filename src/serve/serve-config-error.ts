/** A server configuration the server refuses to start with (bad limit, unsafe bind, unusable model). */
export class ServeConfigError extends Error {
  override readonly name = 'ServeConfigError';
}
