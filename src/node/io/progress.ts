/**
 * Progress for long loops: a live bar (step, loss, accuracy, ETA) on a terminal, and a plain line
 * every ~10% when stderr is not a terminal (CI logs, pipes), so logs stay readable.
 */
import cliProgress from 'cli-progress';

export interface Progress {
  /**
   * `step` may be fractional (a share of a block of examples done, from an attack's iterations):
   * it is shown rounded down, and it counts toward the ETA and the ~10% lines as it is.
   */
  update(step: number, values: Record<string, number>): void;
  stop(): void;
}

/**
 * `from`: the steps a resumed run had done before this process started; the bar starts there, and
 * the ETA counts only the steps done since (else a run resumed at half would promise the rest in
 * the time the first steps took).
 */
export function progress(label: string, total: number, quiet = false, from = 0): Progress {
  if (quiet) return { update() {}, stop() {} };
  if (process.stderr.isTTY) {
    const bar = new cliProgress.SingleBar(
      {
        format: `${label} [{bar}] {value}/{total}{metrics} | ETA {eta_formatted}`,
        stream: process.stderr,
        hideCursor: true,
        etaBuffer: 50,
      },
      cliProgress.Presets.shades_classic,
    );
    bar.start(total, from, { metrics: '' });
    return {
      update: (step, values) => bar.update(Math.floor(step), { metrics: formatValues(values) }),
      stop: () => bar.stop(),
    };
  }
  const start = performance.now();
  let lastTenth = -1;
  let lastStep = -1;
  return {
    update(step, values) {
      const tenth = Math.floor((10 * step) / total);
      // A line per tenth, and the last; never the same step twice (a block's end after its attack's).
      if ((tenth === lastTenth && step !== total) || step === lastStep) return;
      lastTenth = tenth;
      lastStep = step;
      const elapsed = (performance.now() - start) / 1000;
      const eta = step > from ? (elapsed * (total - step)) / (step - from) : 0;
      process.stderr.write(`${label} ${Math.floor(step)}/${total}${formatValues(values)} | ETA ${eta.toFixed(0)}s\n`);
    },
    stop() {},
  };
}

function formatValues(values: Record<string, number>): string {
  return Object.entries(values)
    .map(([k, v]) => ` | ${k} ${Math.abs(v) < 10 ? v.toFixed(4) : v.toFixed(1)}`)
    .join('');
}

/** A progress callback: `done` of `total` (examples, messages, blocks) finished so far; `done` may be fractional (see Progress.update). */
export type OnProgress = (done: number, total: number) => void;

/**
 * A bar for a loop that reports (done, total) through an OnProgress: opened at the first report
 * (with its total, so also a 0/total line when stderr is not a terminal), reopened when the total
 * changes; stop() closes it. Quiet: nothing.
 */
export function progressCounter(label: string, quiet = false): { update: OnProgress; stop(): void } {
  let bar: Progress | undefined;
  let total = -1;
  return {
    update(done, n) {
      if (quiet) return;
      if (!bar || n !== total) {
        bar?.stop();
        bar = progress(label, n);
        total = n;
      }
      bar.update(done, {});
    },
    stop() {
      bar?.stop();
      bar = undefined;
      total = -1;
    },
  };
}
