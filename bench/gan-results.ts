/**
 * `npm run results:gan`: image GANs on MNIST / Fashion-MNIST, measured. For each configuration it
 * trains (or resumes, or reuses a finished) run in <runs>/<name> with `advx gan train`, scores its
 * generator with `advx gan evaluate --json` (cached in <runs>/<name>/evaluate-n<N>.json for the
 * generator's step), copies its sample grid and a latent interpolation strip (`advx gan sample
 * --interpolate`) to <docs>/<name>.png and <docs>/<name>-interp.png, and rewrites the section between
 * the gan-images markers of RESULTS.md: the main table, the stability-tricks ablation (each change
 * on seeds 0, 1, 2, read by their median), and real-data
 * baseline rows (n training images vs the n test images evaluate uses, on the same classifier, by
 * the metric code of bench/gan-metrics-validate.ts), so that the GAN numbers have a floor to be read
 * against. Every configuration with a cached evaluation at this --n appears in the tables, so `--only`
 * re-runs some without dropping the others. --ship copies the finished dcgan-mnist and dcgan-fashion
 * generators to <models>/<name> (with training.json and README.md: the recipe).
 *
 *   npm run results:gan -- [--only dcgan-mnist,cgan-mnist] [--n 2000] [--threads 1] [--ship]
 *                          [--steps-scale 1] [--runs runs/gan] [--results RESULTS.md] [--docs docs/gan] [--models models]
 *
 * Smoke test (numbers mean nothing; touches only the scratch folders):
 *   npm run results:gan -- --only dcgan-mnist-noema --steps-scale 0.01 --n 200 --runs /tmp/gan-smoke/runs \
 *     --results /tmp/gan-smoke/RESULTS.md --docs /tmp/gan-smoke/docs
 *
 * A run folder that another live (or stopped) `advx gan train` process writes to, e.g. one started by
 * hand with the same options, is not resumed a second time: the script waits for that process to end
 * (found in /proc; --no-wait: fail instead), then reuses or resumes the run.
 */
import { spawnSync } from 'node:child_process';
import type { GeneratorEvaluation } from '../src/gan/metrics.ts';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../src/backend/index.ts';
import { median } from '../src/core/arrays.ts';
import { loadDataset } from '../src/node/datasets/index.ts';
import { writeFileAtomic } from '../src/node/io/files.ts';
import { appendSection, markSection, replaceSection } from './sections.ts';
import { loadClassifier } from '../src/node/io/load-model.ts';
import { classifierFeatures } from '../src/gan/metrics.ts';
import { compareWithTest, DATASETS, type Scores } from './gan-metrics-validate.ts';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const bin = join(root, 'bin/advx.js');

interface Config {
  args: string[];
  steps: number;
  /** Which table: the main one, or the stability-tricks ablation. */
  table: 'main' | 'ablation';
  /** What differs from dcgan-mnist (ablation table). */
  change?: string;
}
const BASE = ['--loss', 'ns', '--width', '32', '--seed', '0'];
const ABLATION_STEPS = 1500;
/** R1 γ for 28×28 MNIST: StyleGAN2 uses 0.01–10 depending on resolution; small images take a small γ. */
const R1_GAMMA = '0.1';
const CONFIGS: Record<string, Config> = {
  'dcgan-mnist': { args: ['--arch', 'dcgan', ...BASE, '--data', 'mnist'], steps: 3000, table: 'main' },
  'dcgan-fashion': { args: ['--arch', 'dcgan', ...BASE, '--data', 'fashion'], steps: 3000, table: 'main' },
  'cgan-mnist': { args: ['--arch', 'cgan', ...BASE, '--data', 'mnist'], steps: 3000, table: 'main' },
  'dcgan-mnist-base': { args: ['--arch', 'dcgan', ...BASE, '--data', 'mnist'], steps: ABLATION_STEPS, table: 'ablation', change: `none (ns loss, EMA 0.999)` },
  'dcgan-mnist-noema': { args: ['--arch', 'dcgan', ...BASE, '--data', 'mnist', '--ema', '0'], steps: ABLATION_STEPS, table: 'ablation', change: 'no EMA of G (`--ema 0`)' },
  'dcgan-mnist-minimax': { args: ['--arch', 'dcgan', '--loss', 'minimax', '--width', '32', '--seed', '0', '--data', 'mnist'], steps: ABLATION_STEPS, table: 'ablation', change: 'minimax loss (`--loss minimax`)' },
  'dcgan-mnist-r1': { args: ['--arch', 'dcgan', ...BASE, '--data', 'mnist', '--r1', R1_GAMMA], steps: ABLATION_STEPS, table: 'ablation', change: `R1 penalty γ ${R1_GAMMA} (\`--r1 ${R1_GAMMA}\`)` },
  'dcgan-mnist-augment': { args: ['--arch', 'dcgan', ...BASE, '--data', 'mnist', '--augment', 'translation,cutout'], steps: ABLATION_STEPS, table: 'ablation', change: 'DiffAugment (`--augment translation,cutout`)' },
};
// Each configuration's arguments name --seed, which its runs set (see runsOf).
for (const [name, c] of Object.entries(CONFIGS)) if (!c.args.includes('--seed')) throw new Error(`${name}: its arguments name no --seed, which its runs set`);
/**
 * The seeds each ablation change is trained with, read by their median: on seed 0 alone, DiffAugment's
 * row was FID 59 (2026-11-30, 1 thread) and then a collapse (FID 201, 4 classes; 2026-12-06, 2 threads
 * and newer kernels), the same recipe: whether G escapes a discriminator that wins in the first few
 * hundred steps hangs on the last bits of summation order (both versions' first 300 steps agree closely:
 * D's loss 0.007–0.008 at step 300, on 1 thread and on 2).
 */
const ABLATION_SEEDS = [0, 1, 2];
/** A configuration's runs: the seed-0 run keeps the configuration's name (and run folder), other seeds add -seed<s>. */
const runsOf = (config: string) => (CONFIGS[config].table === 'ablation' ? ABLATION_SEEDS : [0]).map((seed) => ({ name: seed === 0 ? config : `${config}-seed${seed}`, config, seed }));
const RUNS = new Map(Object.keys(CONFIGS).flatMap((config) => runsOf(config).map((r) => [r.name, r] as const)));
const runOf = (name: string) => RUNS.get(name)!;
/** The generators --ship copies to models/. */
const SHIP = ['dcgan-mnist', 'dcgan-fashion'];

const { values } = parseArgs({
  options: {
    only: { type: 'string' },
    n: { type: 'string', default: '2000' },
    'steps-scale': { type: 'string', default: '1' },
    threads: { type: 'string' },
    ship: { type: 'boolean', default: false },
    'no-wait': { type: 'boolean', default: false },
    runs: { type: 'string', default: 'runs/gan' },
    results: { type: 'string', default: 'RESULTS.md' },
    docs: { type: 'string', default: 'docs/gan' },
    models: { type: 'string' },
  },
});
const names = values.only ? values.only.split(',').map((s) => s.trim()).filter(Boolean) : Object.keys(CONFIGS);
for (const name of names) if (!CONFIGS[name]) throw new Error(`unknown configuration "${name}": ${Object.keys(CONFIGS).join(', ')}`);
const n = Number(values.n);
if (!Number.isInteger(n) || n < 10) throw new Error(`--n must be an integer ≥ 10, got ${values.n}`);
const scale = Number(values['steps-scale']);
if (!Number.isFinite(scale) || scale <= 0) throw new Error(`--steps-scale must be a positive number, got ${values['steps-scale']}`);
const threads = values.threads;
if (threads !== undefined && !(Number.isInteger(Number(threads)) && Number(threads) > 0)) throw new Error(`--threads must be a positive integer, got ${threads}`);
if (values.ship && scale !== 1 && values.models === undefined) throw new Error('--ship with --steps-scale ≠ 1 would ship a short run: pass an explicit --models folder (a scratch one)');
const runsDir = resolve(root, values.runs!);
const docsDir = resolve(root, values.docs!);
const modelsDir = resolve(root, values.models ?? 'models');
const resultsPath = resolve(root, values.results!);
const command = ['npm run results:gan', ...(process.argv.length > 2 ? ['--', ...process.argv.slice(2)] : [])].join(' ');
const machine = `${cpus().length} × ${cpus()[0]?.model}, wasm backend`;
const log = (s: string) => process.stderr.write(`[gan-results] ${s}\n`);
/** Paths as written in commands and Markdown: relative to the repository when inside it. */
const rel = (p: string) => {
  const r = relative(root, p);
  return r && !r.startsWith('..') && !isAbsolute(r) ? r : p;
};
const stepsOf = (name: string) => Math.max(1, Math.round(CONFIGS[runOf(name).config].steps * scale));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const readJson = <T>(file: string): T => JSON.parse(readFileSync(file, 'utf8')) as T;

function advx(args: string[], capture = false): string {
  const full = [...args, ...(threads ? ['--threads', threads] : [])];
  log(`advx ${full.join(' ')}`);
  const r = spawnSync(process.execPath, [bin, ...full], { cwd: root, encoding: 'utf8', stdio: ['ignore', capture ? 'pipe' : 'inherit', 'inherit'], maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`advx ${full.join(' ')} failed (exit ${r.status}${r.signal ? `, ${r.signal}` : ''})`);
  return r.stdout ?? '';
}

/** The steps of the generator saved in <out>/model (0: none yet). */
function modelSteps(out: string): number {
  const file = join(out, 'model', 'config.json');
  return existsSync(file) && existsSync(join(out, 'model', 'model.json')) ? Number(readJson<{ steps: number }>(file).steps) : 0;
}

/**
 * Another live `advx gan train` process writing to `out` (Linux: read from /proc; elsewhere none is
 * found). Its state is "T" when it is stopped.
 */
function trainingProcess(out: string): { pid: number; state: string } | undefined {
  if (!existsSync('/proc/self/cmdline')) return undefined;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      const g = argv.indexOf('gan');
      if (g < 0 || argv[g + 1] !== 'train') continue;
      const o = argv.findIndex((a) => a === '--out' || a.startsWith('--out='));
      if (o < 0) continue;
      const dir = argv[o] === '--out' ? argv[o + 1] : argv[o].slice('--out='.length);
      if (!dir || resolve(readlinkSync(`/proc/${entry}/cwd`), dir) !== resolve(out)) continue;
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      return { pid: Number(entry), state: stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0] };
    } catch {
      // The process ended meanwhile, or is not ours to read.
    }
  }
  return undefined;
}

/** The run's configuration with its own seed. */
const runArgs = ({ config, seed }: { config: string; seed: number }) => CONFIGS[config].args.map((a, i, all) => (all[i - 1] === '--seed' ? String(seed) : a));
const trainArgs = (name: string) => ['gan', 'train', ...runArgs(runOf(name)), '--steps', String(stepsOf(name)), '--out', rel(join(runsDir, name))];

/** Trains, resumes or reuses the run. */
async function train(name: string): Promise<void> {
  const out = join(runsDir, name);
  const steps = stepsOf(name);
  const args = trainArgs(name);
  for (;;) {
    const have = modelSteps(out);
    if (have >= steps) {
      log(`${name}: finished run reused (${have} steps)`);
      return;
    }
    // Never resume a folder that another process is still training (or holds stopped).
    const other = trainingProcess(out);
    if (!other) break;
    const what = `${rel(out)} is being trained by process ${other.pid}${other.state === 'T' ? ' (stopped)' : ''}`;
    if (values['no-wait']) throw new Error(`${what}: wait for it, or drop --no-wait`);
    log(`${name}: ${what}; waiting for it to end`);
    await sleep(60_000);
  }
  const resume = existsSync(join(out, 'config.json'));
  const t = performance.now();
  advx([...args, ...(resume ? ['--resume'] : [])]);
  log(`${name}: trained to ${modelSteps(out)} steps in ${((performance.now() - t) / 60000).toFixed(1)} min`);
}

/** `advx gan evaluate --json`: the generator's evaluation and what it was measured on. */
interface Evaluation extends Omit<GeneratorEvaluation, 'histogram'> {
  n: number;
  real: number;
  data: string;
  classifier: string;
  arch: string;
}
/** What a table row needs, cached next to the run. */
interface Stored {
  name: string;
  steps: number;
  n: number;
  evaluation: Evaluation;
  /** Sum of the per-step times of metrics.jsonl (sampling and checkpoints excluded). */
  trainSeconds: number;
  threads: number | null;
  recipe: string;
  date: string;
  machine: string;
}

function trainSeconds(out: string, steps: number): number {
  const file = join(out, 'metrics.jsonl');
  if (!existsSync(file)) return NaN;
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as { step: number; seconds: number })
    .filter((r) => r.step <= steps)
    .reduce((a, r) => a + r.seconds, 0);
}

const evalFile = (name: string) => join(runsDir, name, `evaluate-n${n}.json`);

function evaluate(name: string): Stored {
  const out = join(runsDir, name);
  const steps = modelSteps(out);
  const file = evalFile(name);
  if (existsSync(file)) {
    const stored = readJson<Stored>(file);
    if (stored.steps === steps) return stored;
  }
  const stdout = advx(['gan', 'evaluate', '--model', rel(join(out, 'model')), '--n', String(n), '--json'], true);
  const evaluation = JSON.parse(stdout.trim().split('\n').at(-1)!) as Evaluation;
  // The recipe: the command that trains the run from scratch, with the threads it last ran on.
  const config = readJson<{ threads?: number }>(join(out, 'config.json'));
  const recipe = `advx ${[...trainArgs(name), ...(config.threads ? ['--threads', String(config.threads)] : [])].join(' ')}`;
  const stored: Stored = { name, steps, n, evaluation, trainSeconds: trainSeconds(out, steps), threads: config.threads ?? null, recipe, date: new Date().toISOString().slice(0, 10), machine };
  writeFileAtomic(file, JSON.stringify(stored, null, 2));
  return stored;
}

function pictures(name: string): void {
  const out = join(runsDir, name);
  const final = join(out, 'samples', 'final.png');
  if (!existsSync(final)) throw new Error(`${final} is missing: the run did not finish`);
  writeFileAtomic(join(docsDir, `${name}.png`), readFileSync(final));
  // Conditional generators: one strip per class.
  const conditional = readJson<{ conditional?: boolean }>(join(out, 'model', 'config.json')).conditional;
  advx(['gan', 'sample', '--model', rel(join(out, 'model')), '--interpolate', '--n', conditional ? '10' : '6', '--cols', '10', '--seed', '0', '--out', join(docsDir, `${name}-interp.png`)]);
}

interface Baseline extends Scores {
  data: string;
  /** The classifier's accuracy on the real images: the ceiling of a cGAN's class accuracy. */
  accuracy: number;
  classifier: string;
  count: number;
}

/**
 * Real training images against the test images `advx gan evaluate` compares samples with: the first
 * n of each split, the same classifier, KID as evaluate computes it (100 subsets of ≤ 1000, seed 0),
 * precision/recall on all n.
 */
async function baseline(data: string, classifier: string): Promise<Baseline> {
  const key = data.startsWith('fashion') ? 'fashion' : 'mnist';
  const spec = DATASETS[key];
  const { layers } = await loadClassifier(resolve(root, classifier));
  if (!layers) throw new Error(`${classifier} is not a LayersModel`);
  const { train, test } = loadDataset(spec.data, { limit: { train: n, test: n } });
  const count = Math.min(train.count, test.count, n);
  const [h, w, c] = test.shape;
  const xTest = tf.tensor4d(test.images.subarray(0, count * h * w * c), [count, h, w, c]);
  const xTrain = tf.tensor4d(train.images.subarray(0, count * h * w * c), [count, h, w, c]);
  const fTest = classifierFeatures(layers, xTest);
  const { predicted, ...m } = compareWithTest(layers, xTrain, fTest, { subsets: 100, subsetSize: 1000, seed: 0, prN: count });
  const accuracy = predicted.reduce((a, y, i) => a + (y === train.labels[i] ? 1 : 0), 0) / count;
  tf.dispose([xTest, xTrain, fTest]);
  layers.dispose();
  return { data: spec.label, ...m, accuracy, classifier: rel(resolve(root, classifier)), count };
}

const f2 = (x: number) => x.toFixed(2);
const f3 = (x: number) => x.toFixed(3);
const kidCell = (mean: number, std: number | null) => (std === null ? `${mean.toFixed(4)} (one subset)` : `${mean.toFixed(4)} ± ${std.toFixed(4)}`);
const minutesCell = (s: number) => (Number.isFinite(s) ? `${(s / 60).toFixed(1)} min` : '–');
const docLink = (file: string) => relative(dirname(resultsPath), join(docsDir, file)).split('\\').join('/');

// ---- run ----
const t0 = performance.now();
for (const { name, seed } of names.flatMap(runsOf)) {
  log(`== ${name} (${stepsOf(name)} steps)`);
  await train(name);
  evaluate(name);
  // RESULTS.md shows each configuration's seed-0 samples.
  if (seed === 0) pictures(name);
}

// ---- ship ----
if (values.ship) {
  for (const name of SHIP) {
    const out = join(runsDir, name);
    const steps = modelSteps(out);
    if (steps < stepsOf(name) || !existsSync(evalFile(name))) {
      log(`--ship: ${name} is not finished and evaluated at --n ${n} (${steps}/${stepsOf(name)} steps): not shipped`);
      continue;
    }
    const stored = readJson<Stored>(evalFile(name));
    const dest = join(modelsDir, name);
    const tmp = join(modelsDir, `.${name}.${process.pid}.tmp`);
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(modelsDir, { recursive: true });
    cpSync(join(out, 'model'), tmp, { recursive: true });
    const e = stored.evaluation;
    const cfg = readJson<{ width: number; batch: number; latent: number; ema: number; loss: string; data: string; arch: string }>(join(out, 'config.json'));
    const training = {
      model: name,
      arch: cfg.arch,
      data: cfg.data,
      loss: cfg.loss,
      steps,
      width: cfg.width,
      batch: cfg.batch,
      latent: cfg.latent,
      ema: cfg.ema,
      train_seconds: Math.round(stored.trainSeconds),
      threads: stored.threads,
      command: stored.recipe,
      evaluation: { n: e.n, classifier: e.classifier, fid: e.fid, kid: e.kid, kid_std: e.kid_std, precision: e.precision, recall: e.recall, classes_covered: e.classes_covered, kl_to_uniform: e.kl_to_uniform },
      measured: stored.date,
      machine: stored.machine,
    };
    writeFileAtomic(join(tmp, 'training.json'), JSON.stringify(training, null, 2) + '\n');
    writeFileAtomic(
      join(tmp, 'README.md'),
      [
        `# ${name}`,
        '',
        `The generator of a ${cfg.arch.toUpperCase()} (width ${cfg.width}, latent ${cfg.latent}, ${cfg.loss} loss, EMA ${cfg.ema} of its weights) trained ${steps} steps of batch ${cfg.batch} on ${cfg.data}, in ${minutesCell(stored.trainSeconds)} on ${stored.machine}${stored.threads ? `, ${stored.threads} thread(s)` : ''}:`,
        '',
        '```',
        stored.recipe,
        '```',
        '',
        `FID ${f2(e.fid)}, KID ${kidCell(e.kid, e.kid_std)}, precision ${f3(e.precision)}, recall ${f3(e.recall)}, ${e.classes_covered} classes covered (${e.n} samples vs ${e.n} test images on the features of ${e.classifier}; \`advx gan evaluate --model ${rel(dest)} --n ${e.n}\`). Samples: \`advx gan sample --model ${rel(dest)} --out samples.png\`. Written by \`npm run results:gan -- --only ${name} --ship\` on ${stored.date}.`,
        '',
      ].join('\n'),
    );
    const old = join(modelsDir, `.${name}.${process.pid}.old`);
    if (existsSync(dest)) renameSync(dest, old);
    renameSync(tmp, dest);
    rmSync(old, { recursive: true, force: true });
    log(`shipped ${rel(out)}/model → ${rel(dest)}`);
  }
}

// ---- tables: every configuration evaluated at this --n, for its current generator, with its steps reached ----
const stored = [...RUNS.keys()]
  .filter((name) => existsSync(evalFile(name)))
  .map((name) => readJson<Stored>(evalFile(name)))
  .filter((s) => s.steps === modelSteps(join(runsDir, s.name)) && s.steps >= stepsOf(s.name));
const scaled = stored.filter((s) => s.steps !== CONFIGS[runOf(s.name).config].steps);
await useBackend('wasm', { threads: threads ? Number(threads) : undefined });
const baselines = new Map<string, Baseline>();
for (const s of stored) {
  const key = `${s.evaluation.data.startsWith('fashion') ? 'fashion' : 'mnist'}|${s.evaluation.classifier}`;
  if (!baselines.has(key)) baselines.set(key, await baseline(s.evaluation.data, s.evaluation.classifier));
}
const byData = (data: string) => [...baselines.entries()].filter(([k]) => k.startsWith(data.startsWith('fashion') ? 'fashion|' : 'mnist|')).map(([, b]) => b);

const trainCells = (s: Stored) => `${s.steps} | ${minutesCell(s.trainSeconds)}${s.threads ? ` (${s.threads} thr.)` : ''}`;
const metricCells = (e: Evaluation) => `${f2(e.fid)} | ${kidCell(e.kid, e.kid_std)} | ${e.classes_covered}/10 | ${f3(e.kl_to_uniform)} | ${f3(e.precision)} | ${f3(e.recall)}`;
const baselineCells = (b: Baseline) => `${f2(b.fid)} | ${kidCell(b.kid.mean, b.kid.std)} | ${b.classesCovered}/10 | ${f3(b.klToUniform)} | ${f3(b.precision)} | ${f3(b.recall)}`;

const mainRows = stored.filter((s) => CONFIGS[runOf(s.name).config].table === 'main');
/** Each ablation change with its evaluated runs, by seed. */
const ablationRows = Object.keys(CONFIGS)
  .filter((config) => CONFIGS[config].table === 'ablation')
  .map((config) => ({ config, runs: stored.filter((s) => runOf(s.name).config === config).sort((a, b) => runOf(a.name).seed - runOf(b.name).seed) }))
  .filter((row) => row.runs.length > 0);
/** An ablation change's cells: the median over its seeds, FID and classes covered also per seed. */
function ablationCells(runs: Stored[]): string {
  const of = (f: (e: Evaluation) => number) => median(runs.map((s) => f(s.evaluation)));
  const perSeed = (f: (e: Evaluation) => string) => (runs.length > 1 ? ` (${runs.map((s) => f(s.evaluation)).join(', ')})` : '');
  return [
    runs.map((s) => runOf(s.name).seed).join(', '),
    runs[0].steps,
    minutesCell(median(runs.map((s) => s.trainSeconds))),
    `${f2(of((e) => e.fid))}${perSeed((e) => f2(e.fid))}`,
    f3(of((e) => e.kid)),
    `${runs.map((s) => s.evaluation.classes_covered).join(', ')} of 10`,
    f3(of((e) => e.kl_to_uniform)),
    f3(of((e) => e.precision)),
    f3(of((e) => e.recall)),
  ].join(' | ');
}
const lines: string[] = [
  `Image GANs (\`advx gan train\`, \`src/gan/dcgan.ts\`): DCGAN width 32 (a faster one than the width-64 DCGAN of WORKLOADS.md), latent 100, batch 64, Adam 2e-4 (β 0.5, 0.999), EMA 0.999 of G's weights (sampled with BN statistics re-measured on them), seed 0; cgan: class-conditional DCGAN with a projection discriminator. ` +
    `Scored by \`advx gan evaluate --n ${n} --json\`: ${n} samples against the first ${n} test images, on the 128-d penultimate features of each dataset's classifier (\`models/mnist-cnn\`, \`models/fashion-cnn\`), not Inception, so comparable only with numbers on the same classifier (see Image GAN metrics). ` +
    `KID: mean ± std over 100 subsets of ≤ 1000; precision/recall: Kynkäänniemi et al., k = 3; classes covered: classes holding ≥ 10% of the uniform share of the classifier's labels; class accuracy (cgan): how often the classifier names the class asked for. ` +
    `Real-data rows: the first ${n} training images in place of samples, through the same metric code and classifier — the floor a perfect generator would reach (its class accuracy: the classifier's accuracy on them). Training time: sum of the per-step times in metrics.jsonl (sampling and checkpoints excluded).`,
  '',
];
if (mainRows.length) {
  const hasCgan = mainRows.some((s) => s.evaluation.class_accuracy !== undefined);
  lines.push(
    `| configuration | steps | training time | FID | KID | classes covered | KL to uniform | precision | recall |${hasCgan ? ' class accuracy |' : ''}`,
    `| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |${hasCgan ? ' ---: |' : ''}`,
  );
  for (const data of ['mnist', 'fashion']) {
    const rows = mainRows.filter((s) => s.evaluation.data.startsWith(data));
    if (!rows.length) continue;
    for (const b of byData(data)) lines.push(`| real ${b.data} train (${b.count}) | – | – | ${baselineCells(b)} |${hasCgan ? ` ${f3(b.accuracy)} |` : ''}`);
    for (const s of rows) lines.push(`| ${s.name} | ${trainCells(s)} | ${metricCells(s.evaluation)} |${hasCgan ? ` ${s.evaluation.class_accuracy === undefined ? '–' : f3(s.evaluation.class_accuracy)} |` : ''}`);
  }
  lines.push('');
  lines.push(
    mainRows
      .map((s) => `![${s.name} samples](${docLink(`${s.name}.png`)}) ![${s.name} latent interpolation](${docLink(`${s.name}-interp.png`)})`)
      .join('\n'),
    '',
    `Samples (EMA generator, fixed z; cgan: one column per class) and latent interpolation strips (each row a slerp between two random z; cgan: one row per class). Recipes: ${mainRows.map((s) => `${s.name} \`${s.recipe}\``).join('; ')}.`,
    '',
  );
}
if (ablationRows.length) {
  lines.push(
    `Effect of stability tricks: dcgan on MNIST, ${ABLATION_STEPS} steps, one change at a time from the base recipe, each trained with seeds ${ABLATION_SEEDS.join(', ')} (run folders <run>, <run>-seed1, …). Each cell is the median over the seeds, FID also per seed in brackets, and classes covered per seed: one seed decides little (a run whose discriminator wins in the first few hundred steps collapses, and which seed does can change with the machine's summation order). Training time: the median run's.`,
    '',
    '| change | run | seeds | steps | training time | FID | KID | classes covered | KL to uniform | precision | recall |',
    '| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...byData('mnist').map((b) => `| real ${b.data} train (${b.count}) | – | – | – | – | ${f2(b.fid)} | ${f3(b.kid.mean)} | ${b.classesCovered} of 10 | ${f3(b.klToUniform)} | ${f3(b.precision)} | ${f3(b.recall)} |`),
    ...ablationRows.map(({ config, runs }) => `| ${CONFIGS[config].change} | ${config} | ${ablationCells(runs)} |`),
    '',
    `Samples of each change's seed-0 run: ${ablationRows.map(({ config }) => `![${config}](${docLink(`${config}.png`)})`).join(' ')}`,
    '',
  );
}
if (!stored.length) lines.push(`No run evaluated at --n ${n} yet.`, '');
const dates = [...new Set(stored.map((s) => s.date))].sort();
lines.push(
  `Measured ${dates.join(', ') || new Date().toISOString().slice(0, 10)} on ${machine}${threads ? `, ${threads} thread(s)` : ''}, shared with other jobs, by \`${command}\` (this run: ${((performance.now() - t0) / 60000).toFixed(1)} min; finished runs and evaluations in ${rel(runsDir)} are reused)${scaled.length ? `; steps scaled by --steps-scale for ${scaled.map((s) => s.name).join(', ')} (smoke numbers, meaningless)` : ''}.`,
);

replaceSection(resultsPath, 'gan-images', lines.join('\n'), { newFile: '# Results\n', ifMissing: appendSection('## Image GANs') });
process.stdout.write(markSection('gan-images', lines.join('\n')) + '\n');
log(`wrote ${rel(resultsPath)}; tensors left: ${tf.memory().numTensors}`);
