/**
 * Class scores as horizontal bars (plain DOM: crisp text, CSS transitions, easy to inspect).
 * Bars span the scores' range: from 0 to the largest score when none is negative (spike counts),
 * else from the smallest to the largest (membrane readouts go negative), so a longer bar is always
 * a higher score. The predicted class is highlighted. Models with many
 * classes show the top MAX_ROWS by score.
 */
import { formatCount } from './format.js';

const MAX_ROWS = 16;

export class ScoreBars {
  private rows: { row: HTMLElement; fill: HTMLElement; value: HTMLElement; name: HTMLElement }[] = [];
  private labels: readonly string[] = [];

  constructor(private readonly root: HTMLElement) {}

  setLabels(labels: readonly string[]): void {
    this.labels = labels;
    this.root.replaceChildren();
    this.rows = [];
    const n = Math.min(labels.length, MAX_ROWS);
    for (let i = 0; i < n; i++) {
      const row = el('div', 'score-row');
      const name = el('span', 'score-label');
      const track = el('div', 'score-track');
      const fill = el('div', 'score-fill');
      const value = el('span', 'score-value');
      track.append(fill);
      row.append(name, track, value);
      this.root.append(row);
      this.rows.push({ row, fill, value, name });
    }
    this.show(null, -1);
  }

  /** Shows `scores` (null: none yet) with `top` highlighted. */
  show(scores: readonly number[] | null, top: number): void {
    const n = this.labels.length;
    let order = Array.from({ length: n }, (_, i) => i);
    if (scores && n > MAX_ROWS) order = order.sort((a, b) => (scores[b] ?? 0) - (scores[a] ?? 0)).slice(0, MAX_ROWS);
    let max = 0;
    let min = 0;
    if (scores) {
      for (const s of scores) {
        max = Math.max(max, s);
        min = Math.min(min, s);
      }
    }
    const span = max - min;
    this.rows.forEach((r, slot) => {
      const i = order[slot];
      const s = scores ? (scores[i] ?? 0) : 0;
      r.name.textContent = this.labels[i] ?? String(i);
      r.fill.style.width = `${span > 0 ? (100 * (s - min)) / span : 0}%`;
      r.value.textContent = scores ? formatCount(s) : '';
      r.row.classList.toggle('top', i === top);
      r.row.dataset.index = String(i);
    });
  }
}

function el(tag: string, cls: string): HTMLElement {
  const e = document.createElement(tag);
  e.className = cls;
  return e;
}
