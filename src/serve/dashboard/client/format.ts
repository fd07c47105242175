/** Numbers as the dashboard shows them: short, fixed width where it matters, never NaN. */

/** 1234 -> "1.23k", 12_345_678 -> "12.3M". */
export function formatCount(n: number): string {
  if (!Number.isFinite(n)) return '–';
  const a = Math.abs(n);
  if (a < 1000) return a < 10 && !Number.isInteger(n) ? n.toFixed(1) : String(Math.round(n));
  const units: [number, string][] = [[1e9, 'G'], [1e6, 'M'], [1e3, 'k']];
  for (const [u, s] of units) {
    if (a >= u) {
      const v = n / u;
      return `${Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 10 ? v.toFixed(1) : v.toFixed(2)}${s}`;
    }
  }
  return String(n);
}

/** Milliseconds with two significant decimals below 10 ms. */
export function formatMs(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '–';
  if (ms < 1) return `${ms.toFixed(2)} ms`;
  if (ms < 10) return `${ms.toFixed(1)} ms`;
  return `${Math.round(ms)} ms`;
}

/** Event time in microseconds as a readable span: "100 ms", "1.5 s". */
export function formatUs(us: number): string {
  if (!Number.isFinite(us)) return '–';
  if (us < 1000) return `${Math.round(us)} µs`;
  if (us < 1_000_000) return `${+(us / 1000).toFixed(1)} ms`;
  return `${+(us / 1_000_000).toFixed(2)} s`;
}

export function formatPercent(f: number): string {
  return Number.isFinite(f) ? `${Math.round(f * 100)}%` : '–';
}
