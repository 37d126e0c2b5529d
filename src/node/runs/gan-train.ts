/**
 * A training run of `advx gan train`: a DCGAN or class-conditional DCGAN on 28×28 images, with
 * sample grids along the way, checkpoints every n steps and an exact resume, ending with the
 * (EMA) generator, an interpolation strip, metrics.jsonl, results.json and report.html.
 */
import type * as tf from '@tensorflow/tfjs-core';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { AdvxError } from '../../core/errors.ts';
import type { GanArch } from '../../gan/dcgan.ts';
import type { GanLoss } from '../../gan/losses.ts';
import { createImageGanState, disposeImageGanState, imageGanOptimizers, imageGanWeights, standingStatistics, trainImageGan, type Augmentation, type ImageGanState } from '../../gan/train-images.ts';
import { GanDivergedError } from '../../gan/update.ts';
import { loadDataset } from '../datasets/index.ts';
import { sampleGridLayout, saveGenerator, writeGanReport, writeInterpolation, writeRealGrid, writeSampleGrid, type GanMetric } from './gan-files.ts';
import { qualityProbe, QUALITY_SAMPLES } from './gan-quality.ts';
import { progress } from '../io/progress.ts';
import { writeRunConfig } from './options.ts';
import { writeResults } from './results.ts';
import { TrainingRun } from './training-run.ts';

/** What a GAN training run is made of (the options of `advx gan train`, parsed and checked). */
export interface GanTrainRunOptions {
  arch: GanArch;
  loss: GanLoss;
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
  augment: Augmentation[];
  sampleEvery: number;
  checkpointEvery: number;
  logEvery: number;
  resume?: boolean;
  quiet?: boolean;
  /** The command line, shown in the report. */
  command: string;
}

export interface GanTrainSummary {
  arch: GanArch;
  loss: GanLoss;
  data: string;
  steps: number;
  d_loss: number | null;
  g_loss: number | null;
  seconds_per_step: number | null;
  model: string;
  samples: string;
}

const pad = (step: number) => String(step).padStart(6, '0');

// The checkpoint takes one optimizer: both Adams behind one getWeights/setWeights.
const asOptimizer = (s: ImageGanState) => imageGanOptimizers(s) as unknown as tf.Optimizer;

/** Trains in `o.out` (a run folder the caller opened and locked); `config` is what config.json records. */
export async function runGanTrain(o: GanTrainRunOptions, config: object, extra: Record<string, unknown>): Promise<GanTrainSummary> {
  const log = (line: string) => void (o.quiet || process.stderr.write(line + '\n'));
  const data = loadDataset(o.data, { limit: { train: o.limit, test: 0 } }).train;
  const [h, w, c] = data.shape;
  if (h !== w) throw new AdvxError(`${o.data} images are ${h}×${w}; the DCGAN makes square images`);
  writeRunConfig(o.out, config, extra);

  const state: ImageGanState = createImageGanState({
    seed: o.seed,
    loss: o.loss,
    imageSize: h,
    channels: c,
    latentDim: o.latent,
    width: o.width,
    numClasses: o.arch === 'cgan' ? data.numClasses : 0,
    learningRate: o.lr,
    discriminatorLearningRate: o.dLr,
    beta1: o.beta1,
    beta2: o.beta2,
    ema: o.ema,
  });
  const run = new TrainingRun<GanMetric>(o.out, 'step');
  const samplesDir = join(o.out, 'samples');
  const layout = sampleGridLayout(state.generator.config);
  const sampleSeed = o.seed + 1_000_003;
  // The EMA generator samples with BN statistics measured on its own weights.
  const sampler = () => {
    if (state.ema) standingStatistics(state.ema, { seed: sampleSeed + 2 });
    return state.ema ?? state.generator;
  };
  const checkpoint = () => run.checkpoint(imageGanWeights(state), asOptimizer(state), state.step, metrics, { step: state.step });
  const samples: Array<{ src: string; step: number }> = [];
  let metrics: GanMetric[] = [];
  const quality = await qualityProbe(data, o.data, sampleSeed + 3);
  try {
    if (o.resume) {
      const resumed = await run.restore(imageGanWeights(state), asOptimizer(state));
      if (resumed) {
        state.step = resumed.position;
        metrics = resumed.history;
        log(`resuming ${o.out} after step ${state.step}`);
      }
    }
    for (let s = o.sampleEvery; s <= state.step; s += o.sampleEvery) {
      if (existsSync(join(samplesDir, `step-${pad(s)}.png`))) samples.push({ src: `samples/step-${pad(s)}.png`, step: s });
    }
    const bar = progress(`${o.arch} ${o.loss}`, o.steps, o.quiet);
    let lastCheckpoint = state.step;
    try {
      await trainImageGan(data, state, {
        loss: o.loss,
        steps: o.steps,
        seed: o.seed,
        batchSize: o.batch,
        dSteps: o.dSteps,
        gpWeight: o.gp,
        r1Gamma: o.r1,
        ema: o.ema,
        augment: o.augment,
        onStep: async (info) => {
          metrics.push({ step: info.step, d_loss: info.dLoss, g_loss: info.gLoss, d_grad_norm: info.dGradNorm, g_grad_norm: info.gGradNorm, seconds: info.seconds });
          bar.update(info.step, { d: info.dLoss, g: info.gLoss });
          if (info.step % o.sampleEvery === 0) {
            const src = `samples/step-${pad(info.step)}.png`;
            await writeSampleGrid(join(o.out, src), sampler(), { ...layout, seed: sampleSeed });
            samples.push({ src, step: info.step });
          }
          if (info.step % o.checkpointEvery === 0 || info.step === o.steps) {
            // FID/KID at each checkpoint, in the step's metrics.jsonl row (so a resumed run keeps its curve).
            if (quality) Object.assign(metrics.at(-1)!, await quality.measure(sampler()));
            await checkpoint();
            lastCheckpoint = info.step;
          } else if (info.step % o.logEvery === 0) run.writeMetrics(metrics);
        },
      });
    } catch (err) {
      bar.stop();
      if (err instanceof GanDivergedError) {
        run.writeMetrics(metrics);
        const kept = lastCheckpoint > 0 ? `The last good checkpoint (step ${lastCheckpoint}) is kept in ${join(o.out, 'checkpoint')}: --resume with a lower --lr (now ${o.lr}) to continue from it` : `No checkpoint had been written; start again with a lower --lr (now ${o.lr})`;
        throw new AdvxError(`${err.message}. ${kept}, or try --r1 or another --loss`);
      }
      throw err;
    }
    bar.stop();
    // A run that had nothing left to do (resumed at its last step) still writes its outputs.
    if (lastCheckpoint !== state.step || state.step === 0) await checkpoint();
    else run.writeMetrics(metrics);

    const generator = sampler();
    await writeSampleGrid(join(samplesDir, 'final.png'), generator, { ...layout, seed: sampleSeed });
    writeRealGrid(join(samplesDir, 'real.png'), data, layout);
    await writeInterpolation(join(o.out, 'interpolation.png'), generator, { rows: state.generator.config.numClasses || 8, cols: 10, seed: sampleSeed + 1 });
    await saveGenerator(join(o.out, 'model'), generator, { arch: o.arch, dataset: o.data, classNames: data.classNames, loss: o.loss, steps: state.step, ema: !!state.ema });
    const last = metrics.slice(-50);
    const mean = (k: 'd_loss' | 'g_loss' | 'seconds') => (last.length ? last.reduce((a, r) => a + r[k], 0) / last.length : null);
    const summary: GanTrainSummary = {
      arch: o.arch,
      loss: o.loss,
      data: o.data,
      steps: state.step,
      d_loss: mean('d_loss'),
      g_loss: mean('g_loss'),
      seconds_per_step: mean('seconds'),
      model: join(o.out, 'model'),
      samples: join(samplesDir, 'final.png'),
    };
    writeResults(o.out, 'gan train', summary);
    writeGanReport(o.out, {
      title: `advx gan: ${o.arch} (${o.loss}) on ${o.data}`,
      command: o.command,
      summary: Object.fromEntries(Object.entries(summary).filter(([k]) => !['model', 'samples'].includes(k)).map(([k, v]) => [k, v ?? 'n/a'])) as Record<string, string | number>,
      metrics,
      // The final grid once: a grid sampled at the last step is the same picture as final.png.
      samples: [...samples.filter((s) => s.step !== state.step), { src: 'samples/final.png', step: state.step }],
      real: 'samples/real.png',
      qualitySamples: quality ? Math.min(QUALITY_SAMPLES, data.count) : undefined,
      interpolation: 'interpolation.png',
    });
    log(`${state.step} steps; generator: ${summary.model}; report: ${join(o.out, 'report.html')}`);
    return summary;
  } finally {
    disposeImageGanState(state);
    quality?.dispose();
  }
}
