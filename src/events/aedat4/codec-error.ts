/**
 * A fault inside a packet's compressed or flatbuffer payload. The AEDAT 4.0 decoder turns it into
 * a DecodeError carrying the packet's stream offset; codecs and accessors here do not know it.
 */
export class CodecError extends Error {
  override readonly name = 'CodecError';

  constructor(readonly code: 'CORRUPT' | 'TOO_LARGE' | 'UNSUPPORTED', message: string) {
    super(message);
  }
}
