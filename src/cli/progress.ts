/**
 * Progress for long work: a bar on a TTY (cli-progress), plain lines otherwise (at most one per
 * 10% so logs stay readable).
 */
import cliProgress from 'cli-progress';

export interface Progress {
  update(done: number, extra?: string): void;
  stop(): void;
}

export function createProgress(label: string, total: number, stream: NodeJS.WriteStream = process.stderr): Progress {
  if (stream.isTTY && total > 0) {
    const bar = new cliProgress.SingleBar({
      stream, format: `${label} [{bar}] {percentage}% {value}/{total} {extra}`, hideCursor: true, clearOnComplete: true,
    }, cliProgress.Presets.shades_classic);
    bar.start(total, 0, { extra: '' });
    return { update: (d, extra = '') => bar.update(d, { extra }), stop: () => bar.stop() };
  }
  let nextTenth = 1;
  return {
    update(done, extra) {
      if (total <= 0) return;
      const tenth = Math.floor((10 * done) / total);
      if (tenth >= nextTenth && done < total) {
        stream.write(`${label}: ${tenth * 10}%${extra ? ` ${extra}` : ''}\n`);
        nextTenth = tenth + 1;
      }
    },
    stop() {},
  };
}
