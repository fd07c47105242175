/**
 * Prophesee EVT 3.0: 16-bit little-endian words, type in bits 15..12, decoded statefully.
 *
 *   0x0 EVT_ADDR_Y     y (11 bits) + system bit 11; marks the CD event type
 *   0x1 EM_ADDR_Y      marks the EM type (no CD events until the next EVT_ADDR_Y)
 *   0x2 EVT_ADDR_X     one event: x (11 bits), polarity bit 11, current y and time
 *   0x3 VECT_BASE_X    base x (11 bits) + polarity bit 11 for the vectors that follow
 *   0x4 VECT_12, 0x5 VECT_8   validity masks of consecutive x from the base
 *   0x6 EVT_TIME_LOW   time bits 11..0      0x8 EVT_TIME_HIGH  time bits 23..12
 *   0xA EXT_TRIGGER, 0xE OTHERS, 0x7/0xF CONTINUED, 0xD IMU: skipped (info.skippedWords)
 *   0x9, 0xB, 0xC: reserved (skipped, or CORRUPT with `strict`)
 *
 * Semantics are OpenEB's production decoder (hal/.../evt3_decoder.h, EVT3Decoder with its default
 * BasicCheckValidator), not its simplified standalone sample:
 * - words before the first EVT_TIME_HIGH are dropped (counted in details.wordsBeforeTimeHigh);
 * - EVT_TIME_LOW replaces the low 12 bits within the current TIME_HIGH; a TIME_HIGH with a new
 *   value resets them to 0, one repeating the current value keeps them;
 * - the 24-bit time loops every 2^24 us: a TIME_HIGH at least 2048 below the previous one (half
 *   the 12-bit range) starts a new loop and later times get another 2^24 us. There is no separate
 *   TIME_LOW overflow counter (the bug that inflates expelliarmus' timestamps by k * 4096 us);
 * - VECT_12 is decoded as the camera emits it, a 3-word unit VECT_12, VECT_12, VECT_8 holding a
 *   32-bit mask from the vector base; events come out in ascending x and the base advances by 32.
 *   A unit arriving with no VECT_BASE_X since the last invalid one, or whose base + 32 exceeds
 *   the sensor width, yields no events. A lone VECT_8 only updates state, as in OpenEB;
 * - an EVT_ADDR_Y at or beyond the sensor height (e.g. the system bit set) invalidates the CD
 *   events that follow it until the next EVT_ADDR_Y; y keeps all 12 bits when the height is unknown;
 * - OTHERS with subtype 0x014/0x016 (ERC counters) are 4-word units (OTHERS + 3 CONTINUED).
 * Units split across chunks are carried; input ending inside one is TRUNCATED.
 */
import type { EventBatch } from './batch.js';
import {
  PropheseeDecoderBase, checkEncodeEvent, checkEncodeGeometry, concatBytes, propheseeHeaderBytes,
  type PropheseeDecoderOptions, type PropheseeHeader,
} from './prophesee-header.js';

export type Evt3Options = PropheseeDecoderOptions;

const LOOP_US = 2 ** 24;
/** Reserved types per the Prophesee EVT 3.0 docs (bit i set = type i reserved). */
const RESERVED = (1 << 0x9) | (1 << 0xb) | (1 << 0xc);
const OTHERS_ERC_IN = 0x014;
const OTHERS_ERC_OUT = 0x016;

export class Evt3Decoder extends PropheseeDecoderBase {
  readonly format = 'evt3' as const;
  protected readonly wordBytes = 2;
  protected readonly maxUnitBytes = 8;
  private timeSet = false;
  /** Loops seen times 2^24 us. */
  private loopBase = 0;
  private high = 0;
  private low = 0;
  private yState = 0;
  /** 1 while CD events are accepted (last EVT_ADDR_Y below the height, no EM marker since). */
  private valid = 0;
  private vectBase = 0;
  private hasVectBase = false;
  /**
   * Sensor size; 65536 when unknown (above any 12-bit y or 16-bit vector x, and a small integer,
   * which keeps the hot loop's arithmetic in int32).
   */
  private width = 65536;
  private height = 65536;
  private beforeTimeHigh = 0;
  /**
   * Events per body byte used to size each write's output: the larger of the last write's ratio
   * and the stream's so far. Starts at 0.5, the most a stream without vector words can reach.
   */
  private ratio = 0.5;
  private seenBytes = 0;
  private seenEvents = 0;

  constructor(options: Evt3Options = {}) {
    super('evt3', options, false);
  }

  protected onHeader(h: PropheseeHeader): void {
    this.checkDeclared(h);
    if (h.width !== undefined && h.height !== undefined) {
      this.width = h.width;
      this.height = h.height;
    }
  }

  // The output is allocated per write and every slot of it is touched (decoded, or zeroed before
  // it is exposed), so slack costs as much as events: size it from the measured ratio with 5%
  // headroom. A write that needs more grows its output (a copy; real streams change their event
  // rate slowly, so that is rare at useful chunk sizes).
  protected estimateEvents(bytes: number): number {
    return Math.ceil(bytes * this.ratio * 1.05) + 64;
  }

  protected override syncDetails(): void {
    const d = this.info.details;
    d.wordsBeforeTimeHigh = this.beforeTimeHigh;
    d.timeLoops = this.loopBase / LOOP_US;
    const bytes = this.info.bytes - this.seenBytes;
    if (bytes >= 4096) {
      const events = this.info.events - this.seenEvents;
      this.ratio = Math.max(0.05, events / bytes, this.info.events / this.info.bytes);
      this.seenBytes = this.info.bytes;
      this.seenEvents = this.info.events;
    }
  }

  protected override unitName(carry: Uint8Array): string {
    if (carry.length >= 2) {
      const type = carry[1] >>> 4;
      if (type === 0x4) return 'VECT_12/VECT_12/VECT_8 vector unit';
      if (type === 0xe) return 'OTHERS + CONTINUED unit';
    }
    return '16-bit word';
  }

  // Hot loop, hand-written (it is the decoder): all state in int32 locals written back once per
  // call, no calls, no per-event allocation, one monomorphic store site per column and word kind.
  //
  // EVT_ADDR_X / EVT_ADDR_Y are ~85% of real words and come in short irregular runs (Y, a few X,
  // Y, ...), broken every dozen words by a TIME_LOW or a VECT_BASE_X + vector unit. Branching on X
  // versus Y mispredicts on about every other run, so runs are decoded without data-dependent
  // branches: every word stores a speculative event at slot n, which only an EVT_ADDR_X keeps
  // (n += 1), and an EVT_ADDR_Y selects its y with a mask. Words go two per iteration (one test
  // for both, stores sharing their typed-array checks), with the trip count bounded by the output
  // capacity so there is no per-event check, and only while CD events are valid: a y beyond the
  // height ends the run before its pair is stored. The pair that ends a run is finished by one
  // masked step (a no-op unless its first word is X/Y), so the other word types reach the dispatch
  // below directly, and a VECT_BASE_X falls straight into the vector unit after it.
  protected decodeBody(buf: ArrayBufferLike, byteOffset: number, byteLength: number, streamOffset: number): number {
    const nw = byteLength >>> 1;
    const words = new Uint16Array(buf, byteOffset, nw);
    let i = 0;
    if (!this.timeSet) {
      while (i < nw && words[i] >>> 12 !== 0x8) i++;
      this.beforeTimeHigh += i;
      this.info.skippedWords += i;
      if (i === nw) return nw << 1;
      // OpenEB starts from this TIME_HIGH with low = 0 and no loop.
      this.timeSet = true;
      this.high = words[i] & 0xfff;
      this.low = 0;
      i++;
    }
    const { t, x, y, p } = this.cols;
    const cap = t.length | 0;
    const strict = this.strict;
    const width = this.width | 0;
    const height = this.height | 0;
    let n = this.n | 0;
    let loopBase = this.loopBase;
    let high = this.high | 0;
    let low = this.low | 0;
    let tCur = loopBase + high * 4096 + low;
    let yCur = this.yState | 0;
    let valid = this.valid | 0;
    let vectBase = this.vectBase | 0;
    let hasVectBase = this.hasVectBase;
    let skipped = 0;
    // A word of type 0x0 or 0x2 is an EVT_ADDR_Y at or beyond the height exactly when
    // w - height < yOut as unsigned numbers (EVT_ADDR_X words are >= 0x2000).
    const yOut = height < 0x2000 ? 0x2000 - height : 0;
    while (i < nw) {
      if (valid !== 0) {
        // CD events are valid for the whole run, so X words count without a mask. At most two
        // events per pair: this many pairs always fit the output.
        const pairEnd = Math.min(nw - 1, i + ((cap - n) & ~1));
        for (; i < pairEnd; i += 2) {
          const w0 = words[i];
          const w1 = words[i + 1];
          // Leave the run at a word of another type (bit 15, 14 or 12 set) or an out-of-range y.
          if (((w0 | w1) & 0xd000) !== 0 || (w0 - height) >>> 0 < yOut || (w1 - height) >>> 0 < yOut) break;
          const x0 = w0 >>> 13; // 1 for EVT_ADDR_X, 0 for EVT_ADDR_Y
          t[n] = tCur;
          x[n] = w0 & 0x7ff;
          y[n] = yCur;
          p[n] = (w0 >>> 11) & 1;
          n += x0;
          const m0 = x0 - 1; // all ones for EVT_ADDR_Y
          yCur = (yCur & ~m0) | (w0 & m0);
          const x1 = w1 >>> 13;
          t[n] = tCur;
          x[n] = w1 & 0x7ff;
          y[n] = yCur;
          p[n] = (w1 >>> 11) & 1;
          n += x1;
          const m1 = x1 - 1;
          yCur = (yCur & ~m1) | (w1 & m1);
        }
      }
      if (i >= nw) break;
      let w = words[i];
      if (n < cap) {
        // The masked step: consumes w if it is EVT_ADDR_X/Y, else changes nothing.
        const xy = ((w & 0xd000) - 1) >>> 31; // 1 when the type is 0x0 or 0x2
        const xw = (w >>> 13) & xy;
        t[n] = tCur;
        x[n] = w & 0x7ff;
        y[n] = yCur;
        p[n] = (w >>> 11) & 1;
        n += xw & valid;
        skipped += xw & (valid ^ 1);
        const m = -(xy & (xw ^ 1));
        yCur = (yCur & ~m) | (w & m);
        valid = (valid & ~m) | (((yCur - height) >>> 31) & m);
        i += xy;
        if (i >= nw) break;
        w = words[i];
      }
      let type = w >>> 12;
      if (type === 0x3) {
        vectBase = w & 0xfff;
        hasVectBase = true;
        if (++i >= nw) break;
        w = words[i];
        type = w >>> 12;
      }
      if (type === 0x4) {
        if (i + 2 >= nw) break;
        if (valid === 0) {
          skipped += 3;
        } else {
          const bx = vectBase & 0xf7ff;
          if (hasVectBase && bx + 32 <= width) {
            if (n + 32 > cap) {
              this.needMore = true;
              break;
            }
            let mask = (w & 0xfff) | ((words[i + 1] & 0xfff) << 12) | ((words[i + 2] & 0xff) << 24);
            const pol = (vectBase >>> 11) & 1;
            while (mask !== 0) {
              t[n] = tCur;
              x[n] = bx + 31 - Math.clz32(mask & -mask);
              y[n] = yCur;
              p[n] = pol;
              n++;
              mask &= mask - 1;
            }
          } else {
            hasVectBase = false;
          }
          vectBase = (vectBase + 32) & 0xffff;
        }
        i += 2;
      } else if (type === 0x6) {
        low = w & 0xfff;
        tCur = loopBase + high * 4096 + low;
      } else if (type === 0x2) {
        // X/Y words reach here only at the end of the input or of the output.
        if (valid !== 0) {
          if (n >= cap) {
            this.needMore = true;
            break;
          }
          t[n] = tCur;
          x[n] = w & 0x7ff;
          y[n] = yCur;
          p[n] = (w >>> 11) & 1;
          n++;
        } else {
          skipped++;
        }
      } else if (type === 0x0) {
        yCur = w & 0xfff;
        valid = yCur < height ? 1 : 0;
      } else if (type === 0x3) {
        // A second VECT_BASE_X in a row: take it on the next pass.
        continue;
      } else if (type === 0x8) {
        const th = w & 0xfff;
        if (high >= th + 2048) loopBase += LOOP_US;
        if (high !== th) {
          low = 0;
          high = th;
        }
        tCur = loopBase + high * 4096 + low;
      } else if (type === 0xe) {
        const sub = w & 0xfff;
        if (sub === OTHERS_ERC_IN || sub === OTHERS_ERC_OUT) {
          if (i + 3 >= nw) break;
          skipped += 4;
          i += 3;
        } else {
          skipped++;
        }
      } else if (type === 0x1) {
        // EM_ADDR_Y: the events that follow are not CD events.
        valid = 0;
        skipped++;
      } else {
        if (strict && ((RESERVED >>> type) & 1) !== 0) {
          this.fault = { offset: streamOffset + i * 2, reason: `reserved EVT 3.0 word type 0x${type.toString(16)}` };
          break;
        }
        skipped++;
      }
      i++;
    }
    this.n = n;
    this.loopBase = loopBase;
    this.high = high;
    this.low = low;
    this.yState = yCur;
    this.valid = valid;
    this.vectBase = vectBase;
    this.hasVectBase = hasVectBase;
    this.info.skippedWords += skipped;
    return i << 1;
  }
}

export interface Evt3EncodeOptions {
  /** Sensor size written to the header; every event must lie inside it (at most 2048 each). */
  readonly width: number;
  readonly height: number;
}

/**
 * Streaming EVT 3.0 encoder mirroring Evt3Decoder's state, so decode(encode(x)) == x for every
 * batch it accepts. Compact: a state word is written only when its value changes (EVT_ADDR_Y,
 * TIME_HIGH, TIME_LOW, VECT_BASE_X), and a run of consecutive events with the same t, y and p and
 * increasing x within a 32-pixel window becomes one VECT_12/VECT_12/VECT_8 unit (3 words, 4 with
 * its VECT_BASE_X) whenever that is shorter than one EVT_ADDR_X per event. Loop crossings (2^24 us)
 * are walked with extra TIME_HIGH words. It rejects (RangeError): events outside the geometry,
 * polarity other than 0/1, t that is not an integer in [0, 2^40), t moving back into an earlier
 * 2^24 us loop, and a backward step inside a loop of 2048 or more TIME_HIGH units (>= ~8.4 s,
 * which the decoder reads as a loop).
 */
export class Evt3Encoder {
  private headerDone = false;
  private started = false;
  private loop = 0;
  private high = 0;
  private low = 0;
  private yKnown = false;
  private yState = 0;
  /** Decoder's VECT_BASE_X state (base x | polarity << 11, advanced by 32 per vector unit). */
  private vectState = 0;
  private hasVectBase = false;
  private words = new Uint16Array(4096);
  private nw = 0;

  constructor(private readonly options: Evt3EncodeOptions) {
    checkEncodeGeometry('EVT 3.0', options.width, options.height, 2048);
  }

  write(b: EventBatch): Uint8Array {
    const { width, height } = this.options;
    const n = b.t.length;
    this.nw = 0;
    let i = 0;
    while (i < n) {
      checkEncodeEvent('EVT 3.0', b, i, width, height);
      const t = b.t[i];
      const yy = b.y[i];
      const pp = b.p[i];
      this.moveTime(t, i);
      if (!this.yKnown || this.yState !== yy) {
        this.push(yy);
        this.yKnown = true;
        this.yState = yy;
      }
      // The longest run vectorisable from event i.
      let j = i + 1;
      let mask = 0;
      let base = -1;
      if (width >= 32) {
        base = Math.min(b.x[i], width - 32);
        mask = 1 << (b.x[i] - base);
        let last = b.x[i];
        while (j < n && b.t[j] === t && b.y[j] === yy && b.p[j] === pp && b.x[j] > last && b.x[j] < base + 32) {
          last = b.x[j];
          mask |= 1 << (last - base);
          j++;
        }
      }
      const count = j - i;
      const baseWord = (base | (pp << 11)) & 0xffff;
      const needBase = !this.hasVectBase || this.vectState !== baseWord;
      if (base >= 0 && count > (needBase ? 4 : 3)) {
        for (let k = i + 1; k < j; k++) checkEncodeEvent('EVT 3.0', b, k, width, height);
        if (needBase) {
          this.push(0x3000 | baseWord);
          this.vectState = baseWord;
          this.hasVectBase = true;
        }
        this.push(0x4000 | (mask & 0xfff));
        this.push(0x4000 | ((mask >>> 12) & 0xfff));
        this.push(0x5000 | ((mask >>> 24) & 0xff));
        this.vectState = (this.vectState + 32) & 0xffff;
        i = j;
      } else {
        this.push(0x2000 | (pp << 11) | b.x[i]);
        i++;
      }
    }
    const body = new Uint8Array(this.words.buffer, 0, this.nw * 2).slice();
    if (this.headerDone) return body;
    this.headerDone = true;
    return concatBytes([propheseeHeaderBytes([
      'evt 3.0', `format EVT3;height=${height};width=${width}`, `geometry ${width}x${height}`, 'end',
    ]), body]);
  }

  end(): Uint8Array {
    return this.write({ t: new Float64Array(0), x: new Uint16Array(0), y: new Uint16Array(0), p: new Uint8Array(0) });
  }

  private push(w: number): void {
    if (this.nw === this.words.length) {
      const next = new Uint16Array(this.words.length * 2);
      next.set(this.words);
      this.words = next;
    }
    this.words[this.nw++] = w;
  }

  /** Emits a TIME_HIGH and updates the mirrored state exactly as Evt3Decoder does. */
  private timeHigh(v: number): void {
    this.push(0x8000 | v);
    if (!this.started) {
      this.started = true;
      this.high = v;
      this.low = 0;
      return;
    }
    if (this.high >= v + 2048) this.loop++;
    if (this.high !== v) {
      this.low = 0;
      this.high = v;
    }
  }

  private moveTime(t: number, i: number): void {
    const loop = Math.floor(t / LOOP_US);
    const high = Math.floor(t / 4096) % 4096;
    const low = t % 4096;
    if (!this.started) this.timeHigh(loop === 0 ? high : 4095);
    if (loop < this.loop) {
      throw new RangeError(`EVT 3.0 encoder: event ${i} (t=${t}) steps back into an earlier 2^24 us time loop`);
    }
    while (this.loop < loop) {
      const next = this.loop + 1 === loop ? high : 0;
      if (this.high < next + 2048) {
        // The decoder would not see a loop yet: go to the top of this loop first.
        if (this.high !== 4095) this.timeHigh(4095);
        if (next > 2047) {
          this.timeHigh(0);
          continue;
        }
      }
      this.timeHigh(next);
    }
    if (high !== this.high) {
      if (this.high >= high + 2048) {
        throw new RangeError(`EVT 3.0 encoder: event ${i} (t=${t}) steps back by ${this.high - high} TIME_HIGH units (>= 2048), which the format reads as a time loop`);
      }
      this.timeHigh(high);
    }
    if (low !== this.low) {
      this.push(0x6000 | low);
      this.low = low;
    }
  }
}

/** Encodes a whole batch as an EVT 3.0 RAW file (header + body). See Evt3Encoder for what it rejects. */
export function encodeEvt3(b: EventBatch, options: Evt3EncodeOptions): Uint8Array {
  return new Evt3Encoder(options).write(b);
}
