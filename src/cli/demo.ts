/**
 * `advx demo`: the end-to-end job — load the shipped MNIST CNN (or train a small one), measure its
 * accuracy, attack it with FGSM and PGD at several ε, and write a report folder.
 */
import { Command } from 'commander';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { subset } from '../data/types.ts';
import { accuracy } from '../eval/accuracy.ts';
import { Classifier } from '../models/classifier.ts';
import { buildModel } from '../models/zoo.ts';
import { fitClassifier } from '../train/fit.ts';
import { loadDataset } from '../node/datasets/index.ts';
import { loadClassifier } from '../node/io/load-model.ts';
import { runAttack } from '../node/runs/attack.ts';
import { writeFileAtomic } from '../node/io/files.ts';
import { writeResults as writeRunResults } from '../node/runs/results.ts';
import { openRunFolder } from '../node/runs/folder.ts';
import { parseBackend } from '../backend/index.ts';
import { renderReport, type Block } from '../report/html.ts';
import { lineChartSvg, type Series } from '../report/plot.ts';
import { svgDataUri } from '../node/runs/reports.ts';
import type { ExampleResult } from '../node/runs/attack.ts';
import { saveModel } from '../node/io/model-files.ts';
import { SHIPPED_MODELS_DIR } from '../node/io/packages.ts';
import { progress, progressCounter } from '../node/io/progress.ts';
import { quietOption, nonNegativeInt, seedInt, positiveInt, printJson, startBackend, withBackend, type BackendFlags } from './common.ts';
import { COMMANDS } from './commands.ts';

interface DemoFlags extends BackendFlags {
  out: string;
  model: string;
  train?: boolean;
  limit: number;
  seed: number;
  json?: boolean;
  quiet?: boolean;
}

const SHIPPED = join(SHIPPED_MODELS_DIR, 'mnist-cnn');

export function demoCommand(): Command {
  return withBackend(new Command('demo'))
    .description(COMMANDS.demo.summary)
    .requiredOption('--out <dir>', 'report folder')
    .option('--model <path>', 'model to attack', SHIPPED)
    .option('--train', 'train a small CNN (1 epoch on 10 000 images) instead of loading --model')
    .option('--limit <n>', 'test images to attack', positiveInt('--limit'), 200)
    .option('--seed <n>', 'seed', seedInt('--seed'), 0)
    .option('--json', 'print a JSON summary as the last line')
    .addOption(quietOption())
    .action((flags: DemoFlags) => demo(flags));
}

async function demo(flags: DemoFlags): Promise<void> {
  parseBackend(flags.backend);
  const run = openRunFolder(flags.out, { command: 'demo' });
  const backend = await startBackend(flags);
  const splits = loadDataset('mnist');
  const log = (s: string) => process.stderr.write(s + '\n');
  let classifier: Classifier;
  let source: string;
  if (flags.train || !existsSync(join(flags.model, 'model.json'))) {
    if (!flags.quiet) log('training a CNN for 1 epoch on 10 000 MNIST images…');
    const spec = { inputShape: [28, 28, 1], numClasses: 10, seed: flags.seed };
    const model = buildModel('cnn', spec);
    // Progress on stderr (also with --json): steps of the epoch, with the running loss and accuracy.
    let bar: ReturnType<typeof progress> | undefined;
    await fitClassifier(model, subset(splits.train, 0, 10000), {
      epochs: 1,
      batchSize: 64,
      learningRate: 1e-3,
      seed: flags.seed,
      logEvery: 10,
      onBatch: (b) => {
        bar ??= progress('demo training: steps', b.stepsPerEpoch, flags.quiet);
        bar.update(b.step, { loss: b.loss, accuracy: b.accuracy });
      },
    }).finally(() => bar?.stop());
    await saveModel(model, run.path('model'), { dataset: 'mnist', classNames: splits.train.classNames, inputShape: spec.inputShape, numClasses: 10 });
    classifier = new Classifier((x) => model.apply(x) as tf.Tensor, { ...spec, bounds: [0, 1] });
    source = 'trained by the demo (1 epoch, 10 000 images)';
  } else {
    classifier = (await loadClassifier(flags.model)).classifier;
    source = flags.model;
  }
  const testAccuracy = await accuracy(classifier, splits.test);
  log(`clean accuracy on the 10 000 MNIST test images: ${(testAccuracy * 100).toFixed(2)}%`);

  const data = subset(splits.test, 0, Math.min(flags.limit, splits.test.count));
  const rows: Array<Array<string | number>> = [];
  const results: Array<Record<string, unknown>> = [];
  const blocks: Block[] = [];
  const ATTACKS = ['fgsm', 'pgd'];
  const EPS = [0.1, 0.2, 0.3];
  // Per attack and ε, which examples the model still classified right: for the curve's worst case.
  const robust = new Map<string, boolean[]>();
  let cleanOnSubset = NaN;
  for (const attack of ATTACKS) {
    for (const eps of EPS) {
      const bar = progressCounter(`demo ${attack} ε=${eps}: examples`, flags.quiet);
      const s = await runAttack(classifier, data, { attack, eps, steps: 40, stepSize: 0.01, seed: flags.seed, images: eps === 0.3 ? 8 : 0, onProgress: bar.update }, run.sub(`${attack}-eps${eps}`)).finally(() => bar.stop());
      log(`${attack} ε=${eps}: adversarial accuracy ${(s.adversarial_accuracy * 100).toFixed(1)}% (${s.seconds.toFixed(1)} s)`);
      robust.set(`${attack}@${eps}`, stillRight(s.examples));
      cleanOnSubset = s.clean_accuracy;
      rows.push([attack === 'pgd' ? 'PGD-40' : 'FGSM', eps, s.clean_accuracy, s.adversarial_accuracy, s.success_rate, s.mean_linf, s.seconds]);
      results.push({ attack, eps, clean_accuracy: s.clean_accuracy, adversarial_accuracy: s.adversarial_accuracy, success_rate: s.success_rate, mean_linf: s.mean_linf, seconds: s.seconds });
      if (eps === 0.3) blocks.push({ kind: 'image', src: `${attack}-eps${eps}/grid.png`, caption: `${attack.toUpperCase()} ε=0.3: original | perturbation (blue −, red +) | adversarial` });
    }
  }
  // Accuracy against ε (0 = clean), one line per attack and the per-example worst case over both.
  const name = (a: string) => (a === 'pgd' ? 'PGD-40' : 'FGSM');
  const xs = [0, ...EPS];
  const series: Series[] = [
    ...ATTACKS.map((a) => ({ name: name(a), x: xs, y: [cleanOnSubset, ...EPS.map((e) => results.find((r) => r.attack === a && r.eps === e)!.adversarial_accuracy as number)] })),
    { name: 'worst case', x: xs, y: [cleanOnSubset, ...EPS.map((e) => worstCase(ATTACKS.map((a) => robust.get(`${a}@${e}`)!)))], dashed: true },
  ];
  const curveSvg = lineChartSvg(series, { title: `Accuracy against ε, first ${data.count} MNIST test images`, xLabel: 'ε (L∞)', yLabel: 'accuracy', yDomain: [0, 1] });
  writeFileAtomic(run.path('curve.svg'), curveSvg);
  const summary = { model: source, backend, test_accuracy: testAccuracy, attacked: data.count, results };
  writeRunResults(run.dir, 'demo', summary);
  writeFileAtomic(
    run.path('report.html'),
    renderReport('advx demo: adversarial examples against an MNIST CNN', [
      { kind: 'text', text: `Model: ${source}. Backend: ${backend}. Clean accuracy on the MNIST test set: ${(testAccuracy * 100).toFixed(2)}%.` },
      { kind: 'heading', text: `Attacks on the first ${data.count} test images (L∞)` },
      { kind: 'table', columns: ['attack', 'ε', 'clean acc.', 'adversarial acc.', 'success rate', 'mean L∞', 'seconds'], rows },
      { kind: 'image', src: svgDataUri(curveSvg), caption: 'Accuracy against ε (0 = clean) per attack, and the per-example worst case over the attacks (dashed)' },
      ...blocks,
    ]),
  );
  log(`report: ${join(flags.out, 'report.html')}`);
  if (flags.json) printJson(summary);
}

/** Per example (in order of index): still classified right after the attack. */
function stillRight(examples: ExampleResult[]): boolean[] {
  return [...examples].sort((a, b) => a.index - b.index).map((e) => e.adversarial_prediction === e.label);
}

/** Share of examples that every attack left classified right. */
export function worstCase(perAttack: boolean[][]): number {
  const n = perAttack[0]?.length ?? 0;
  if (!n) return NaN;
  let right = 0;
  for (let i = 0; i < n; i++) if (perAttack.every((r) => r[i])) right++;
  return right / n;
}
