/**
 * The last final predictions (one per sample or stream segment) as chips, each marked right or
 * wrong when the demo knows the truth, with the running count of right ones.
 */
import type { FeedFinal } from './feed-message.js';

const MAX_CHIPS = 14;

export class HistoryStrip {
  private items: FeedFinal[] = [];
  private right = 0;
  private judged = 0;

  constructor(private readonly root: HTMLElement, private readonly summary: HTMLElement) {}

  clear(): void {
    this.items = [];
    this.right = 0;
    this.judged = 0;
    this.render();
  }

  add(finals: readonly FeedFinal[]): void {
    if (finals.length === 0) return;
    for (const f of finals) {
      this.items.push(f);
      if (f.truth !== undefined) {
        this.judged++;
        if (f.truth === f.label) this.right++;
      }
    }
    if (this.items.length > MAX_CHIPS) this.items.splice(0, this.items.length - MAX_CHIPS);
    this.render();
  }

  private render(): void {
    const chips = this.items.map((f) => {
      const c = document.createElement('span');
      const ok = f.truth === undefined ? undefined : f.truth === f.label;
      c.className = `chip${ok === undefined ? '' : ok ? ' right' : ' wrong'}`;
      c.textContent = f.label || '–';
      if (f.truth !== undefined) {
        const t = document.createElement('small');
        t.textContent = ok ? '✓' : `≠${f.truth}`;
        c.append(t);
      }
      c.title = f.truth === undefined ? `prediction #${f.seq}: ${f.label}` : `prediction #${f.seq}: ${f.label}; the recording is ${f.truth}`;
      return c;
    });
    this.root.replaceChildren(...chips);
    if (chips.length === 0) {
      const empty = document.createElement('span');
      empty.className = 'muted';
      empty.textContent = 'none yet';
      this.root.append(empty);
    }
    this.summary.textContent = this.judged > 0 ? `${this.right} of ${this.judged} right since you opened the page` : '';
  }
}
