/**
 * `npm run results:da`: domain adaptation measured on real domain shifts. For each task (source →
 * target) it runs `advx adapt` with every method and several seeds, plus the ceiling (trained on
 * the labelled target itself), and rewrites the domain adaptation section of RESULTS.md with the
 * mean ± standard deviation over seeds. Then the rotated-moons toy (unless --no-toy): source-only
 * and DANN over 10 seeds, their decision boundaries in docs/da/. Runs live in runs/da/<preset>/<task>/<method>-s<seed>;
 * re-running resumes unfinished runs and reuses finished ones.
 *
 *   npm run results:da -- [--preset quick|full] [--recipe bn|paper] [--tasks mnist-mnistm,synth-mnist] [--methods …] [--seeds 0,1,2] [--no-choices]
 *
 * --recipe: the network and optimiser every method uses (bn, the default: batch norm per domain
 * with AdaBN at test time, SGD; paper: the DANN paper's network without batch norm). The table of
 * DANN's design choices on MNIST → MNIST-M (optimiser × batch norm) comes too, unless --no-choices.
 */
import { spawnSync } from 'node:child_process';
import { readResults } from '../src/node/runs/results.ts';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../src/backend/index.ts';
import { dannFeatures, describeNetworks, MOONS_RECIPE, trainDann } from '../src/da/dann.ts';
import { rotatedMoons } from '../src/data/toy2d.ts';
import { decisionGrid } from '../src/eval/decision-grid.ts';
import { decisionBoundarySvg } from '../src/report/scatter.ts';
import { writeFileAtomic } from '../src/node/io/files.ts';
import { appendSection, markSection, replaceSection } from './sections.ts';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const bin = join(root, 'bin/advx.js');

const TASKS: Record<string, { source: string; target: string }> = {
  'mnist-mnistm': { source: 'mnist-rgb', target: 'mnist-m' },
  'synth-mnist': { source: 'synth-digits', target: 'mnist-rgb' },
};
const METHODS = ['source-only', 'dann', 'cdan', 'coral', 'mmd', 'finetune', 'finetune-new-head', 'target-only'];
/** Sizes: quick fits a session on 2 cores; full is the whole datasets. */
const PRESETS: Record<string, string[]> = {
  quick: ['--limit', '5000', '--target-limit', '5000', '--test-limit', '2000', '--epochs', '6', '--embed', '300'],
  full: ['--epochs', '10', '--embed', '500'],
  /** Checks the script end to end in a minute; its numbers mean nothing. */
  smoke: ['--limit', '256', '--target-limit', '256', '--test-limit', '200', '--epochs', '1', '--embed', '60', '--no-tsne'],
};
/** Per-method options (CORAL's loss is relative to the covariances, src/da/coral.ts, so it keeps the default λ = 1 as the others do). */
const METHOD_ARGS: Record<string, string[]> = {
  finetune: ['--target-labels', '10', '--head', 'keep'],
  'finetune-new-head': ['--target-labels', '10', '--head', 'new'],
};

/** Network and optimiser choices, as advx adapt options. */
const RECIPES: Record<string, string[]> = {
  paper: ['--optimizer', 'sgd', '--batch-norm', 'none'],
  'paper-adam': ['--optimizer', 'adam', '--batch-norm', 'none'],
  'bn-shared': ['--optimizer', 'sgd', '--batch-norm', 'shared'],
  bn: ['--optimizer', 'sgd', '--batch-norm', 'per-domain'],
  'bn-adam': ['--optimizer', 'adam', '--batch-norm', 'per-domain'],
};
const RECIPE_NAMES: Record<string, string> = {
  paper: 'SGD, no batch norm (the paper)',
  'paper-adam': 'Adam, no batch norm',
  'bn-shared': 'SGD, batch norm over both domains at once',
  bn: 'SGD, batch norm per domain + AdaBN at test',
  'bn-adam': 'Adam, batch norm per domain + AdaBN at test',
};

const { values } = parseArgs({
  options: {
    preset: { type: 'string', default: 'quick' },
    recipe: { type: 'string', default: 'bn' },
    /** Kept so that older command lines still parse: the choices table is on by default. */
    choices: { type: 'boolean', default: true },
    'no-choices': { type: 'boolean', default: false },
    /** Seeds of the choices table (each costs 10 runs). */
    'choice-seeds': { type: 'string', default: '0' },
    tasks: { type: 'string' },
    methods: { type: 'string' },
    seeds: { type: 'string', default: '0,1,2' },
    'no-toy': { type: 'boolean', default: false },
    /** WASM threads per run (default: all cores). */
    threads: { type: 'string' },
  },
});
const preset = PRESETS[values.preset!];
if (!preset) throw new Error(`unknown preset "${values.preset}": ${Object.keys(PRESETS).join(', ')}`);
const tasks = values.tasks ? values.tasks.split(',') : Object.keys(TASKS);
const methods = values.methods ? values.methods.split(',') : METHODS;
const seeds = values.seeds!.split(',').map(Number);
if (!RECIPES[values.recipe!]) throw new Error(`unknown recipe "${values.recipe}": ${Object.keys(RECIPES).join(', ')}`);
for (const t of tasks) if (!TASKS[t]) throw new Error(`unknown task "${t}": ${Object.keys(TASKS).join(', ')}`);
for (const m of methods) if (!METHODS.includes(m)) throw new Error(`unknown method "${m}": ${METHODS.join(', ')}`);

interface Summary {
  source_accuracy: number;
  target_accuracy: number;
  a_distance: number;
}

function adapt(task: string, method: string, seed: number, recipe = values.recipe!): Summary {
  const { source, target } = TASKS[task];
  const out = join(root, 'runs/da', values.preset!, recipe, task, `${method}-s${seed}`);
  const finished = finishedSummary(out);
  if (finished) return finished;
  // The ceiling: the same network trained on the labelled target (source = target).
  const finetune = method.startsWith('finetune');
  const domains =
    method === 'target-only' ? ['--source', target, '--target', target, '--method', 'source-only'] : ['--source', source, '--target', target, '--method', finetune ? 'finetune' : method];
  // Fine-tuning starts by training source-only with the same options and seed: that is the
  // source-only run of this seed, which `--baseline` reuses rather than training it again.
  const sourceOnly = join(root, 'runs/da', values.preset!, recipe, task, `source-only-s${seed}`);
  const baseline = finetune && finishedSummary(sourceOnly) ? ['--baseline', sourceOnly] : [];
  const args = ['adapt', ...domains, ...preset, ...RECIPES[recipe], ...(METHOD_ARGS[method] ?? []), ...baseline, '--seed', String(seed), '--out', out, '--json', '--quiet'];
  if (values.threads) args.push('--threads', values.threads);
  if (existsSync(out)) args.push('--resume');
  const started = performance.now();
  const r = spawnSync(process.execPath, [bin, ...args], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  if (r.status !== 0) throw new Error(`advx ${args.join(' ')} failed (exit ${r.status})`);
  process.stderr.write(`${task} ${method} seed ${seed}: ${r.stdout.trim().split('\n').at(-1)} (${((performance.now() - started) / 1000).toFixed(0)} s)\n`);
  return finishedSummary(out)!;
}

/** A finished adapt run's summary: results.json's, or summary.json of runs from before it. */
function finishedSummary(out: string): Summary | undefined {
  const legacy = join(out, 'summary.json');
  return (readResults(out)?.summary as Summary | undefined) ?? (existsSync(legacy) ? JSON.parse(readFileSync(legacy, 'utf8')) : undefined);
}

function meanStd(xs: number[]): string {
  const m = xs.reduce((a, b) => a + b, 0) / xs.length;
  const s = Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / Math.max(1, xs.length - 1));
  return xs.length > 1 ? `${(100 * m).toFixed(1)} ± ${(100 * s).toFixed(1)}` : (100 * m).toFixed(1);
}

/** Seeds of the rotated-moons toy; the pictures are of the lab's default seed. */
const MOONS_SEEDS = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
const MOONS_PICTURE_SEED = MOONS_RECIPE.seed;

/**
 * Rotated two moons (the DANN paper's Figure 2) with the lab's and the tests' data and recipe:
 * the target accuracy of source-only and DANN over MOONS_SEEDS, and where each puts the
 * boundary for MOONS_PICTURE_SEED.
 */
async function moonsSection(): Promise<string[]> {
  await useBackend('cpu');
  const degrees = 35;
  const { source, target } = rotatedMoons(degrees);
  const both = new Float32Array([...source.images, ...target.images]);
  const x = tf.tensor4d(target.images, [target.count, 1, 1, 2]);
  const idx = (from: number, label: number, labels: Uint8Array) => Array.from(labels.keys()).filter((i) => labels[i] === label).map((i) => i + from);
  const pictures: string[] = [];
  const rows: string[] = [];
  mkdirSync(join(root, 'docs/da'), { recursive: true });
  for (const method of ['source-only', 'dann'] as const) {
    const accuracies: number[] = [];
    for (const seed of MOONS_SEEDS) {
      const r = await trainDann(source, target, { ...MOONS_RECIPE, method, seed });
      const pred = await r.classifier.predict(x);
      const acc = pred.reduce((a, p, i) => a + (p === target.labels[i] ? 1 : 0), 0) / target.count;
      accuracies.push(acc);
      if (seed === MOONS_PICTURE_SEED) {
        const grid = await decisionGrid(r.classifier, [-2, 3, -1.5, 2], 80);
        const svg = decisionBoundarySvg(grid, both, [
          { label: 'source, upper', color: '#1f77b4', indices: idx(0, 0, source.labels) },
          { label: 'source, lower', color: '#d62728', indices: idx(0, 1, source.labels) },
          { label: 'target (unlabelled)', color: '#555', indices: idx(source.count, 0, target.labels).concat(idx(source.count, 1, target.labels)), marker: 'cross' },
        ], { title: `${method}, seed ${seed}: target accuracy ${(100 * acc).toFixed(1)}%`, classNames: ['upper', 'lower'] });
        writeFileAtomic(join(root, `docs/da/moons-${method}.svg`), svg);
        pictures.push(`![${method} on rotated moons](docs/da/moons-${method}.svg)`);
      }
      r.dispose();
    }
    rows.push(`| ${method} | ${meanStd(accuracies)} | ${(100 * Math.min(...accuracies)).toFixed(1)}–${(100 * Math.max(...accuracies)).toFixed(1)} |`);
  }
  x.dispose();
  return [
    '### Rotated two moons',
    '',
    `The DANN paper's toy, with the data and recipe of the lab's DA view: ${source.count} labelled source points, ${target.count} unlabelled target points rotated by ${degrees}°; ${describeNetworks(MOONS_RECIPE)}, ${MOONS_RECIPE.epochs} epochs of SGD at ${MOONS_RECIPE.learningRate} (annealed), batch ${MOONS_RECIPE.batchSize}, cpu backend. Target accuracy, mean ± standard deviation over seeds ${MOONS_SEEDS[0]}–${MOONS_SEEDS.at(-1)}:`,
    '',
    '| method | target accuracy % | lowest–highest % |',
    '| --- | ---: | ---: |',
    ...rows,
    '',
    `Decision boundary and target points, seed ${MOONS_PICTURE_SEED} (the lab's default):`,
    '',
    ...pictures,
    '',
  ];
}

const started = performance.now();
const sections: string[] = [];
for (const task of tasks) {
  const rows: string[] = [];
  for (const method of methods) {
    const runs = seeds.map((seed) => adapt(task, method, seed));
    rows.push(`| ${method} | ${meanStd(runs.map((r) => r.target_accuracy))} | ${meanStd(runs.map((r) => r.source_accuracy))} | ${(runs.reduce((a, r) => a + r.a_distance, 0) / runs.length).toFixed(2)} |`);
  }
  const { source, target } = TASKS[task];
  sections.push(
    `### ${source} → ${target}`,
    '',
    '| method | target test accuracy % | source test accuracy % | proxy A-distance |',
    '| --- | ---: | ---: | ---: |',
    ...rows,
    '',
  );
}
const withChoices = values.choices && !values['no-choices'];
if (withChoices) {
  // Which choices matter: DANN and its source-only baseline under each recipe, MNIST → MNIST-M.
  const choiceSeeds = values['choice-seeds']!.split(',').map(Number);
  const rows = Object.keys(RECIPES).map((recipe) => {
    const [plain, dann] = (['source-only', 'dann'] as const).map((m) => choiceSeeds.map((seed) => adapt('mnist-mnistm', m, seed, recipe)));
    return `| ${RECIPE_NAMES[recipe]} | ${meanStd(plain.map((r) => r.target_accuracy))} | ${meanStd(dann.map((r) => r.target_accuracy))} | ${meanStd(dann.map((r) => r.source_accuracy))} |`;
  });
  sections.push(
    '### What matters for DANN (MNIST-RGB → MNIST-M)',
    '',
    `The same preset, seeds ${choiceSeeds.join(', ')}; only the optimiser (SGD momentum 0.9 with μ0 0.01, or Adam with μ0 0.001, both annealed as μ0/(1+10p)^0.75) and the batch normalisation of the extractor change. λ (the gradient reversal weight) is ramped to 1 and applies to the extractor's gradient only; the domain head always learns at full strength.`,
    '',
    '| recipe | source-only target % | DANN target % | DANN source % |',
    '| --- | ---: | ---: | ---: |',
    ...rows,
    '',
  );
}
const toy = values['no-toy'] ? [] : await moonsSection();
const minutes = ((performance.now() - started) / 60000).toFixed(1);
const text = [
  '## Domain adaptation',
  '',
  `Measured ${new Date().toISOString().slice(0, 10)} on ${cpus().length} × ${cpus()[0]?.model}, wasm backend, by \`npm run results:da -- --preset ${values.preset} --recipe ${values.recipe}${values.tasks ? ` --tasks ${values.tasks}` : ''}${values.methods ? ` --methods ${values.methods}` : ''}${values.threads ? ` --threads ${values.threads}` : ''} --seeds ${values.seeds}${withChoices ? ` --choice-seeds ${values['choice-seeds']}` : ' --no-choices'}\` (this run: ${minutes} min; finished runs are reused). ` +
    `Preset ${values.preset}: \`${preset.join(' ')}\`. Mean ± standard deviation over seeds ${seeds.join(', ')}. ` +
    `The DANN paper\'s networks (${describeNetworks({ features: dannFeatures })}); recipe ${values.recipe}: ${RECIPE_NAMES[values.recipe!]}; μ0 annealed as μ0/(1+10p)^0.75, λ ramped to 1. ` +
    'Unsupervised methods never read target labels; finetune uses 10 labelled target images per class, fine-tuning the source-only network of the same seed with its head kept (finetune-new-head: with a new last layer, the ImageNet recipe); target-only is the ceiling (trained on the labelled target). ' +
    'Proxy A-distance: 2(1 − 2ε) of a linear domain classifier on the extractor\'s features (lower: domains less separable).',
  '',
  ...sections,
  ...toy,
].join('\n');
replaceSection(join(root, 'RESULTS.md'), 'da', text, { note: '(written by `npm run results:da`)', ifMissing: appendSection() });
process.stdout.write(markSection('da', text, '(written by `npm run results:da`)') + '\n');
