/** Classification metrics from labels and predictions (pure). */

export interface ClassificationMetrics {
  readonly samples: number;
  readonly accuracy: number;
  /** Per class: correct / samples of that class (null when the class has no samples). */
  readonly perClass: (number | null)[];
  /** confusion[true][predicted]. */
  readonly confusion: number[][];
}

export function classificationMetrics(labels: ArrayLike<number>, predictions: ArrayLike<number>, classes: number): ClassificationMetrics {
  const confusion = Array.from({ length: classes }, () => new Array<number>(classes).fill(0));
  let correct = 0;
  for (let i = 0; i < labels.length; i++) {
    const l = labels[i];
    const p = predictions[i];
    if (l === p) correct++;
    if (l >= 0 && l < classes && p >= 0 && p < classes) confusion[l][p]++;
  }
  const perClass = confusion.map((row, c) => {
    const n = row.reduce((a, b) => a + b, 0);
    return n === 0 ? null : row[c] / n;
  });
  return { samples: labels.length, accuracy: labels.length === 0 ? 0 : correct / labels.length, perClass, confusion };
}

/** Index of the largest value, ties to the lowest index (the engines' argmax). */
export function argmaxRow(values: ArrayLike<number>, offset: number, n: number): number {
  let best = 0;
  for (let k = 1; k < n; k++) if (values[offset + k] > values[offset + best]) best = k;
  return best;
}
