/**
 * Prophesee EVT 2.0: 32-bit little-endian words, type in bits 31..28.
 *
 *   CD_OFF 0x0 / CD_ON 0x1   bits 27..22 ts[5:0], 21..11 x, 10..0 y   (polarity = type)
 *   EVT_TIME_HIGH 0x8        bits 27..0  ts[33:6]
 *   EXT_TRIGGER 0xA, OTHERS 0xE, CONTINUED 0xF, IMU 0xD: skipped, counted in info.skippedWords
 *   0x2-0x7, 0x9, 0xB, 0xC: reserved (skipped, or CORRUPT with `strict`)
 *
 * t = time_high * 64 + ts[5:0]. Time semantics follow OpenEB's EVT2Decoder (hal/.../evt2_decoder.h):
 * - words before the first TIME_HIGH are dropped (there is no time base yet); they are counted in
 *   info.skippedWords and details.wordsBeforeTimeHigh;
 * - the 34-bit time loops every 2^34 us (~4 h 46 min): a TIME_HIGH smaller than the current base by
 *   at least MaxTimestamp - 10000 us (MaxTimestamp = (2^28 - 1) * 64) starts a new loop, and every
 *   later time gets another 2^34 us. Smaller backward steps are kept as they are (time goes back).
 *   OpenEB only checks the last TIME_HIGH of each buffer it is handed; checking every TIME_HIGH
 *   gives the same result on real data and does not depend on how the input was split.
 * Timestamps are as recorded: OpenEB's optional "time shifting" (subtracting the first TIME_HIGH) is
 * not applied.
 */
import type { EventBatch } from './batch.js';
import {
  PropheseeDecoderBase, checkEncodeEvent, checkEncodeGeometry, concatBytes, propheseeHeaderBytes,
  type PropheseeDecoderOptions, type PropheseeHeader,
} from './prophesee-header.js';

export type Evt2Options = PropheseeDecoderOptions;

const TIME_LOOP = 2 ** 34;
const MAX_TIMESTAMP = TIME_LOOP - 64;
const LOOP_THRESHOLD = 10000;
/** A TIME_HIGH this far below the current base means the time looped. */
const LOOP_DETECT = MAX_TIMESTAMP - LOOP_THRESHOLD;
const TYPE_TIME_HIGH = 0x8;
/** Reserved types per the Prophesee EVT 2.0 docs (bit i set = type i reserved). */
const RESERVED = 0b0001_1010_1111_1100;

export class Evt2Decoder extends PropheseeDecoderBase {
  readonly format = 'evt2' as const;
  protected readonly wordBytes = 4;
  protected readonly maxUnitBytes = 4;
  protected override readonly tracksOrder = true;
  private baseSet = false;
  /** Current time base: TIME_HIGH * 64 plus the loops seen, in us. */
  private base = 0;
  /** Loops seen so far times 2^34 (OpenEB's full_shift without time shifting). */
  private shift = 0;
  private beforeTimeHigh = 0;

  constructor(options: Evt2Options = {}) {
    super('evt2', options, false);
  }

  protected onHeader(h: PropheseeHeader): void {
    this.checkDeclared(h);
  }

  protected estimateEvents(bytes: number): number {
    return (bytes >>> 2) + 1;
  }

  protected override syncDetails(): void {
    const d = this.info.details;
    d.wordsBeforeTimeHigh = this.beforeTimeHigh;
    d.timeLoops = this.shift / TIME_LOOP;
  }

  // Hot loop, hand-written: this is the whole decoder. Words are read through a Uint32Array view
  // (the base class guarantees alignment); each CD word becomes one event with no call or branch
  // beyond the type test.
  protected decodeBody(buf: ArrayBufferLike, byteOffset: number, byteLength: number, streamOffset: number): number {
    const nw = byteLength >>> 2;
    const words = new Uint32Array(buf, byteOffset, nw);
    let i = 0;
    if (!this.baseSet) {
      while (i < nw && words[i] >>> 28 !== TYPE_TIME_HIGH) i++;
      this.beforeTimeHigh += i;
      this.info.skippedWords += i;
      if (i === nw) return nw << 2;
      this.baseSet = true;
      this.base = (words[i] & 0x0fffffff) * 64;
    }
    const cols = this.cols;
    if (this.n + (nw - i) > cols.t.length) {
      this.needMore = true;
      return i << 2;
    }
    const { t, x, y, p } = cols;
    const strict = this.strict;
    let n = this.n;
    let base = this.base;
    let shift = this.shift;
    let skipped = 0;
    // Order check for ordered-batches.ts: branch-free, ~0.13 ns per event.
    let prev = this.lastT;
    let descended = 0;
    for (; i < nw; i++) {
      const w = words[i];
      const type = w >>> 28;
      if (type < 2) {
        const tv = base + ((w >>> 22) & 63);
        t[n] = tv;
        descended |= +(tv < prev);
        prev = tv;
        x[n] = (w >>> 11) & 0x7ff;
        y[n] = w & 0x7ff;
        p[n] = type;
        n++;
      } else if (type === TYPE_TIME_HIGH) {
        let th = (w & 0x0fffffff) * 64 + shift;
        if (th < base && base - th >= LOOP_DETECT) {
          shift += TIME_LOOP;
          th += TIME_LOOP;
        }
        base = th;
      } else {
        if (strict && ((RESERVED >>> type) & 1) !== 0) {
          this.fault = { offset: streamOffset + i * 4, reason: `reserved EVT 2.0 word type 0x${type.toString(16)}` };
          break;
        }
        skipped++;
      }
    }
    this.n = n;
    this.base = base;
    this.shift = shift;
    this.lastT = prev;
    if (descended !== 0) this.descended = true;
    this.info.skippedWords += skipped;
    return i << 2;
  }
}

export interface Evt2EncodeOptions {
  /** Sensor size written to the header; every event must lie inside it (at most 2048 each). */
  readonly width: number;
  readonly height: number;
}

/**
 * Streaming EVT 2.0 encoder: `write()` returns the bytes for a batch (the first call prepends the
 * header: `% evt 2.0`, `% format EVT2;height=H;width=W`, `% geometry WxH`, `% end`), keeping the
 * time state across calls. It writes a TIME_HIGH whenever t / 64 changes and mirrors the decoder's
 * loop detection, adding TIME_HIGH words to walk across 2^34 us loops. It rejects (RangeError):
 * events outside the geometry, polarity other than 0/1, t that is not an integer in [0, 2^40),
 * t moving back into an earlier 2^34 us loop, and a backward step of at least 2^34 - 10064 us
 * inside a loop (the decoder would read it as a new loop).
 */
export class Evt2Encoder {
  private headerDone = false;
  private started = false;
  private base = 0;
  private shift = 0;
  private words = new Uint32Array(1024);
  private nw = 0;

  constructor(private readonly options: Evt2EncodeOptions) {
    checkEncodeGeometry('EVT 2.0', options.width, options.height, 2048);
  }

  write(b: EventBatch): Uint8Array {
    const { width, height } = this.options;
    const n = b.t.length;
    this.nw = 0;
    for (let i = 0; i < n; i++) {
      checkEncodeEvent('EVT 2.0', b, i, width, height);
      const t = b.t[i];
      this.moveTime(t, i);
      this.push((((b.p[i] & 1) << 28) | ((t % 64) << 22) | (b.x[i] << 11) | b.y[i]) >>> 0);
    }
    const body = new Uint8Array(this.words.buffer, 0, this.nw * 4).slice();
    if (this.headerDone) return body;
    this.headerDone = true;
    return concatBytes([propheseeHeaderBytes([
      'evt 2.0', `format EVT2;height=${height};width=${width}`, `geometry ${width}x${height}`, 'end',
    ]), body]);
  }

  end(): Uint8Array {
    return this.write({ t: new Float64Array(0), x: new Uint16Array(0), y: new Uint16Array(0), p: new Uint8Array(0) });
  }

  private push(w: number): void {
    if (this.nw === this.words.length) {
      const next = new Uint32Array(this.words.length * 2);
      next.set(this.words);
      this.words = next;
    }
    this.words[this.nw++] = w;
  }

  /** Emits a TIME_HIGH and updates the mirrored decoder state exactly as Evt2Decoder would. */
  private timeHigh(raw: number): void {
    this.push((0x80000000 | raw) >>> 0);
    let th = raw * 64 + this.shift;
    if (!this.started) {
      this.started = true;
    } else if (th < this.base && this.base - th >= LOOP_DETECT) {
      this.shift += TIME_LOOP;
      th += TIME_LOOP;
    }
    this.base = th;
  }

  private moveTime(t: number, i: number): void {
    const target = t - (t % 64);
    const loop = Math.floor(target / TIME_LOOP);
    const raw = (target - loop * TIME_LOOP) / 64;
    const maxRaw = MAX_TIMESTAMP / 64;
    if (!this.started) this.timeHigh(loop === 0 ? raw : maxRaw);
    if (loop < this.shift / TIME_LOOP) {
      throw new RangeError(`EVT 2.0 encoder: event ${i} (t=${t}) steps back into an earlier 2^34 us time loop`);
    }
    while (this.shift / TIME_LOOP < loop) {
      const nextRaw = this.shift / TIME_LOOP + 1 === loop ? raw : 0;
      if (this.base - (nextRaw * 64 + this.shift) < LOOP_DETECT) {
        // The decoder would not see a loop yet: go to the end of this loop first.
        if (this.base !== this.shift + MAX_TIMESTAMP) this.timeHigh(maxRaw);
        if (MAX_TIMESTAMP - nextRaw * 64 < LOOP_DETECT) {
          this.timeHigh(0);
          continue;
        }
      }
      this.timeHigh(nextRaw);
    }
    if (target !== this.base) {
      if (target < this.base && this.base - target >= LOOP_DETECT) {
        throw new RangeError(`EVT 2.0 encoder: event ${i} (t=${t}) steps back by ${this.base - target} us, which the format reads as a time loop`);
      }
      this.timeHigh(raw);
    }
  }
}

/** Encodes a whole batch as an EVT 2.0 RAW file (header + body). See Evt2Encoder for what it rejects. */
export function encodeEvt2(b: EventBatch, options: Evt2EncodeOptions): Uint8Array {
  return new Evt2Encoder(options).write(b);
}
