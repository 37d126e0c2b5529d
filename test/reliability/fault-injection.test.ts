/**
 * Fault injection: every long command is killed with SIGKILL at random (seeded) moments — while
 * it starts, trains, writes a checkpoint or a report — and continued each time, until it finishes.
 * The end must equal an uninterrupted run: the same files, the same weights byte for byte, no
 * temporary file left behind, no lock left held.
 *
 * - train, adapt and gan train continue with --resume (each kill loses at most the work since the
 *   last checkpoint);
 * - attack and robustness have nothing to resume: they are run again into the same folder, which
 *   they may overwrite since they made it; their results must equal the uninterrupted run's.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { Rng } from '../../src/core/rng.ts';
import { RUN_LOCK } from '../../src/node/runs/folder.ts';
import { advx, advxAsync } from '../helpers/cli.ts';
import { tried } from '../helpers/tried.ts';

const tmp = mkdtempSync(join(tmpdir(), 'advx-fault-injection-'));
/** The kill moments are seeded; ADVX_FAULT_SEED=n draws others (to search for faults beyond the suite's). */
const SEED = Number(process.env.ADVX_FAULT_SEED ?? 0);

/** Every file under `dir`, relative to it. */
function files(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else out.push(relative(dir, p));
    }
  };
  walk(dir);
  return out.sort();
}

/** Starts `args`, kills it with SIGKILL after `ms` unless it ends first; resolves whether it was killed. */
async function runAndKill(args: string[], ms: number): Promise<boolean> {
  const child = advxAsync(args);
  let stderr = '';
  child.stderr?.on('data', (d) => (stderr += d));
  const timer = setTimeout(() => child.kill('SIGKILL'), ms);
  const [code, signal] = await new Promise<[number | null, string | null]>((r) => child.once('exit', (c, s) => r([c, s])));
  clearTimeout(timer);
  if (signal === 'SIGKILL') return true;
  assert.equal(code, 0, `advx ${args.join(' ')} failed after an earlier kill:\n${stderr}`);
  return false;
}

interface Case {
  label: string;
  args: string[];
  /** How a killed run is continued: with --resume, or by running the same command again. */
  resume: boolean;
  /** Files that must be equal byte for byte. */
  same: string[];
  /** JSON files whose content must be equal once timings are dropped. */
  sameJson?: string[];
}

const CASES: Case[] = [
  {
    label: 'train',
    args: ['train', '--model', 'mlp', '--data', 'mnist', '--limit', '300', '--epochs', '4', '--batch', '16', '--seed', '4', '--quiet'],
    resume: true,
    same: ['model/weights.bin', 'checkpoint/model/weights.bin', 'checkpoint/optimizer.bin'],
  },
  {
    label: 'adapt',
    args: ['adapt', '--method', 'dann', '--epochs', '3', '--limit', '128', '--target-limit', '128', '--test-limit', '100', '--batch', '12', '--embed', '30', '--no-tsne', '--seed', '3', '--quiet'],
    resume: true,
    same: ['model/weights.bin', 'checkpoint/weights.bin', 'checkpoint/optimizer.bin'],
  },
  {
    label: 'gan',
    args: ['gan', 'train', '--steps', '12', '--width', '8', '--batch', '16', '--limit', '200', '--seed', '5', '--checkpoint-every', '3', '--sample-every', '4', '--quiet'],
    resume: true,
    same: ['model/weights.bin', 'checkpoint/weights.bin', 'checkpoint/optimizer.bin'],
  },
  {
    label: 'attack',
    args: ['attack', '--model', 'models/mnist-cnn', '--attack', 'pgd', '--limit', '24', '--images', '3', '--seed', '2'],
    resume: false,
    same: [],
    sameJson: ['results.json'],
  },
  {
    label: 'robustness',
    args: ['robustness', '--model', 'models/mnist-cnn', '--attacks', 'fgsm,pgd', '--eps', '0.1,0.3', '--limit', '24', '--seed', '2'],
    resume: false,
    same: [],
    sameJson: ['results.json'],
  },
];

/** A JSON file with every timing (a key named seconds, ms or time, or ending so) removed. */
function withoutTimings(path: string): unknown {
  return JSON.parse(readFileSync(path, 'utf8'), (key, value) => (/(^|_)(seconds|ms|time|date|elapsed)$/i.test(key) ? undefined : value));
}

for (const c of CASES) {
  test(`advx ${c.label} killed with SIGKILL at random moments and continued ends as an uninterrupted run`, async (t) => {
    const straight = join(tmp, `${c.label}-straight`);
    const t0 = performance.now();
    const r = advx([...c.args, '--out', straight]);
    assert.equal(r.status, 0, r.stderr);
    const duration = performance.now() - t0;

    const killed = join(tmp, `${c.label}-killed`);
    const rng = new Rng([...c.label].reduce((h, ch) => h * 31 + ch.charCodeAt(0), 7) + 1_000_003 * SEED);
    const moments: number[] = [];
    // Up to six kills, each at a random moment of what an uninterrupted run takes (start-up
    // included, so some land before the folder exists, some inside a checkpoint or a report).
    const args = () => [...c.args, '--out', killed, ...(c.resume && moments.length > 0 ? ['--resume'] : [])];
    for (let k = 0; k < 6; k++) {
      let ms = Math.round((0.1 + 0.8 * rng.next()) * duration);
      let wasKilled = await runAndKill(args(), ms);
      // The machine's load varies: a first run that finished before its kill starts over, killed sooner.
      while (!wasKilled && moments.length === 0 && ms > 200) {
        rmSync(killed, { recursive: true, force: true });
        ms = Math.round(ms / 2);
        wasKilled = await runAndKill(args(), ms);
      }
      if (!wasKilled) break;
      moments.push(ms);
    }
    const last = advx([...c.args, '--out', killed, ...(c.resume ? ['--resume'] : [])]);
    assert.equal(last.status, 0, `after kills at ${moments.join(', ')} ms: ${last.stderr}`);
    assert.ok(moments.length >= 1, 'no kill landed before the command finished');

    const context = `(killed at ${moments.join(', ')} ms of a ${Math.round(duration)} ms run)`;
    t.diagnostic(`seed ${SEED}: ${moments.length} kill(s) at ${moments.join(', ')} ms of a ${Math.round(duration)} ms run`);
    assert.ok(!existsSync(join(killed, RUN_LOCK)), `the lock is still held ${context}`);
    assert.deepEqual(files(killed), files(straight), `the files differ from an uninterrupted run's ${context}`);
    for (const f of c.same) assert.ok(readFileSync(join(killed, f)).equals(readFileSync(join(straight, f))), `${f} differs ${context}`);
    for (const f of c.sameJson ?? []) assert.deepEqual(withoutTimings(join(killed, f)), withoutTimings(join(straight, f)), `${f} differs ${context}`);
    tried('killed run', moments.length);
  });
}
