/**
 * `npm run results:gan-metrics`: validates the image-GAN metrics of src/gan/metrics.ts on real
 * data before they are trusted on generated samples. For MNIST and Fashion-MNIST, with each
 * dataset's own classifier (models/mnist-cnn, models/fashion-cnn; 128-d penultimate features), it
 * compares n test images with n images from the following sets:
 *   - real: the first n training images (the floor: what a perfect generator would score);
 *   - shifted: the same images translated by 2 px right and down (zero fill);
 *   - blurred: the same images through a 5×5 Gaussian blur, σ = 1 px;
 *   - noise: uniform noise in [0, 1] (the ceiling).
 * A sound metric orders them real < shifted, blurred < noise. It prints a Markdown table and writes
 * it between the gan-metrics markers of RESULTS.md (other sections untouched) and the raw numbers
 * to runs/gan-metrics/results.json.
 *
 *   npm run results:gan-metrics -- [--n 10000] [--datasets mnist,fashion] [--subsets 100] [--pr-n 2000] [--seed 0]
 */
import { mkdirSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../src/backend/index.ts';
import { Rng } from '../src/core/rng.ts';
import { classCoverage, classifierFeatures, frechetDistance, kernelInceptionDistance, precisionRecall } from '../src/gan/metrics.ts';
import { loadDataset } from '../src/node/datasets/index.ts';
import { writeFileAtomic } from '../src/node/io/files.ts';
import { appendSection, replaceSection } from './sections.ts';
import { loadClassifier } from '../src/node/io/load-model.ts';
import type { LayersModel } from '@tensorflow/tfjs-layers';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const DATASETS: Record<string, { data: string; model: string; label: string }> = {
  mnist: { data: 'mnist', model: 'models/mnist-cnn', label: 'MNIST' },
  fashion: { data: 'fashion-mnist', model: 'models/fashion-cnn', label: 'Fashion-MNIST' },
};
/** 5×5 Gaussian blur, σ = 1 px, zero padding outside the image. */
export function blur(x: tf.Tensor4D, sigma = 1): tf.Tensor4D {
  return tf.tidy(() => {
    const r = 2;
    const w: number[] = [];
    for (let i = -r; i <= r; i++) for (let j = -r; j <= r; j++) w.push(Math.exp(-(i * i + j * j) / (2 * sigma * sigma)));
    const s = w.reduce((a, b) => a + b, 0);
    const kernel = tf.tensor4d(w.map((v) => v / s), [2 * r + 1, 2 * r + 1, 1, 1]);
    return tf.depthwiseConv2d(x, kernel, 1, 'same');
  });
}

/** Translation by (dy, dx) ≥ 0 pixels, zero fill. */
export function shift(x: tf.Tensor4D, dy = 2, dx = 2): tf.Tensor4D {
  return tf.tidy(() => {
    const [, h, w] = x.shape;
    return tf.slice(tf.pad(x, [[0, 0], [dy, 0], [dx, 0], [0, 0]]), [0, 0, 0, 0], [-1, h, w, -1]);
  });
}

/** The scores of one image set against the test images (also gan-results.ts's real-data baselines). */
export interface Scores {
  fid: number;
  kid: { mean: number; std: number | null };
  precision: number;
  recall: number;
  classesCovered: number;
  klToUniform: number;
}

export interface Row extends Scores {
  dataset: string;
  set: string;
}

/** KID, precision/recall options of {@link compareWithTest}. */
export interface CompareOptions {
  subsets: number;
  subsetSize: number;
  seed: number;
  /** Precision/recall on the first prN images of each set. */
  prN: number;
}

/**
 * FID, KID, precision/recall and class coverage of images `x` against test features `fTest`, on the
 * classifier's features (the rows of the table below; `npm run results:gan` uses it for its real-data
 * baseline). `predicted`: the classifier's label of each image.
 */
export function compareWithTest(layers: LayersModel, x: tf.Tensor4D, fTest: tf.Tensor2D, o: CompareOptions): Scores & { predicted: Int32Array } {
  const f = classifierFeatures(layers, x);
  const logits = tf.tidy(() => layers.predict(x) as tf.Tensor2D);
  const fPr = tf.slice(f, [0, 0], [o.prN, -1]) as tf.Tensor2D;
  const fTestPr = tf.slice(fTest, [0, 0], [o.prN, -1]) as tf.Tensor2D;
  const argmax = tf.argMax(logits, 1);
  const predicted = argmax.dataSync() as Int32Array;
  const fid = frechetDistance(f, fTest);
  const kid = kernelInceptionDistance(f, fTest, { subsets: o.subsets, subsetSize: o.subsetSize, seed: o.seed });
  const pr = precisionRecall(fTestPr, fPr);
  const cov = classCoverage(logits, layers.outputs[0].shape[1] as number);
  tf.dispose([f, logits, fPr, fTestPr, argmax]);
  return { fid, kid, ...pr, classesCovered: cov.classesCovered, klToUniform: cov.klToUniform, predicted };
}

// Run as a script (not when imported for its helpers).
if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({
    options: {
      n: { type: 'string', default: '10000' },
      datasets: { type: 'string', default: Object.keys(DATASETS).join(',') },
      subsets: { type: 'string', default: '100' },
      'subset-size': { type: 'string', default: '1000' },
      'pr-n': { type: 'string', default: '2000' },
      seed: { type: 'string', default: '0' },
      threads: { type: 'string', default: '1' },
      /** The Markdown file to update (for checking the script without touching RESULTS.md). */
      results: { type: 'string', default: 'RESULTS.md' },
    },
  });
  const n = Number(values.n);
  const subsets = Number(values.subsets);
  const subsetSize = Number(values['subset-size']);
  const prN = Math.min(Number(values['pr-n']), n);
  const seed = Number(values.seed);
  for (const [k, v] of [['n', n], ['subsets', subsets], ['subset-size', subsetSize], ['pr-n', prN]] as const) {
    if (!Number.isInteger(v) || v < 2) throw new Error(`--${k} must be an integer ≥ 2, got ${v}`);
  }
  const datasets = values.datasets.split(',').map((s) => s.trim());
  for (const d of datasets) if (!DATASETS[d]) throw new Error(`unknown dataset "${d}": ${Object.keys(DATASETS).join(', ')}`);
  await useBackend('wasm', { threads: Number(values.threads) });
  const log = (s: string) => console.error(`[gan-metrics] ${s}`);
  const command = ['npm run results:gan-metrics', ...(process.argv.length > 2 ? ['--', ...process.argv.slice(2)] : [])].join(' ');

  const rows: Row[] = [];
  const t0 = performance.now();
  for (const name of datasets) {
    const spec = DATASETS[name];
    const { layers } = await loadClassifier(join(root, spec.model));
    if (!layers) throw new Error(`${spec.model} is not a LayersModel`);
    const { train, test } = loadDataset(spec.data, { limit: { train: n, test: n } });
    const count = Math.min(train.count, test.count);
    if (count < n) log(`${spec.label}: only ${count} images per split`);
    const [h, w, c] = test.shape;
    const toTensor = (images: Float32Array) => tf.tensor4d(images.subarray(0, count * h * w * c), [count, h, w, c]);
    const xTest = toTensor(test.images);
    const xTrain = toTensor(train.images);
    const rng = new Rng(seed);
    const sets: [string, () => tf.Tensor4D][] = [
      ['real (train)', () => tf.clone(xTrain)],
      ['shifted 2 px', () => shift(xTrain)],
      ['blurred σ=1', () => blur(xTrain)],
      ['uniform noise', () => tf.tensor4d(Float32Array.from({ length: count * h * w * c }, () => rng.next()), [count, h, w, c])],
    ];
    const fTest = classifierFeatures(layers, xTest);
    for (const [label, make] of sets) {
      const t = performance.now();
      const x = make();
      const { predicted: _p, ...m } = compareWithTest(layers, x, fTest, { subsets, subsetSize, seed, prN });
      rows.push({ dataset: spec.label, set: label, ...m });
      log(`${spec.label} ${label}: FID ${m.fid.toFixed(2)}, KID ${m.kid.mean.toExponential(2)} (${((performance.now() - t) / 1000).toFixed(1)} s)`);
      x.dispose();
    }
    tf.dispose([xTest, xTrain, fTest]);
  }
  const minutes = (performance.now() - t0) / 60000;

  const lines = [
    `FID and KID of the image-GAN metrics (\`src/gan/metrics.ts\`) on real data, each set of ${n} images against ${n} test images, on the 128-d penultimate features of each dataset's own classifier (\`models/mnist-cnn\`, \`models/fashion-cnn\`), not Inception: comparable only with numbers on the same classifier. KID: mean ± std over ${subsets} subsets of ${Math.min(subsetSize, n)}; precision/recall (Kynkäänniemi et al., k = 3) on the first ${prN} of each set; coverage: classes holding ≥ 10% of the uniform share of the classifier's labels, and KL(labels‖uniform). Real train images are the floor a perfect generator would reach, uniform noise the ceiling. Precision alone does not flag noise: its features collapse to a point that can fall inside the k-NN ball of an outlying real image.`,
    '',
    '| dataset | sample vs test | FID | KID | precision | recall | classes covered | KL to uniform |',
    '|---|---|---:|---:|---:|---:|---:|---:|',
    ...rows.map(
      (r) =>
        `| ${r.dataset} | ${r.set} | ${r.fid.toFixed(2)} | ${r.kid.mean.toFixed(3)}${r.kid.std === null ? ' (one subset)' : ` ± ${r.kid.std.toFixed(3)}`} | ${r.precision.toFixed(3)} | ${r.recall.toFixed(3)} | ${r.classesCovered} | ${r.klToUniform.toFixed(3)} |`,
    ),
    '',
    `Measured ${new Date().toISOString().slice(0, 10)} on ${cpus().length} × ${cpus()[0]?.model}, wasm backend, ${values.threads} thread(s), in ${minutes.toFixed(1)} min: \`${command}\`.`,
  ];
  console.log(lines.join('\n'));

  const outDir = join(root, 'runs/gan-metrics');
  mkdirSync(outDir, { recursive: true });
  writeFileAtomic(join(outDir, 'results.json'), JSON.stringify({ command, n, subsets, subsetSize, prN, seed, minutes, rows }, null, 2));
  replaceSection(resolve(root, values.results), 'gan-metrics', lines.join('\n'), {
    note: '(written by `npm run results:gan-metrics`)',
    newFile: '# Results\n',
    ifMissing: appendSection('## Image GAN metrics'),
  });
  log(`tensors left: ${tf.memory().numTensors}`);
}
