/**
 * `npm run train:models`: trains the shipped models with the CLI, checks them with `advx evaluate`,
 * copies them to models/, and rewrites the accuracy table in RESULTS.md. Re-running resumes
 * unfinished runs (runs/models/<name>).
 *
 * A run longer than one working session (the PGD- and TRADES-trained models: hours on 2 cores) can be parked
 * with `--park`: its run folder (checkpoint, metrics, config) is copied to training/<name>/, which
 * is committed; a later run on a fresh clone starts from it and resumes exactly, and the parked
 * copy is removed once the model is finished.
 *
 *   npm run train:models -- [--only mnist-cnn,fashion-cnn] [--park mnist-robust,mnist-trades]
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, readFileSync, rmSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { writeFileAtomic } from '../src/node/io/files.ts';
import { replaceSection } from './sections.ts';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const bin = join(root, 'bin/advx.js');

/** The recipes of the shipped models. */
const RECIPES: Record<string, { data: string; args: string[] }> = {
  'mnist-cnn': { data: 'mnist', args: ['--model', 'cnn', '--epochs', '10', '--shift', '2', '--lr', '1e-3', '--lr-decay', '0.8', '--seed', '1'] },
  // Madry et al.'s PGD training, started from the undefended CNN (dropout left out: it costs
  // capacity, which robustness needs); ε grows to 0.3 over the first two epochs.
  'mnist-robust': {
    data: 'mnist',
    args: ['--model', 'cnn', '--no-dropout', '--init', 'models/mnist-cnn', '--adv', 'pgd', '--adv-eps', '0.3', '--adv-steps', '10', '--adv-alpha', '0.05', '--adv-ramp', '2', '--epochs', '16', '--lr', '5e-4', '--lr-decay', '0.85', '--seed', '1'],
  },
  // TRADES (Zhang et al. 2019) at β 6 in mnist-robust's setting (network, start, ε ramp, schedule,
  // seed, and its inner attack of 10 sign steps of 0.05), so that the two models differ only in
  // the training objective. The reference's MNIST search (40 steps of 0.01) costs ~3× as much per
  // batch (measured on 1 thread: ~2.5 s against ~0.8 s; the PGD setting ~0.8 s).
  'mnist-trades': {
    data: 'mnist',
    args: ['--model', 'cnn', '--no-dropout', '--init', 'models/mnist-cnn', '--adv', 'trades', '--trades-beta', '6', '--adv-eps', '0.3', '--adv-steps', '10', '--adv-alpha', '0.05', '--adv-ramp', '2', '--epochs', '16', '--lr', '5e-4', '--lr-decay', '0.85', '--seed', '1'],
  },
  'fashion-cnn': { data: 'fashion-mnist', args: ['--model', 'cnn', '--epochs', '15', '--lr', '1e-3', '--lr-decay', '0.9', '--seed', '1'] },
};

const { values } = parseArgs({ options: { only: { type: 'string' }, threads: { type: 'string' }, park: { type: 'string' } } });

if (values.park) {
  // Parks the named unfinished runs and stops: the checkpoint is whole (written by rename), so a
  // copy taken while training runs is consistent.
  for (const name of values.park.split(',')) {
    const runDir = join(root, 'runs/models', name);
    if (!existsSync(join(runDir, 'checkpoint', 'state.json'))) throw new Error(`nothing to park: ${runDir} has no checkpoint`);
    const parked = join(root, 'training', name);
    rmSync(parked, { recursive: true, force: true });
    for (const part of ['config.json', 'metrics.jsonl', 'checkpoint']) cpSync(join(runDir, part), join(parked, part), { recursive: true });
    process.stdout.write(`parked ${runDir} after epoch ${JSON.parse(readFileSync(join(parked, 'checkpoint', 'state.json'), 'utf8')).epoch} in ${parked}\n`);
  }
  process.exit(0);
}
const names = values.only ? values.only.split(',') : Object.keys(RECIPES);

function run(args: string[]): string {
  const r = spawnSync(process.execPath, [bin, ...args], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  if (r.status !== 0) throw new Error(`advx ${args.join(' ')} failed (exit ${r.status})`);
  return r.stdout;
}

const lastJson = (s: string) => JSON.parse(s.trim().split('\n').at(-1)!);

for (const name of names) {
  const recipe = RECIPES[name];
  if (!recipe) throw new Error(`unknown model "${name}": ${Object.keys(RECIPES).join(', ')}`);
  const runDir = join(root, 'runs/models', name);
  const parked = join(root, 'training', name);
  if (!existsSync(join(runDir, 'checkpoint')) && existsSync(join(parked, 'checkpoint'))) cpSync(parked, runDir, { recursive: true });
  const threads = values.threads ? ['--threads', values.threads] : [];
  const trainArgs = ['train', '--data', recipe.data, ...recipe.args, ...threads, '--out', runDir, '--json', '--resume'];
  const summary = lastJson(run(trainArgs));
  const evaluation = lastJson(run(['evaluate', '--model', join(runDir, 'model'), '--data', recipe.data, '--json']));
  const target = join(root, 'models', name);
  rmSync(target, { recursive: true, force: true });
  cpSync(join(runDir, 'model'), target, { recursive: true });
  rmSync(parked, { recursive: true, force: true });
  const metrics = readFileSync(join(runDir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  const result = {
    model: name,
    data: recipe.data,
    test_accuracy: evaluation.accuracy,
    epochs: summary.epochs,
    seconds_per_epoch: metrics.reduce((a: number, m: { seconds: number }) => a + m.seconds, 0) / metrics.length,
    command: `advx ${['train', '--data', recipe.data, ...recipe.args].join(' ')} --out runs/models/${name}`,
    measured: new Date().toISOString().slice(0, 10),
    machine: `${cpus().length} × ${cpus()[0]?.model}`,
  };
  writeFileAtomic(join(target, 'training.json'), JSON.stringify(result, null, 2));
  process.stdout.write(JSON.stringify(result) + '\n');
}

// The table lists every shipped model's own training.json, so it always matches models/.
const rows = Object.keys(RECIPES)
  .filter((n) => existsSync(join(root, 'models', n, 'training.json')))
  .map((n) => JSON.parse(readFileSync(join(root, 'models', n, 'training.json'), 'utf8')));
const table = [
  '| model | data | test accuracy | epochs | s / epoch | machine | date | command |',
  '| --- | --- | ---: | ---: | ---: | --- | --- | --- |',
  ...rows.map((r) => `| models/${r.model} | ${r.data} | ${(r.test_accuracy * 100).toFixed(2)}% | ${r.epochs} | ${r.seconds_per_epoch.toFixed(1)} | ${r.machine} | ${r.measured} | \`${r.command}\` |`),
].join('\n');
// Each file carries the table only where its markers ask for it.
for (const file of ['RESULTS.md', 'README.md']) {
  const path = join(root, file);
  if (existsSync(path)) replaceSection(path, 'models', table, { note: '(written by `npm run train:models`)', ifMissing: 'skip' });
}
