/**
 * `npm run results:attacks`: the attack numbers of RESULTS.md, measured on the shipped MNIST CNN
 * (models/mnist-cnn) and written between the markers there. Each section is a function below,
 * written between its own markers inside the block; `--only` runs (and rewrites) some of them.
 * Each section (each robust model) is written into RESULTS.md as soon as it is measured, and what
 * is done is noted in .cache/results-attacks.json until the whole run ends: the same command run
 * again after a kill goes on from there. Each section says when, where and by what command it was
 * measured.
 *
 *   npm run results:attacks -- [--only fgsm-pgd,eot,square,transfer,distillation] [--limit 10000]
 *     [--eot-limit 100] [--square-limit 500] [--transfer-limit 500] [--transfer-train 60000]
 *     [--distill-epochs 2] [--distill-train 60000] [--distill-limit 100] [--model models/mnist-cnn] [--threads N]
 *     [--robust-model models/mnist-robust,models/mnist-trades (the ones to rerun; the others keep their block)] [--robust-limit 1000]
 *     [--robust-run DIR,… (finished `advx robustness --suite standard --eps 0.3` run folders of those models:
 *      their figures are read instead of measured again; default: the README's run on all 10 000
 *      test images, runs/aa, where it is there)]
 */
import * as tf from '@tensorflow/tfjs-core';
import { existsSync, readFileSync, rmSync, statSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { useBackend } from '../src/backend/index.ts';
import { loadDataset } from '../src/node/datasets/index.ts';
import { loadClassifier } from '../src/node/io/load-model.ts';
import { subset, toTensors, type ImageDataset } from '../src/data/types.ts';
import { Classifier } from '../src/models/classifier.ts';
import { buildModel } from '../src/models/zoo.ts';
import { fitClassifier, type FitOptions } from '../src/train/fit.ts';
import { BLACK_BOX_THRESHOLD, evaluateRobustness, sanityWarnings } from '../src/eval/robustness.ts';
import { transferMatrix, type TransferMatrix } from '../src/eval/transfer.ts';
import { eot, survival } from '../src/attacks/eot.ts';
import { pgd } from '../src/attacks/pgd.ts';
import { squareAttack } from '../src/attacks/square.ts';
import { carliniWagnerL2 } from '../src/attacks/carlini-wagner.ts';
import { decisionOracle, scoreOracle } from '../src/attacks/blackbox.ts';
import { trainSubstitute, transferAttack } from '../src/attacks/substitute.ts';
import { distillationLoss, temperatureCrossEntropy } from '../src/defenses/distillation.ts';
import { appendSection, findSection, markSection, replaceSection } from './sections.ts';
import { writeFileAtomic } from '../src/node/io/files.ts';
import { modelFingerprint } from '../src/node/runs/shards.ts';
import { accuracy } from '../src/eval/accuracy.ts';

const SECTIONS = ['fgsm-pgd', 'eot', 'square', 'transfer', 'distillation', 'robust'];
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({
  options: {
    only: { type: 'string', default: SECTIONS.join(',') },
    model: { type: 'string', default: 'models/mnist-cnn' },
    limit: { type: 'string', default: '10000' },
    'eot-limit': { type: 'string', default: '100' },
    'square-limit': { type: 'string', default: '500' },
    'transfer-limit': { type: 'string', default: '500' },
    'transfer-train': { type: 'string', default: '60000' },
    'distill-epochs': { type: 'string', default: '2' },
    'distill-train': { type: 'string', default: '60000' },
    'distill-limit': { type: 'string', default: '100' },
    threads: { type: 'string' },
    'robust-model': { type: 'string', default: 'models/mnist-robust,models/mnist-trades' },
    'robust-limit': { type: 'string', default: '1000' },
    'robust-run': { type: 'string' },
  },
});
const only = values.only.split(',').map((s) => s.trim());
for (const s of only) if (!SECTIONS.includes(s)) throw new Error(`unknown section "${s}": ${SECTIONS.join(', ')}`);
await useBackend('wasm', { threads: values.threads ? Number(values.threads) : undefined });
const modelPath = resolve(root, values.model);
const { classifier } = await loadClassifier(modelPath);
const mnist = loadDataset('mnist');
const test = mnist.test;
const firstTest = (n: number) => toTensors(subset(test, 0, Math.min(n, test.count)));
const trainSubset = (n: number) => subset(mnist.train, 0, Math.min(n, mnist.train.count));
const pct = (v: number, digits = 1) => `${(v * 100).toFixed(digits)}%`;
const mean = (a: number[]) => (a.length ? a.reduce((s, v) => s + v, 0) / a.length : NaN);
const median = (a: number[]) => {
  const s = [...a].sort((p, q) => p - q);
  return s.length ? (s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2) : NaN;
};
const log = (msg: string) => console.error(`[${((performance.now() - started) / 1000).toFixed(0)} s] ${msg}`);
const started = performance.now();

/** Per example: the classifier gets the clean input right. */
async function correctness(model: Classifier, x: tf.Tensor, y: tf.Tensor1D): Promise<boolean[]> {
  const [p, labels] = await Promise.all([model.predict(x), y.data()]);
  return Array.from(p, (v, i) => v === labels[i]);
}

/** A zoo model trained on MNIST with a fixed seed (Adam 1e-3, batch 128), as a Classifier. */
async function trainZoo(arch: string, data: ImageDataset, epochs: number, seed: number, loss?: FitOptions['loss']): Promise<Classifier> {
  const spec = { inputShape: [...data.shape], numClasses: data.numClasses, seed };
  const model = buildModel(arch, spec);
  await fitClassifier(model, data, { epochs, batchSize: 128, learningRate: 1e-3, seed, loss, onEpoch: (e) => log(`${arch} (seed ${seed}) epoch ${e.epoch}/${epochs}: loss ${e.loss.toFixed(4)}, train accuracy ${pct(e.accuracy, 2)} (${e.seconds.toFixed(0)} s)`) });
  return new Classifier((x) => model.apply(x) as tf.Tensor, { inputShape: spec.inputShape, numClasses: spec.numClasses, bounds: [0, 1] });
}

/** FGSM and PGD-40 at ε = 0.3 on the test set, with PGD's wall time. */
async function fgsmPgd(): Promise<string[]> {
  const { x, y } = firstTest(Number(values.limit));
  // Each attack on every input: the table gives FGSM's and PGD's own robust accuracy.
  const r = await evaluateRobustness(classifier, x, y, { attacks: ['fgsm', 'pgd'], eps: [0.3], steps: 40, stepSize: 0.01, seed: 0, batchSize: 500, cascade: false, onBlock: (b) => log(`fgsm, pgd ε=0.3: block ${b.block} (${b.examples.length} images) done`) });
  tf.dispose([x, y]);
  const pgdSeconds = r.attacks.find((a) => a.name === 'pgd')!.seconds;
  return [
    `Undefended \`${values.model}\` on the first ${r.count} MNIST test images (clean accuracy ${pct(r.clean_accuracy, 2)}), L∞ ε = 0.3:`,
    '',
    '| attack | robust accuracy |',
    '| --- | ---: |',
    `| FGSM | ${pct(r.per_attack.fgsm['0.3'], 2)} |`,
    `| PGD-40 (α 0.01, random start) | ${pct(r.per_attack.pgd['0.3'], 2)} |`,
    `| worst case of both | ${pct(r.robust_accuracy['0.3'], 2)} |`,
    '',
    `PGD-40 took ${pgdSeconds.toFixed(1)} s for the ${r.count} images (${((pgdSeconds / r.count) * 1000).toFixed(1)} ms per image; batches of 500).`,
    '',
  ];
}

/** EOT versus plain PGD: survival under 100 random physical transformations. */
async function eotSection(): Promise<string[]> {
  const n = Number(values['eot-limit']);
  const { x, y } = firstTest(n);
  const eps = 0.2;
  const plain = await pgd(classifier, x, { labels: y }, { eps, steps: 100, stepSize: 0.01, seed: 1 });
  const robust = await eot(classifier, x, { labels: y }, { eps, steps: 100, stepSize: 0.01, samples: 16, seed: 1 });
  const [sPlain, sEot, sClean] = [
    mean(await survival(classifier, plain.adversarial, { labels: y }, 100)),
    mean(await survival(classifier, robust.adversarial, { labels: y }, 100)),
    mean(await survival(classifier, x, { labels: y }, 100)),
  ];
  tf.dispose([x, y, plain.adversarial, robust.adversarial]);
  return [
    `Expectation over Transformation on ${x.shape[0]} test images, L∞ ε = ${eps}, 100 random transformations each (rotation ±20°, scale 0.85–1.15, shift ±2 px, brightness ±0.1, contrast 0.8–1.2, noise σ 0.03):`,
    '',
    '| input | misclassified under the transformations |',
    '| --- | ---: |',
    `| clean | ${pct(sClean)} |`,
    `| PGD-100 | ${pct(sPlain)} |`,
    `| EOT-PGD-100 (16 samples per step) | ${pct(sEot)} |`,
    '',
  ];
}

/** Square Attack L∞ ε = 0.3 with 1000 queries: success rate and queries of the successes. */
async function square(): Promise<string[]> {
  const { x, y } = firstTest(Number(values['square-limit']));
  const t0 = performance.now();
  const correct = await correctness(classifier, x, y);
  const r = await squareAttack(scoreOracle(classifier), x, { labels: y }, { eps: 0.3, queries: 1000, seed: 0 });
  const seconds = (performance.now() - t0) / 1000;
  tf.dispose([x, y, r.adversarial]);
  const eligible = correct.flatMap((c, i) => (c ? [i] : []));
  const won = eligible.filter((i) => r.success[i]);
  const queries = won.map((i) => r.queries![i]);
  return [
    `Square Attack (score-based, no gradients) on \`${values.model}\`, L∞ ε = 0.3, at most 1000 queries per image (the clean query included), p_init 0.8, seed 0, on the ${eligible.length} correctly classified of the first ${correct.length} test images (${seconds.toFixed(0)} s):`,
    '',
    '| success rate | median queries (successes) | mean queries (successes) |',
    '| ---: | ---: | ---: |',
    `| ${pct(won.length / eligible.length)} | ${median(queries)} | ${mean(queries).toFixed(1)} |`,
    '',
  ];
}

const matrixTable = (m: TransferMatrix): string[] => [
  `| source ↓ target → | ${m.names.join(' | ')} |`,
  `| --- |${m.names.map(() => ' ---: |').join('')}`,
  ...m.names.map((s, i) => `| ${s} | ${m.rates[i].map((r) => (Number.isNaN(r) ? '–' : pct(r))).join(' | ')} |`),
];

/** Transfer matrices across four MNIST models, and Papernot et al.'s substitute attack on the CNN. */
async function transfer(): Promise<string[]> {
  const train = trainSubset(Number(values['transfer-train']));
  const recipes: Array<[string, string, number]> = [['MLP', 'mlp', 2], ['logistic', 'logistic', 2], ['LeNet', 'lenet', 1]];
  const models = [{ name: 'CNN', classifier }];
  for (const [name, arch, epochs] of recipes) models.push({ name, classifier: await trainZoo(arch, train, epochs, 1) });
  const { x, y } = firstTest(Number(values['transfer-limit']));
  const attacks = [
    { label: 'PGD-20 (α 0.0375 = 2.5ε/20, random start)', name: 'pgd', options: { eps: 0.3, steps: 20, seed: 0 } },
    { label: 'FGSM', name: 'fgsm', options: { eps: 0.3 } },
  ];
  const lines = [
    `Transferability on the first ${x.shape[0]} MNIST test images, L∞ ε = 0.3: each entry is the share of the examples both models classify correctly that the source's white-box adversarial examples make the target misclassify (the diagonal is the white-box success rate). CNN is \`${values.model}\`; MLP (2 × 256), logistic regression and LeNet-5 are trained by the script on the first ${train.count} training images (Adam 1e-3, batch 128, seed 1; 2, 2 and 1 epochs).`,
    '',
  ];
  for (const a of attacks) {
    const m = await transferMatrix(models, x, y, { name: a.name, options: a.options });
    log(`transfer matrix ${a.name} done`);
    if (a === attacks[0]) lines.push(`Clean accuracy: ${m.names.map((n, i) => `${n} ${pct(m.accuracy[i], 2)}`).join(', ')}.`, '');
    lines.push(`${a.label}:`, '', ...matrixTable(m), '');
  }

  // The substitute sees only the CNN's labels; its seed is the last 150 test images (disjoint from the evaluated ones).
  const seed = toTensors(subset(test, test.count - 150, 150));
  const oracle = decisionOracle(classifier);
  const sub = await trainSubstitute(oracle, { x: seed.x }, { rounds: 5, seed: 0, onRound: (r) => log(`substitute round ${r.round}: |S| ${r.size}, ${r.queries} queries, agreement ${pct(r.agreement)}`) });
  const subAccuracy = mean((await correctness(sub.classifier, x, y)).map(Number));
  const t = await transferAttack(sub.classifier, classifier, x, y, { attack: 'fgsm', eps: 0.3 });
  tf.dispose([seed.x, seed.y, x, y, t.source.adversarial]);
  sub.model.dispose();
  lines.push(
    `Papernot et al.'s black-box attack on the CNN through its labels only: an MLP substitute trained from 150 seed images (the last 150 test images, labels asked of the CNN) with 5 rounds of Jacobian augmentation (λ 0.1, 10 epochs per round), then FGSM ε = 0.3 on the substitute, on the same ${x.shape[0]} images:`,
    '',
    '| oracle queries | substitute accuracy | FGSM transfer rate to the CNN |',
    '| ---: | ---: | ---: |',
    `| ${sub.queries} | ${pct(subAccuracy)} | ${pct(t.rate)} (of ${t.counted}) |`,
    '',
  );
  return lines;
}

/** Defensive distillation at T = 100: it stops FGSM/PGD on the CE loss, not C&W on the logits. */
async function distillation(): Promise<string[]> {
  const T = 100;
  const epochs = Number(values['distill-epochs']);
  const train = trainSubset(Number(values['distill-train']));
  const teacher = await trainZoo('cnn', train, epochs, 2, temperatureCrossEntropy(T));
  const student = await trainZoo('cnn', train, epochs, 3, distillationLoss(teacher, T));
  const { x, y } = firstTest(Number(values['distill-limit']));
  const rows: string[] = [];
  for (const [name, model] of [['distilled student (T = 100, deployed at T = 1)', student], [`standard: \`${values.model}\``, classifier]] as const) {
    const r = await evaluateRobustness(model, x, y, { attacks: ['fgsm', 'pgd'], eps: [0.3], steps: 40, stepSize: 0.01, seed: 0, batchSize: 500, cascade: false });
    const correct = await correctness(model, x, y);
    const cw = await carliniWagnerL2(model, x, { labels: y });
    cw.adversarial.dispose();
    const won = correct.flatMap((c, i) => (c && cw.success[i] ? [i] : []));
    rows.push(`| ${name} | ${pct(r.clean_accuracy)} | ${pct(r.per_attack.fgsm['0.3'])} | ${pct(r.per_attack.pgd['0.3'])} | ${pct(r.zero_gradient_share)} | ${pct(won.length / correct.filter(Boolean).length)} | ${mean(won.map((i) => cw.l2[i])).toFixed(2)} |`);
    log(`distillation: ${name} done`);
  }
  tf.dispose([x, y]);
  return [
    `Defensive distillation on the first ${x.shape[0]} MNIST test images: teacher and student are the reference CNN (zoo \`cnn\`), each trained ${epochs} epoch(s) at T = 100 on the first ${train.count} training images (Adam 1e-3, batch 128), the student on the teacher's soft labels; the student is deployed at T = 1. FGSM and PGD-40 (α 0.01, random start) at L∞ ε = 0.3 on the cross-entropy loss; C&W L2 with 9 binary steps × 100 Adam iterations (lr 0.1, κ 0, c₀ 1); success and mean L2 over the correctly classified images:`,
    '',
    '| model | clean accuracy | FGSM robust accuracy | PGD-40 robust accuracy | zero CE gradient | C&W L2 success | C&W mean L2 |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows,
    '',
  ];
}

/*
 * The robust section: the robust models under AutoAttack's standard suite at ε = 0.3 (APGD-CE,
 * APGD-T, FAB-T, Square with 5000 queries, each on what the earlier ones left) on the first
 * --robust-limit test images, or read from a finished run folder (--robust-run): clean accuracy on
 * the whole test set, the robust accuracy after each attack, and the per-image worst case; models
 * not yet trained are listed as such.
 */

/** How many images the score- and decision-based attacks of a cascade broke after the white-box ones had failed. */
const blackBoxBroken = (r: Pick<RobustnessFigures, 'attacks'>) => r.attacks.filter((a) => a.access !== 'white-box').reduce((sum, a) => sum + a.broken['0.3'], 0);

/** What the score- and decision-based attacks of a cascade found after the white-box ones had failed. */
function blackBoxFound(r: Pick<RobustnessFigures, 'attacks'>): string {
  const found = blackBoxBroken(r);
  return found ? `the score-based attacks broke ${found} image(s) the white-box attacks had failed on, within AutoAttack's ${100 * BLACK_BOX_THRESHOLD}% threshold` : 'the score-based attacks found nothing the white-box attacks missed';
}

/** The models of the robust section, in the order RESULTS.md lists them. */
const ROBUST_MODELS = ['models/mnist-robust', 'models/mnist-trades'];

type RobustnessFigures = Pick<Awaited<ReturnType<typeof evaluateRobustness>>, 'count' | 'clean_accuracy' | 'attacks' | 'per_attack' | 'robust_accuracy' | 'warnings' | 'seconds'>;

/**
 * The figures of a finished `advx robustness` run folder of the model at `path`, if it ran the
 * standard suite at L∞ ε = 0.3 on MNIST's test images with the same model files (its config.json's
 * hash), seed 0; else an error naming what differs.
 */
function finishedRun(dir: string, path: string): { figures: RobustnessFigures; command: string; finished: string; sharded: boolean; readmeLine: boolean } {
  const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
  const results = JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8'));
  const expected = { data: 'mnist', suite: 'standard', eps: [0.3], norm: 'linf', seed: 0, modelSha256: modelFingerprint(path) };
  for (const [key, value] of Object.entries(expected)) {
    if (JSON.stringify(config[key]) !== JSON.stringify(value)) throw new Error(`--robust-run ${dir}: its ${key} is ${JSON.stringify(config[key])}, not ${JSON.stringify(value)}`);
  }
  if (results.summary?.count !== Math.min(config.limit, test.count)) throw new Error(`--robust-run ${dir}: results.json holds ${results.summary?.count} images of its ${config.limit}`);
  const command = `advx robustness --model ${config.model} --suite standard --eps 0.3 --limit ${config.limit} --batch ${config.batch}`;
  // The black-box check's warning is said again by this version's sanityWarnings (a run folder
  // keeps the wording of the advx that wrote it); the other warnings are kept as they were.
  const summary = results.summary as RobustnessFigures;
  const blackBoxOnly = { '0.3': blackBoxBroken(summary) };
  const warnings = [...summary.warnings.filter((w) => !/black-box attacks broke/.test(w)), ...sanityWarnings({ perAttack: {}, eps: [0.3], zeroShare: 0, blackBoxOnly, count: summary.count })];
  return { figures: { ...summary, warnings }, command, finished: statSync(join(dir, 'results.json')).mtime.toISOString().slice(0, 10), sharded: existsSync(join(dir, 'shards')), readmeLine: /(^|\/)runs\/aa$/.test(dir) };
}

/**
 * The finished run folders of --robust-run, by the model each ran on. Without it, the README's
 * run on all test images (runs/aa) is read when it is there and fits (see finishedRun).
 */
const README_RUN = join(root, 'runs/aa');
const runDirs = values['robust-run'] ? values['robust-run'].split(',').filter(Boolean).map((dir) => resolve(dir)) : existsSync(join(README_RUN, 'results.json')) ? [README_RUN] : [];
const robustRuns = new Map(runDirs.map((dir) => [JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')).model as string, dir]));

/** One robust model's block: the suite's table, its self-checks, how the model was trained and when this was measured. */
async function robustModel(name: string): Promise<string[]> {
  const path = resolve(root, name);
  if (!existsSync(join(path, 'model.json'))) return [`\`${name}\`: not trained yet.`, ''];
  const t0 = performance.now();
  const { classifier: robust } = await loadClassifier(path);
  const clean = await accuracy(robust, test);
  const runDir = robustRuns.get(name);
  let run: ReturnType<typeof finishedRun> | undefined;
  try {
    run = runDir ? finishedRun(runDir, path) : undefined;
  } catch (e) {
    if (values['robust-run']) throw e;
    log(`${(e as Error).message.replace('--robust-run', 'not reading')}: measuring instead`);
  }
  let r: RobustnessFigures;
  if (run) r = run.figures;
  else {
    const { x, y } = firstTest(Number(values['robust-limit']));
    r = await evaluateRobustness(robust, x, y, { suite: 'standard', eps: [0.3], seed: 0, batchSize: 250, onBlock: (b) => log(`${name}: block ${b.block} (${b.examples.length} images) done`) });
    tf.dispose([x, y]);
  }
  const trainingPath = join(path, 'training.json');
  const training = existsSync(trainingPath) ? JSON.parse(readFileSync(trainingPath, 'utf8')) : undefined;
  const which = r.count === test.count ? 'all of them' : `the first ${r.count} (clean accuracy there ${pct(r.clean_accuracy, 2)})`;
  return [
    `\`${name}\`: clean accuracy ${pct(clean, 2)} on the 10 000 MNIST test images. AutoAttack's standard suite at L∞ ε = 0.3 on ${which}, each attack on the images the earlier ones left; every counted adversarial example re-classified and its norm checked:`,
    '',
    '| attack | run on | broken | robust accuracy after it | s |',
    '| --- | ---: | ---: | ---: | ---: |',
    ...r.attacks.map((a) => `| ${a.title} | ${a.attacked['0.3']} | ${a.broken['0.3']} | ${pct(r.per_attack[a.name]['0.3'], 2)} | ${a.seconds.toFixed(0)} |`),
    `| **worst case per image** | | | **${pct(r.robust_accuracy['0.3'], 2)}** | ${r.seconds.toFixed(0)} |`,
    '',
    r.warnings.length ? `Warnings: ${r.warnings.join(' ')}` : `Self-checks passed: no zero gradients, logits (not probabilities), a deterministic forward pass; ${blackBoxFound(r)}.`,
    '',
    ...(training ? [`Training: ${training.epochs} epochs, ${(training.seconds_per_epoch / 60).toFixed(1)} min per epoch on ${training.machine} (shared with other jobs), \`${training.command}\`.`, ''] : []),
    run
      ? `Measured by \`${run.command}\` (finished ${run.finished}${run.readmeLine ? "; the README's line, whose machines and parts docs/readme-run.md gives" : ''}), ${(r.seconds / 3600).toFixed(1)} h of attack time in all${run.sharded ? ' (summed over its shards, which ran side by side)' : ''}; read from its run folder, checked against this model's files and the clean accuracy recomputed on ${new Date().toISOString().slice(0, 10)}, by \`${command}\`.`
      : `Measured ${new Date().toISOString().slice(0, 10)} on ${machine}, in ${((performance.now() - t0) / 60000).toFixed(1)} min, by \`${command}\`.`,
    '',
  ];
}

/**
 * Each model keeps its own markers inside the section: `--robust-model` reruns some of them and
 * the others' blocks stay as they were (the standard suite on 1000 images takes an hour or more per model).
 */
async function robustSection(): Promise<string[]> {
  const previous = blocks.get('robust') ?? '';
  const rerun = values['robust-model'].split(',').map((s) => s.trim());
  for (const name of rerun) if (!ROBUST_MODELS.includes(name)) throw new Error(`unknown robust model "${name}": ${ROBUST_MODELS.join(', ')}`);
  const parts = new Map(ROBUST_MODELS.map((name) => [name, findSection(previous, `robust:${name}`) ?? markSection(`robust:${name}`, `\`${name}\`: not measured yet.\n`)]));
  const joined = () => [...parts.values()].flatMap((part) => [part, '']);
  for (const name of ROBUST_MODELS.filter((n) => rerun.includes(n) && !done.has(`robust:${n}`))) {
    parts.set(name, markSection(`robust:${name}`, (await robustModel(name)).join('\n')));
    keep('robust', joined(), `robust:${name}`);
  }
  return joined();
}

const RUN: Record<string, () => Promise<string[]>> = { 'fgsm-pgd': fgsmPgd, eot: eotSection, square, transfer, distillation, robust: robustSection };
const command = ['npm run results:attacks', ...(process.argv.length > 2 ? ['--', ...process.argv.slice(2)] : [])].join(' ');
const machine = `${cpus().length} × ${cpus()[0]?.model}, wasm backend`;
// Each section keeps its own markers inside the attacks block, so `--only` rewrites just its own.
const path = join(root, 'RESULTS.md');
const text = existsSync(path) ? readFileSync(path, 'utf8') : '';
const blocks = new Map(SECTIONS.map((name) => [name, findSection(text, `attacks:${name}`)]));

/** What an unfinished run of the same command has measured (sections, `robust:<model>`), and where that is noted. */
const statePath = join(root, '.cache', 'results-attacks.json');
const earlier = existsSync(statePath) ? (JSON.parse(readFileSync(statePath, 'utf8')) as { args: string[]; done: string[] }) : undefined;
const done = new Set(earlier && JSON.stringify(earlier.args) === JSON.stringify(process.argv.slice(2)) ? earlier.done : []);
if (done.size) log(`going on from an unfinished run of this command: ${[...done].join(', ')} measured then, kept in RESULTS.md`);

/** Writes section `name` into RESULTS.md now, and notes `part` (the section, or one of its parts) as done. */
function keep(name: string, lines: string[], part = name): void {
  blocks.set(name, markSection(`attacks:${name}`, lines.join('\n')));
  const markdown = [...blocks.values()].filter(Boolean).join('\n');
  replaceSection(path, 'attacks', markdown, { note: '(written by `npm run results:attacks`)', newFile: '# Results\n', ifMissing: appendSection() });
  done.add(part);
  writeFileAtomic(statePath, JSON.stringify({ args: process.argv.slice(2), done: [...done] }) + '\n');
}

for (const name of SECTIONS.filter((s) => only.includes(s) && !done.has(s))) {
  log(`${name}…`);
  const t0 = performance.now();
  const lines = await RUN[name]();
  const minutes = (performance.now() - t0) / 60000;
  log(`${name} done in ${(minutes * 60).toFixed(0)} s`);
  if (name !== 'robust') lines.push(`Measured ${new Date().toISOString().slice(0, 10)} on ${machine}, in ${minutes.toFixed(1)} min, by \`${command}\`.`, '');
  keep(name, lines);
}
rmSync(statePath, { force: true }); // the run has ended: the same command starts afresh
const written = findSection(readFileSync(path, 'utf8'), 'attacks') ?? '';
console.log(written);
// The section ends with its markers: the last lines say what each robust model came to.
for (const name of ROBUST_MODELS) {
  const worst = /\| \*\*worst case per image\*\* \|.*?\*\*([\d.]+%)\*\*/.exec(findSection(written, `robust:${name}`) ?? '')?.[1];
  if (worst) console.log(`${name}: robust accuracy ${worst}, worst case per image (RESULTS.md has the attacks and the protocol)`);
}
process.exit(0);
