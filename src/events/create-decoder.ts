/** Format id -> decoder. The one place that knows every format's class. */
import { Aedat2Decoder } from './aedat2.js';
import { Aedat3Decoder } from './aedat3.js';
import { Aedat4Decoder } from './aedat4.js';
import type { EventFormat } from './batch.js';
import { CsvDecoder } from './csv.js';
import { DatDecoder } from './dat.js';
import { DecodeError } from './decode-error.js';
import type { DecoderOptions, EventDecoder } from './decoder.js';
import { Evt21Decoder } from './evt21.js';
import { Evt2Decoder } from './evt2.js';
import { Evt3Decoder } from './evt3.js';
import { NmnistDecoder } from './nmnist.js';

type OptionsOf<C extends abstract new (...args: never[]) => unknown> = NonNullable<ConstructorParameters<C>[0]>;

/** Union of every decoder's options; each decoder reads the keys it knows. */
export type AnyDecoderOptions = DecoderOptions &
  Partial<OptionsOf<typeof Aedat2Decoder>> &
  Partial<OptionsOf<typeof Aedat3Decoder>> &
  Partial<OptionsOf<typeof Aedat4Decoder>> &
  Partial<OptionsOf<typeof Evt21Decoder>> &
  Partial<OptionsOf<typeof DatDecoder>> &
  Partial<OptionsOf<typeof CsvDecoder>>;

export function createDecoder(format: EventFormat, options: AnyDecoderOptions = {}): EventDecoder {
  switch (format) {
    case 'nmnist': return new NmnistDecoder(options);
    case 'aedat2': return new Aedat2Decoder(options);
    case 'aedat3': return new Aedat3Decoder(options);
    case 'aedat4': return new Aedat4Decoder(options);
    case 'evt2': return new Evt2Decoder(options);
    case 'evt21': return new Evt21Decoder(options);
    case 'evt3': return new Evt3Decoder(options);
    case 'dat': return new DatDecoder(options);
    case 'csv': return new CsvDecoder(options);
    default:
      throw new DecodeError('UNSUPPORTED', 'unknown', 0, `unknown event format "${String(format)}"`);
  }
}
