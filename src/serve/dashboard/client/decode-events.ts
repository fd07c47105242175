/** The feed's event payload (base64: x u16 LE * k, y u16 LE * k, p u8 * k) as typed arrays. */
export interface DecodedEvents {
  readonly x: Uint16Array;
  readonly y: Uint16Array;
  readonly p: Uint8Array;
}

export function decodeEvents(data: string, kept: number): DecodedEvents {
  const x = new Uint16Array(kept);
  const y = new Uint16Array(kept);
  const p = new Uint8Array(kept);
  if (kept === 0) return { x, y, p };
  const bin = atob(data);
  if (bin.length !== 5 * kept) throw new Error(`feed: ${kept} events need ${5 * kept} bytes, got ${bin.length}`);
  for (let i = 0; i < kept; i++) {
    x[i] = bin.charCodeAt(2 * i) | (bin.charCodeAt(2 * i + 1) << 8);
    const j = 2 * (kept + i);
    y[i] = bin.charCodeAt(j) | (bin.charCodeAt(j + 1) << 8);
    p[i] = bin.charCodeAt(4 * kept + i);
  }
  return { x, y, p };
}
