/**
 * The IOHeader's infoNode XML, as DV writes it:
 *   <dv version="2.0"><node name="outInfo" path="/mainloop/Recorder/outInfo/">
 *     <node name="0" path=".../outInfo/0/"><attr key="typeIdentifier" type="string">EVTS</attr>
 *       <node name="info" path=".../outInfo/0/info/"><attr key="sizeX" type="int">320</attr>...
 * Each `outInfo/<id>/` node is a stream whose packets carry that id. A tolerant scan, not a full
 * XML parser: it only needs node paths and attr values.
 */

export interface Aedat4Stream {
  readonly id: number;
  /** Four-character flatbuffer identifier of its packets, e.g. "EVTS", "FRME", "IMUS", "TRIG". */
  readonly type: string;
  readonly sizeX?: number;
  readonly sizeY?: number;
  readonly source?: string;
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };
const unescape = (s: string): string => s.replace(/&(amp|lt|gt|quot|apos);/g, (_, e: string) => ENTITIES[e]);

/** Streams declared by the infoNode XML, ordered by id. */
export function parseInfoNode(xml: string): Aedat4Stream[] {
  const attrs = new Map<string, Map<string, string>>();
  const stack: string[] = [];
  const re = /<node\b[^>]*?\bpath="([^"]*)"[^>]*?(\/?)>|<\/node\s*>|<attr\b[^>]*?\bkey="([^"]*)"[^>]*>([^<]*)<\/attr\s*>/g;
  for (let m = re.exec(xml); m; m = re.exec(xml)) {
    if (m[1] !== undefined) {
      if (m[2] !== '/') stack.push(unescape(m[1]));
    } else if (m[3] !== undefined) {
      const path = stack[stack.length - 1] ?? '';
      let a = attrs.get(path);
      if (!a) attrs.set(path, (a = new Map()));
      a.set(unescape(m[3]), unescape(m[4]).trim());
    } else {
      stack.pop();
    }
  }
  const streams: Aedat4Stream[] = [];
  for (const [path, a] of attrs) {
    const m = /\/outInfo\/(\d+)\/$/.exec(path);
    const type = a.get('typeIdentifier');
    if (!m || type === undefined) continue;
    const info = attrs.get(`${path}info/`);
    const int = (k: string): number | undefined => {
      const v = info?.get(k);
      return v !== undefined && /^\d+$/.test(v) ? Number(v) : undefined;
    };
    streams.push({ id: Number(m[1]), type, sizeX: int('sizeX'), sizeY: int('sizeY'), source: info?.get('source') });
  }
  return streams.sort((a, b) => a.id - b.id);
}
