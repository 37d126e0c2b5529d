/**
 * `advx gan`: image GANs on MNIST / Fashion-MNIST.
 *   train     DCGAN or class-conditional DCGAN, with checkpoints and exact resume, metrics.jsonl,
 *             sample grids, the generator as a TF.js model and report.html
 *   sample    a grid of samples (or latent interpolation strips) from a saved generator
 *   evaluate  FID, KID, precision/recall and class coverage on a classifier's features
 */
import { Command, Option } from 'commander';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { AdvxError } from '../core/errors.ts';
import { GAN_ARCHS, parseGanArch } from '../gan/dcgan.ts';
import { parseGanLoss, type GanLoss } from '../gan/losses.ts';
import { classCoverage, classifierFeatures, frechetDistance, kernelInceptionDistance, precisionRecall } from '../gan/metrics.ts';
import {
  AUGMENTATIONS,
  GanDivergedError,
  createImageGanState,
  disposeImageGanState,
  sampleImages,
  standingStatistics,
  trainImageGan,
  type Augmentation,
  type ImageGanState,
} from '../gan/train-images.ts';
import { loadDataset, parseDatasetName } from '../node/datasets.ts';
import {
  loadGanCheckpoint,
  loadGenerator,
  readMetrics,
  sampleGridLayout,
  saveGanCheckpoint,
  saveGenerator,
  writeGanReport,
  writeInterpolation,
  writeMetrics,
  writeSampleGrid,
  type GanMetric,
} from '../node/gan-run.ts';
import { readRunConfig } from '../node/checkpoint.ts';
import { writeFileAtomic } from '../node/io.ts';
import { loadClassifier } from '../node/load-model.ts';
import { progress } from '../node/progress.ts';
import { checkOutFile, legacyConfig, openRunFolder } from '../node/run-folder.ts';
import { parseBackend } from '../backend/index.ts';
import { nonNegativeInt, seedInt, nonNegativeNumber, positiveInt, positiveNumber, printJson, startBackend, withBackend, type BackendFlags } from './common.ts';

/** --loss also takes "ls" for the least-squares GAN. */
function parseLoss(name: string): GanLoss {
  const key = name.trim().toLowerCase();
  if (key === 'ls') return 'lsgan';
  try {
    return parseGanLoss(key);
  } catch {
    throw new AdvxError(`unknown GAN loss "${name}": choose one of ns, minimax, hinge, ls (or lsgan), wgan-gp`);
  }
}

function parseAugment(list: string): Augmentation[] {
  if (list === 'none' || list === '') return [];
  const out = list.split(',').map((s) => s.trim());
  for (const a of out) if (!(AUGMENTATIONS as readonly string[]).includes(a)) throw new AdvxError(`--augment: unknown augmentation "${a}": use none, or a comma-separated list of ${AUGMENTATIONS.join(', ')}`);
  return out as Augmentation[];
}

function fraction(flag: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < 0 || n >= 1) throw new AdvxError(`${flag} must be a number in [0, 1), got "${v}"`);
    return n;
  };
}

interface TrainFlags extends BackendFlags {
  arch: string;
  loss: string;
  data: string;
  out: string;
  steps: number;
  batch: number;
  width: number;
  latent: number;
  limit?: number;
  seed: number;
  ema: number;
  r1: number;
  gp?: number;
  dSteps?: number;
  lr: number;
  dLr?: number;
  beta1: number;
  beta2: number;
  augment: string;
  sampleEvery: number;
  checkpointEvery: number;
  logEvery: number;
  resume?: boolean;
  json?: boolean;
  quiet?: boolean;
}

/**
 * What must match for --resume to continue a run rather than start another. --steps may grow, and
 * --lr / --d-lr may change (e.g. lowered to get past a divergence).
 */
const RUN_IDENTITY = ['arch', 'loss', 'data', 'batch', 'width', 'latent', 'limit', 'seed', 'ema', 'r1', 'gp', 'dSteps', 'beta1', 'beta2', 'augment'] as const;

function trainCommand(): Command {
  return withBackend(new Command('train'))
    .description('train a DCGAN (or a class-conditional one) on 28×28 images')
    .addOption(new Option('--arch <name>', `architecture: ${GAN_ARCHS.join(', ')} (cgan: class-conditional DCGAN, projection discriminator)`).default('dcgan'))
    .option('--loss <name>', 'ns, minimax, hinge, ls (least squares) or wgan-gp', 'ns')
    .option('--data <name>', 'training images: mnist or fashion', 'mnist')
    .requiredOption('--out <dir>', 'run folder')
    .option('--steps <n>', 'generator updates in all (a resumed run continues up to this)', nonNegativeInt('--steps'), 5000)
    .option('--batch <n>', 'images per batch', positiveInt('--batch'), 64)
    .option('--width <n>', 'base width: 64 is the DCGAN of WORKLOADS.md, 32 a faster one', positiveInt('--width'), 64)
    .option('--latent <n>', 'latent size', positiveInt('--latent'), 100)
    .option('--limit <n>', 'train on the first n training images', positiveInt('--limit'))
    .option('--seed <n>', 'seed for weights, batches, z and augmentation', seedInt('--seed'), 0)
    .option('--ema <beta>', "decay of the EMA of the generator's weights (the saved generator); 0: none", fraction('--ema'), 0.999)
    .option('--r1 <gamma>', 'R1 penalty γ on real images (0: off)', nonNegativeNumber('--r1'), 0)
    .option('--gp <lambda>', 'gradient penalty λ (default 10 for wgan-gp, else 0)', nonNegativeNumber('--gp'))
    .option('--d-steps <n>', 'discriminator updates per generator update (default 5 for wgan-gp, else 1)', positiveInt('--d-steps'))
    .option('--lr <x>', 'Adam learning rate', positiveNumber('--lr'), 2e-4)
    .option('--d-lr <x>', "the discriminator's learning rate (default --lr)", positiveNumber('--d-lr'))
    .option('--beta1 <x>', 'Adam β1', fraction('--beta1'), 0.5)
    .option('--beta2 <x>', 'Adam β2', fraction('--beta2'), 0.999)
    .option('--augment <list>', `DiffAugment on all images D sees: none, or a comma-separated list of ${AUGMENTATIONS.join(', ')}`, 'none')
    .option('--sample-every <n>', 'write a sample grid every n steps', positiveInt('--sample-every'), 500)
    .option('--checkpoint-every <n>', 'checkpoint every n steps', positiveInt('--checkpoint-every'), 500)
    .option('--log-every <n>', 'rewrite metrics.jsonl every n steps (it has one line per step)', positiveInt('--log-every'), 50)
    .option('--resume', 'continue the run in --out from its last checkpoint')
    .option('--json', 'print a JSON summary as the last line')
    .option('--quiet', 'no progress output')
    .action((flags: TrainFlags) => train(flags));
}

function checkTrainFlags(flags: TrainFlags): { arch: ReturnType<typeof parseGanArch>; loss: GanLoss; augment: Augmentation[] } {
  const arch = parseGanArch(flags.arch);
  const loss = parseLoss(flags.loss);
  const augment = parseAugment(flags.augment);
  parseDatasetName(flags.data);
  parseBackend(flags.backend);
  // A new, empty or own run folder, locked; a started run continues only with --resume.
  const configPath = join(flags.out, 'config.json');
  const started = (dir: string) => existsSync(join(dir, 'config.json'));
  openRunFolder(flags.out, { command: 'gan train', started, legacy: legacyConfig(['arch', 'loss', 'data']), runName: 'a GAN run', resume: flags.resume });
  if (flags.resume && existsSync(configPath)) {
    const previous = readRunConfig(configPath);
    for (const key of RUN_IDENTITY) {
      if (previous[key] !== flags[key]) throw new AdvxError(`cannot resume ${flags.out}: it was started with --${key.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase())} ${previous[key]}, not ${flags[key]}`);
    }
  }
  return { arch, loss, augment };
}

const pad = (step: number) => String(step).padStart(6, '0');

async function train(flags: TrainFlags): Promise<void> {
  const { arch, loss, augment } = checkTrainFlags(flags);
  const backend = await startBackend(flags);
  const log = (line: string) => void (flags.quiet || process.stderr.write(line + '\n'));
  const data = loadDataset(flags.data, { limit: { train: flags.limit, test: 0 } }).train;
  const [h, w, c] = data.shape;
  if (h !== w) throw new AdvxError(`${flags.data} images are ${h}×${w}; the DCGAN makes square images`);
  const { resume: _r, json: _j, quiet: _q, steps: _s, ...config } = flags;
  writeFileAtomic(join(flags.out, 'config.json'), JSON.stringify({ ...config, backend }, null, 2));
  const command = `advx ${process.argv.slice(2).join(' ')}`;

  const state: ImageGanState = createImageGanState({
    seed: flags.seed,
    loss,
    imageSize: h,
    channels: c,
    latentDim: flags.latent,
    width: flags.width,
    numClasses: arch === 'cgan' ? data.numClasses : 0,
    learningRate: flags.lr,
    discriminatorLearningRate: flags.dLr,
    beta1: flags.beta1,
    beta2: flags.beta2,
    ema: flags.ema,
  });
  const samplesDir = join(flags.out, 'samples');
  const layout = sampleGridLayout(state.generator.config);
  const sampleSeed = flags.seed + 1_000_003;
  // The EMA generator samples with BN statistics measured on its own weights.
  const sampler = () => {
    if (state.ema) standingStatistics(state.ema, { seed: sampleSeed + 2 });
    return state.ema ?? state.generator;
  };
  const samples: Array<{ src: string; step: number }> = [];
  let metrics: GanMetric[] = [];
  try {
    if (flags.resume) {
      const step = await loadGanCheckpoint(flags.out, state);
      metrics = readMetrics(flags.out, step);
      if (step) log(`resuming ${flags.out} after step ${step}`);
    }
    for (let s = flags.sampleEvery; s <= state.step; s += flags.sampleEvery) {
      if (existsSync(join(samplesDir, `step-${pad(s)}.png`))) samples.push({ src: `samples/step-${pad(s)}.png`, step: s });
    }
    const bar = progress(`${arch} ${loss}`, flags.steps, flags.quiet);
    let lastCheckpoint = state.step;
    try {
      await trainImageGan(data, state, {
        loss,
        steps: flags.steps,
        seed: flags.seed,
        batchSize: flags.batch,
        dSteps: flags.dSteps,
        gpWeight: flags.gp,
        r1Gamma: flags.r1,
        ema: flags.ema,
        augment,
        onStep: async (info) => {
          metrics.push({ step: info.step, d_loss: info.dLoss, g_loss: info.gLoss, d_grad_norm: info.dGradNorm, g_grad_norm: info.gGradNorm, seconds: info.seconds });
          bar.update(info.step, { d: info.dLoss, g: info.gLoss });
          if (info.step % flags.sampleEvery === 0) {
            const src = `samples/step-${pad(info.step)}.png`;
            await writeSampleGrid(join(flags.out, src), sampler(), { ...layout, seed: sampleSeed });
            samples.push({ src, step: info.step });
          }
          const checkpoint = info.step % flags.checkpointEvery === 0 || info.step === flags.steps;
          // Metrics first, then the checkpoint: resume drops metric lines past the checkpoint's step.
          if (checkpoint || info.step % flags.logEvery === 0) writeMetrics(flags.out, metrics);
          if (checkpoint) {
            await saveGanCheckpoint(flags.out, state);
            lastCheckpoint = info.step;
          }
        },
      });
    } catch (err) {
      bar.stop();
      if (err instanceof GanDivergedError) {
        writeMetrics(flags.out, metrics);
        const kept = lastCheckpoint > 0 ? `The last good checkpoint (step ${lastCheckpoint}) is kept in ${join(flags.out, 'checkpoint')}: --resume with a lower --lr (now ${flags.lr}) to continue from it` : `No checkpoint had been written; start again with a lower --lr (now ${flags.lr})`;
        throw new AdvxError(`${err.message}. ${kept}, or try --r1 or another --loss`);
      }
      throw err;
    }
    bar.stop();
    writeMetrics(flags.out, metrics);
    // A run that had nothing left to do (resumed at its last step) still writes its outputs.
    if (lastCheckpoint !== state.step || state.step === 0) await saveGanCheckpoint(flags.out, state);

    const generator = sampler();
    await writeSampleGrid(join(samplesDir, 'final.png'), generator, { ...layout, seed: sampleSeed });
    await writeInterpolation(join(flags.out, 'interpolation.png'), generator, { rows: state.generator.config.numClasses || 8, cols: 10, seed: sampleSeed + 1 });
    await saveGenerator(join(flags.out, 'model'), generator, { arch, dataset: flags.data, classNames: data.classNames, loss, steps: state.step, ema: !!state.ema });
    const last = metrics.slice(-50);
    const mean = (k: 'd_loss' | 'g_loss' | 'seconds') => (last.length ? last.reduce((a, r) => a + r[k], 0) / last.length : null);
    const summary = {
      arch,
      loss,
      data: flags.data,
      steps: state.step,
      d_loss: mean('d_loss'),
      g_loss: mean('g_loss'),
      seconds_per_step: mean('seconds'),
      model: join(flags.out, 'model'),
      samples: join(samplesDir, 'final.png'),
    };
    writeGanReport(flags.out, {
      title: `advx gan: ${arch} (${loss}) on ${flags.data}`,
      command,
      summary: Object.fromEntries(Object.entries(summary).filter(([k]) => !['model', 'samples'].includes(k)).map(([k, v]) => [k, v ?? 'n/a'])) as Record<string, string | number>,
      metrics,
      samples: [...samples, { src: 'samples/final.png', step: state.step }],
      interpolation: 'interpolation.png',
    });
    log(`${state.step} steps; generator: ${summary.model}; report: ${join(flags.out, 'report.html')}`);
    if (flags.json) printJson(summary);
  } finally {
    disposeImageGanState(state);
  }
}

interface SampleFlags extends BackendFlags {
  model: string;
  n: number;
  class?: number;
  seed: number;
  out: string;
  cols?: number;
  interpolate?: boolean;
  json?: boolean;
}

function sampleCommand(): Command {
  return withBackend(new Command('sample'))
    .description('write a grid of samples (or latent interpolation strips) from a generator saved by `advx gan train`')
    .requiredOption('--model <dir>', 'the model/ folder of a gan train run')
    .option('--n <n>', 'images (with --interpolate: rows of --cols images)', positiveInt('--n'), 64)
    .option('--class <k>', 'class of every image (conditional generators; default: k mod classes)', nonNegativeInt('--class'))
    .option('--seed <n>', 'seed of z', seedInt('--seed'), 0)
    .option('--cols <n>', 'images per row (default √n, or 10 for --interpolate)', positiveInt('--cols'))
    .option('--interpolate', 'latent interpolation: --n rows, each a slerp between two random z')
    .requiredOption('--out <file>', 'PNG file to write')
    .option('--json', 'print a JSON summary as the last line')
    .action((flags: SampleFlags) => sample(flags));
}

async function sample(flags: SampleFlags): Promise<void> {
  parseBackend(flags.backend);
  checkOutFile(flags.out); // a PNG file, not a run folder
  await startBackend(flags);
  const { generator, info } = await loadGenerator(flags.model);
  try {
    const k = generator.config.numClasses;
    if (flags.class !== undefined) {
      if (!k) throw new AdvxError(`--class: the generator in ${flags.model} is unconditional (arch ${info.arch})`);
      if (flags.class >= k) throw new AdvxError(`--class must be in [0, ${k - 1}], got ${flags.class}`);
    }
    let count: number;
    if (flags.interpolate) {
      const cols = flags.cols ?? 10;
      if (cols < 2) throw new AdvxError('--cols must be at least 2 for --interpolate');
      const rows = flags.n;
      count = rows * cols;
      await writeInterpolation(flags.out, generator, { rows, cols, seed: flags.seed, labels: k ? Array.from({ length: rows }, (_, r) => flags.class ?? r % k) : undefined });
    } else {
      const cols = flags.cols ?? Math.ceil(Math.sqrt(flags.n));
      count = flags.n;
      const labels = k ? Array.from({ length: flags.n }, (_, i) => flags.class ?? i % k) : undefined;
      await writeSampleGrid(flags.out, generator, { n: flags.n, cols, seed: flags.seed, labels });
    }
    process.stderr.write(`wrote ${count} images to ${flags.out}\n`);
    if (flags.json) printJson({ out: flags.out, images: count, arch: info.arch });
  } finally {
    generator.model.dispose();
  }
}

interface EvaluateFlags extends BackendFlags {
  model: string;
  data?: string;
  n: number;
  classifier?: string;
  seed: number;
  json?: boolean;
}

function evaluateCommand(): Command {
  return withBackend(new Command('evaluate'))
    .description("FID, KID, precision/recall and class coverage of a generator's samples, on a classifier's penultimate features")
    .requiredOption('--model <dir>', 'the model/ folder of a gan train run')
    .option('--data <name>', 'real images to compare with (test split; default: the dataset it was trained on)')
    .option('--n <n>', 'generated and real images', positiveInt('--n'), 2000)
    .option('--classifier <dir>', 'classifier whose features are compared (default models/mnist-cnn or models/fashion-cnn)')
    .option('--seed <n>', 'seed of z', seedInt('--seed'), 0)
    .option('--json', 'print the metrics as JSON on the last line')
    .action((flags: EvaluateFlags) => evaluate(flags));
}

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The default classifier of a dataset, found from the working folder or the advx folder. */
function defaultClassifier(data: string): string {
  const rel = parseDatasetName(data).startsWith('fashion') ? 'models/fashion-cnn' : 'models/mnist-cnn';
  return existsSync(rel) ? rel : resolve(ROOT, rel);
}

async function evaluate(flags: EvaluateFlags): Promise<void> {
  await startBackend(flags);
  const { generator, info } = await loadGenerator(flags.model);
  const data = flags.data ?? info.dataset;
  const classifierPath = flags.classifier ?? defaultClassifier(data);
  const loaded = await loadClassifier(classifierPath);
  const tensors: tf.Tensor[] = [];
  try {
    if (!loaded.layers) throw new AdvxError(`--classifier ${classifierPath}: a LayersModel is needed for its features (got a GraphModel)`);
    const real = loadDataset(data, { limit: { train: 0, test: flags.n } }).test;
    const g = generator.config;
    const want = [g.imageSize, g.imageSize, g.channels].join('×');
    if (real.shape.join('×') !== want) throw new AdvxError(`${data} images are ${real.shape.join('×')}, the generator makes ${want}`);
    if (real.count < flags.n) process.stderr.write(`${data} has ${real.count} test images: comparing ${flags.n} samples with ${real.count} real ones\n`);
    const n = flags.n;
    const k = g.numClasses;
    const labels = k ? Array.from({ length: n }, (_, i) => i % k) : undefined;
    const fakePixels = await sampleImages(generator, n, flags.seed, labels);
    const fakeX = tf.tensor4d(fakePixels, [n, g.imageSize, g.imageSize, g.channels]);
    const realX = tf.tensor4d(real.images, [real.count, ...real.shape]);
    tensors.push(fakeX, realX);
    const model = loaded.layers;
    const fakeF = classifierFeatures(model, fakeX);
    const realF = classifierFeatures(model, realX);
    tensors.push(fakeF, realF);
    // Class probabilities of the samples, in batches.
    const probs: tf.Tensor2D[] = [];
    for (let s = 0; s < n; s += 256) probs.push(tf.tidy(() => loaded.classifier.probabilities(tf.slice(fakeX, [s, 0, 0, 0], [Math.min(256, n - s), -1, -1, -1]))));
    const p = tf.concat(probs) as tf.Tensor2D;
    tf.dispose(probs);
    tensors.push(p);
    const numClasses = loaded.classifier.info.numClasses;
    const coverage = classCoverage(p, numClasses);
    const fid = frechetDistance(realF, fakeF);
    const kid = kernelInceptionDistance(realF, fakeF, { seed: flags.seed });
    const pr = precisionRecall(realF, fakeF);
    const result: Record<string, unknown> = {
      fid,
      kid: kid.mean,
      kid_std: kid.std,
      classes_covered: coverage.classesCovered,
      kl_to_uniform: coverage.klToUniform,
      precision: pr.precision,
      recall: pr.recall,
      histogram: coverage.histogram,
      n,
      real: real.count,
      data,
      classifier: classifierPath,
      arch: info.arch,
    };
    if (labels) {
      // cGAN: how often the classifier agrees with the label the generator was asked for.
      const argmax = tf.argMax(p, 1);
      const predicted = (await argmax.data()) as Int32Array;
      argmax.dispose();
      result.class_accuracy = predicted.reduce((a, y, i) => a + (y === labels[i] ? 1 : 0), 0) / n;
    }
    if (!flags.json) {
      process.stdout.write(`FID ${fid.toFixed(3)}  KID ${kid.mean.toFixed(4)} ± ${kid.std.toFixed(4)}  precision ${pr.precision.toFixed(3)}  recall ${pr.recall.toFixed(3)}  classes covered ${coverage.classesCovered}/${numClasses}\n`);
    } else printJson(result);
  } finally {
    tf.dispose(tensors);
    generator.model.dispose();
    loaded.layers?.dispose();
  }
}

export function ganCommand(): Command {
  return new Command('gan')
    .description('image GANs: train a DCGAN or conditional DCGAN, sample from it, evaluate it (FID, KID, coverage)')
    .addCommand(trainCommand())
    .addCommand(sampleCommand())
    .addCommand(evaluateCommand());
}
