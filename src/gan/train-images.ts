/**
 * The image GAN training loop (DCGAN, class-conditional DCGAN), isomorphic. Each step:
 *
 *   repeat dSteps times:  x ~ data (mapped to [−1, 1]), z ~ N(0, I), y_fake ~ U{classes}
 *     θ_D ← Adam(∇ L_D(D(T(x)), D(T(G(z)))) + λ·GP + γ/2·R1)
 *   z ~ N(0, I);  θ_G ← Adam(∇ L_G(D(T(G(z)))));  θ_EMA ← β_t θ_EMA + (1 − β_t) θ_G
 *
 * T is an optional differentiable augmentation of both real and fake images (DiffAugment, Zhao et
 * al. 2020: random translation by up to 1/8 of the size with zero padding, random cutout of a
 * half-size square), which keeps D from memorising a small training set.
 *
 * Every random draw of step t comes from an Rng seeded by (seed, t), so a run resumed from a
 * checkpoint at step t continues exactly as the uninterrupted run. Each update reads back its loss
 * and gradient norm before applying the gradients (src/train/core.ts): a non-finite one stops
 * training with a GanDivergedError before it reaches the weights, which stay as they were after the
 * last good update, as does the optimizers' state.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers';
import { AdvxError, assertOption } from '../core/errors.ts';
import { Rng } from '../core/rng.ts';
import { stepRng } from '../train/core.ts';
import { restoreOptimizerWeights } from '../train/optimizer-state.ts';
import type { ImageDataset } from '../data/types.ts';
import {
  buildDcgan,
  cloneGenerator,
  generate,
  generatorVariables,
  generatorWeights,
  type DcganConfig,
  type DcganOptions,
  type Discriminator,
  type Generator,
} from './dcgan.ts';
import { discriminatorLoss, generatorLoss, gradientPenalty, r1Penalty, type GanLoss } from './losses.ts';
import { sampleLatent } from './train.ts';
import { checkGanOptions, ganUpdateSettings, guardedGanUpdate, type GanOptions, type GanUpdateSettings } from './update.ts';

export const AUGMENTATIONS = ['translation', 'cutout'] as const;
export type Augmentation = (typeof AUGMENTATIONS)[number];

/** Defaults: batch size 64; Adam learning rate 2e-4 for both networks, β1 0.5, β2 0.999 (DCGAN's). */
export interface ImageGanOptions extends GanOptions {
  /** Train until this many steps are done in all (counting `state.step` already done). */
  steps: number;
  /** DiffAugment transformations applied to every image D sees; default none. */
  augment?: Augmentation[];
  /** Pixel range of `data.images`: [0, 1] (default, mapped to [−1, 1]) or [−1, 1]. */
  dataRange?: [number, number];
  /** Called after every step (awaited: a checkpoint may be written there). */
  onStep?: (info: ImageGanStepInfo, state: ImageGanState) => void | Promise<void>;
}

export interface ImageGanStepInfo {
  step: number;
  steps: number;
  /** The last discriminator update's loss, penalties included. */
  dLoss: number;
  gLoss: number;
  /** Gradient norms ‖∇θ L‖₂ of the last updates. */
  dGradNorm: number;
  gGradNorm: number;
  seconds: number;
}

/** Networks and optimizers: everything a checkpoint must hold (with the step). */
export interface ImageGanState {
  generator: Generator;
  discriminator: Discriminator;
  ema?: Generator;
  optG: tf.Optimizer;
  optD: tf.Optimizer;
  /** Steps done. */
  step: number;
}

/** Fresh networks and optimizers. The WGAN-GP critic gets layer norm instead of batch norm unless told otherwise. */
export function createImageGanState(o: DcganOptions & Partial<ImageGanOptions>): ImageGanState {
  checkGanOptions(o);
  const lrG = o.learningRate ?? 2e-4;
  const lrD = o.discriminatorLearningRate ?? lrG;
  const nets = buildDcgan({ ...o, discriminatorNorm: o.discriminatorNorm ?? (o.loss === 'wgan-gp' ? 'layer' : 'batch') });
  const [b1, b2] = [o.beta1 ?? 0.5, o.beta2 ?? 0.999];
  return {
    ...nets,
    ema: o.ema ? cloneGenerator(nets.generator) : undefined,
    optG: tf.train.adam(lrG, b1, b2),
    optD: tf.train.adam(lrD, b1, b2),
    step: 0,
  };
}

export function disposeImageGanState(s: ImageGanState): void {
  s.generator.model.dispose();
  s.discriminator.dispose();
  s.ema?.model.dispose();
  s.optG.dispose();
  s.optD.dispose();
}

/** The state's weights in a fixed order (G, EMA, D; the variables themselves), for checkpoints. */
export function imageGanWeights(s: ImageGanState): { getWeights(): tf.Tensor[]; setWeights(weights: tf.Tensor[]): void } {
  const parts = () => [generatorWeights(s.generator), s.ema ? generatorWeights(s.ema) : [], s.discriminator.getWeights()];
  return {
    getWeights: () => parts().flat(),
    setWeights(weights) {
      const [g, e, d] = parts().map((p) => p.length);
      if (weights.length !== g + e + d) throw new AdvxError(`a GAN checkpoint of ${weights.length} weight tensors does not fit these networks (${g + e + d})`);
      s.generator.model.setWeights(weights.slice(0, g));
      s.ema?.model.setWeights(weights.slice(g, g + e));
      s.discriminator.setWeights(weights.slice(g + e));
    },
  };
}

/**
 * Both Adam optimizers seen as one (their weights prefixed g/ and d/), so that one checkpoint
 * (src/node/io/checkpoint.ts) saves and restores both.
 */
export function imageGanOptimizers(s: ImageGanState): Pick<tf.Optimizer, 'getWeights' | 'setWeights'> {
  const both = { g: s.optG, d: s.optD };
  return {
    async getWeights() {
      const out: Array<{ name: string; tensor: tf.Tensor }> = [];
      for (const [k, opt] of Object.entries(both)) for (const w of await opt.getWeights()) out.push({ name: `${k}/${w.name}`, tensor: w.tensor });
      return out;
    },
    async setWeights(weights) {
      for (const [k, opt] of Object.entries(both)) {
        const mine = weights.filter((w) => w.name.startsWith(`${k}/`)).map((w) => ({ name: w.name.slice(k.length + 1), tensor: w.tensor }));
        if (!mine.length) continue;
        await restoreOptimizerWeights(opt, mine);
      }
    },
  };
}

/** A batch of `n` images (indices drawn with replacement) in [−1, 1], with their labels. */
export function imageBatch(data: ImageDataset, n: number, rng: Rng, range: [number, number] = [0, 1]): { x: tf.Tensor4D; labels: tf.Tensor1D } {
  const [h, w, c] = data.shape;
  const size = h * w * c;
  const x = new Float32Array(n * size);
  const labels = new Int32Array(n);
  const [lo, hi] = range;
  const scale = 2 / (hi - lo);
  for (let k = 0; k < n; k++) {
    const i = rng.int(data.count);
    const src = data.images.subarray(i * size, (i + 1) * size);
    for (let j = 0; j < size; j++) x[k * size + j] = (src[j] - lo) * scale - 1;
    labels[k] = data.labels[i] ?? 0;
  }
  return { x: tf.tensor4d(x, [n, h, w, c]), labels: tf.tensor1d(labels, 'int32') };
}

/** n uniformly random class labels (int32). */
function randomLabels(rng: Rng, n: number, numClasses: number): tf.Tensor1D {
  return tf.tensor1d(Int32Array.from({ length: n }, () => rng.int(numClasses)), 'int32');
}

/** Shift matrices [n, size, size]: row r of matrix k picks source row r − shift_k (none outside: zero padding). */
function shiftMatrices(shifts: number[], size: number): tf.Tensor3D {
  const m = new Float32Array(shifts.length * size * size);
  shifts.forEach((s, k) => {
    for (let r = 0; r < size; r++) {
      const src = r - s;
      if (src >= 0 && src < size) m[(k * size + r) * size + src] = 1;
    }
  });
  return tf.tensor3d(m, [shifts.length, size, size]);
}

/**
 * A DiffAugment transformation with its random parameters fixed (drawn from `rng`): applied as a
 * differentiable function of the images (batched matrix products and a mask), so gradients reach G
 * and R1/GP can differentiate through it twice. Returns the identity when `augment` is empty.
 */
export function diffAugment(augment: readonly Augmentation[], n: number, shape: readonly number[], rng: Rng): (x: tf.Tensor4D) => tf.Tensor4D {
  const [h, w, c] = shape;
  const fns: Array<(x: tf.Tensor4D) => tf.Tensor4D> = [];
  if (augment.includes('translation')) {
    const maxY = Math.floor(h / 8 + 0.5);
    const maxX = Math.floor(w / 8 + 0.5);
    const dy = Array.from({ length: n }, () => rng.int(2 * maxY + 1) - maxY);
    const dx = Array.from({ length: n }, () => rng.int(2 * maxX + 1) - maxX);
    fns.push((x) =>
      tf.tidy(() => {
        const ty = shiftMatrices(dy, h);
        const tx = shiftMatrices(dx, w);
        const rows = tf.reshape(tf.matMul(ty, tf.reshape(x, [n, h, w * c])), [n, h, w, c]);
        const cols = tf.matMul(tx, tf.reshape(tf.transpose(rows, [0, 2, 1, 3]), [n, w, h * c]));
        return tf.transpose(tf.reshape(cols, [n, w, h, c]), [0, 2, 1, 3]) as tf.Tensor4D;
      }),
    );
  }
  if (augment.includes('cutout')) {
    const [ch, cw] = [Math.floor(h / 2 + 0.5), Math.floor(w / 2 + 0.5)];
    const mask = new Float32Array(n * h * w).fill(1);
    for (let k = 0; k < n; k++) {
      const cy = rng.int(h + (1 - (ch % 2)));
      const cx = rng.int(w + (1 - (cw % 2)));
      for (let y = Math.max(0, cy - Math.floor(ch / 2)); y < Math.min(h, cy - Math.floor(ch / 2) + ch); y++) {
        for (let x = Math.max(0, cx - Math.floor(cw / 2)); x < Math.min(w, cx - Math.floor(cw / 2) + cw); x++) mask[(k * h + y) * w + x] = 0;
      }
    }
    fns.push((x) => tf.tidy(() => tf.mul(x, tf.tensor4d(mask, [n, h, w, 1]))));
  }
  return (x) => {
    if (fns.length === 0) return x;
    return tf.tidy(() => fns.reduce((acc, f) => f(acc), x));
  };
}

/** The settings of one image GAN step (imageGanStep), defaults filled in. */
export interface GanStepConfig extends GanUpdateSettings {
  ema: number;
  augment: readonly Augmentation[];
}

/** The step config with the defaults filled in, checked. */
export function ganStepConfig(o: Partial<GanStepConfig> & { loss: GanLoss }): GanStepConfig {
  const c: GanStepConfig = { ...ganUpdateSettings(o, 64), ema: o.ema ?? 0, augment: o.augment ?? [] };
  for (const a of c.augment) assertOption((AUGMENTATIONS as readonly string[]).includes(a), `unknown augmentation "${a}": choose from ${AUGMENTATIONS.join(', ')}`);
  return c;
}

/**
 * One training step (dSteps discriminator updates, one generator update, the EMA) on real batches
 * from `nextReal`; all randomness from `rng`. Returns the losses and gradient norms; state.step + 1.
 */
export async function imageGanStep(
  state: ImageGanState,
  cfg: GanStepConfig,
  nextReal: () => { x: tf.Tensor4D; labels?: tf.Tensor1D },
  rng: Rng,
): Promise<Omit<ImageGanStepInfo, 'steps' | 'seconds'>> {
  const { generator: G, discriminator: D } = state;
  const { loss, batchSize: n } = cfg;
  const gc: DcganConfig = G.config;
  const step = state.step + 1;
  const shape: [number, number, number] = [gc.imageSize, gc.imageSize, gc.channels];
  const flat = shape[0] * shape[1] * shape[2];
  const dVars = D.variables;
  const gVars = generatorVariables(G);
  let dLoss = NaN;
  let dNorm = NaN;
  let gLoss = NaN;
  let gNorm = NaN;
  // Each training-mode pass of G moves its BN statistics, a refused update's too: they are put back.
  const trainable = new Set(gVars.map((v) => v.name));
  const statistics = generatorWeights(G).filter((v) => !trainable.has(v.name));
  const saved = statistics.map((v) => v.clone());
  try {
    for (let k = 0; k < cfg.dSteps; k++) {
      const real = nextReal();
      const z = sampleLatent(rng, n, gc.latentDim);
      const yFake = gc.numClasses ? randomLabels(rng, n, gc.numClasses) : undefined;
      const yReal = gc.numClasses ? real.labels : undefined;
      const augment = diffAugment(cfg.augment, n, shape, rng);
      const penaltySeed = rng.seed();
      const fake = generate(G, z, yFake, true);
      // A critic on flat images, for the penalties (losses.ts works on [n, d]).
      const flatCritic = (v: tf.Tensor2D) => D.apply(augment(tf.reshape(v, [v.shape[0], ...shape]) as tf.Tensor4D), yReal);
      try {
        ({ loss: dLoss, gradNorm: dNorm } = await guardedGanUpdate(
          'discriminator',
          step,
          () =>
            tf.tidy(() => {
              let l = discriminatorLoss(loss, D.apply(augment(real.x), yReal), D.apply(augment(fake), yFake));
              if (cfg.gpWeight > 0) {
                l = tf.add(l, tf.mul(cfg.gpWeight, gradientPenalty(flatCritic, tf.reshape(real.x, [n, flat]), tf.reshape(fake, [n, flat]), penaltySeed)));
              }
              if (cfg.r1Gamma > 0) l = tf.add(l, tf.mul(cfg.r1Gamma / 2, r1Penalty(flatCritic, tf.reshape(real.x, [n, flat]))));
              return l as tf.Scalar;
            }),
          dVars,
          state.optD,
        ));
      } finally {
        tf.dispose([real.x, z, fake, ...(real.labels ? [real.labels] : []), ...(yFake ? [yFake] : [])]);
      }
    }
    const z = sampleLatent(rng, n, gc.latentDim);
    const yFake = gc.numClasses ? randomLabels(rng, n, gc.numClasses) : undefined;
    const augment = diffAugment(cfg.augment, n, shape, rng);
    try {
      ({ loss: gLoss, gradNorm: gNorm } = await guardedGanUpdate('generator', step, () => generatorLoss(loss, D.apply(augment(generate(G, z, yFake, true)), yFake)), gVars, state.optG));
    } finally {
      tf.dispose([z, ...(yFake ? [yFake] : [])]);
    }
  } catch (e) {
    statistics.forEach((v, i) => v.assign(saved[i]));
    throw e;
  } finally {
    tf.dispose(saved);
  }
  if (state.ema) {
    // TF's ExponentialMovingAverage warm-up β_t = min(β, (1 + t)/(10 + t)); the BN moving statistics are copied.
    const beta = Math.min(cfg.ema, (1 + step) / (10 + step));
    const eVars = generatorVariables(state.ema);
    tf.tidy(() => eVars.forEach((e, i) => e.assign(tf.add(tf.mul(e, beta), tf.mul(gVars[i], 1 - beta)))));
    const [gw, ew] = [generatorWeights(G), generatorWeights(state.ema)];
    gw.forEach((v, i) => {
      if (!trainable.has(v.name)) ew[i].assign(v);
    });
  }
  state.step = step;
  return { step, dLoss, gLoss, dGradNorm: dNorm, gGradNorm: gNorm };
}

export interface ImageGanHistory {
  step: number[];
  dLoss: number[];
  gLoss: number[];
}

export interface ImageGanResult {
  state: ImageGanState;
  history: ImageGanHistory;
  seconds: number;
}

/**
 * Trains `state` (fresh from createImageGanState, or restored from a checkpoint with its step) on
 * `data` until `options.steps` steps are done. The caller owns and disposes the state, also when
 * this throws (a GanDivergedError leaves it at its last good weights).
 */
export async function trainImageGan(data: ImageDataset, state: ImageGanState, options: ImageGanOptions): Promise<ImageGanResult> {
  const cfg = ganStepConfig(options);
  const { steps, seed } = options;
  assertOption(Number.isInteger(steps) && steps >= 0, `steps must be a non-negative integer, got ${steps}`);
  assertOption(Number.isInteger(seed), `seed must be an integer, got ${seed}`);
  assertOption(data.count > 0, `${data.name} has no images to train on`);
  const gc = state.generator.config;
  const want = [gc.imageSize, gc.imageSize, gc.channels];
  if (data.shape.some((v, i) => v !== want[i])) {
    throw new AdvxError(`${data.name} images are ${data.shape.join('×')}, but the generator makes ${want.join('×')}`);
  }
  if (gc.numClasses && data.numClasses !== gc.numClasses) throw new AdvxError(`${data.name} has ${data.numClasses} classes, the conditional GAN ${gc.numClasses}`);
  if (cfg.ema > 0 && !state.ema) state.ema = cloneGenerator(state.generator);
  const history: ImageGanHistory = { step: [], dLoss: [], gLoss: [] };
  const range = options.dataRange ?? [0, 1];
  const start = performance.now();
  while (state.step < steps) {
    const t0 = performance.now();
    const rng = stepRng(seed, state.step + 1);
    const info = await imageGanStep(state, cfg, () => imageBatch(data, cfg.batchSize, rng, range), rng);
    history.step.push(info.step);
    history.dLoss.push(info.dLoss);
    history.gLoss.push(info.gLoss);
    await options.onStep?.({ ...info, steps, seconds: (performance.now() - t0) / 1000 }, state);
  }
  return { state, history, seconds: (performance.now() - start) / 1000 };
}

/**
 * Standing statistics: re-estimates the BN moving statistics of a generator (e.g. the EMA one,
 * whose weights are not those the copied statistics were measured on) as the plain average of the
 * batch statistics of `batches` training-mode passes of seeded z (default 16 batches of 256; large
 * batches because one batch's per-feature statistics are noisy). Only the moving statistics change.
 */
export function standingStatistics(g: Generator, o: { seed: number; batches?: number; batchSize?: number }): void {
  const { latentDim, numClasses } = g.config;
  const rng = new Rng(o.seed);
  const n = o.batchSize ?? 256;
  const batches = o.batches ?? 16;
  // The layers update moving = m·moving + (1 − m)·batch; m = b/(b + 1) on pass b makes it the running mean.
  const bns = g.model.layers.filter((l) => l.getClassName() === 'BatchNormalization') as unknown as Array<{ momentum: number }>;
  const saved = bns.map((l) => l.momentum);
  try {
    for (let b = 0; b < batches; b++) {
      for (const l of bns) l.momentum = b / (b + 1);
      const z = sampleLatent(rng, n, latentDim);
      const y = numClasses ? randomLabels(rng, n, numClasses) : undefined;
      tf.dispose([generate(g, z, y, true), z, ...(y ? [y] : [])]);
    }
  } finally {
    bns.forEach((l, i) => (l.momentum = saved[i]));
  }
}

/**
 * n images from the generator (the EMA one if given) in [0, 1], row-major [n, H, W, C], with a
 * seeded z and, for a cGAN, the given labels (default: k mod numClasses). Generated in batches.
 */
export async function sampleImages(g: Generator, n: number, seed: number, labels?: ArrayLike<number>, z?: tf.Tensor2D): Promise<Float32Array> {
  const { imageSize, channels, numClasses, latentDim } = g.config;
  const size = imageSize * imageSize * channels;
  if (labels && !numClasses) throw new AdvxError('this generator is unconditional: it takes no class labels');
  const lab = numClasses ? Int32Array.from({ length: n }, (_, k) => (labels ? labels[k] : k % numClasses)) : undefined;
  if (lab?.some((l) => !Number.isInteger(l) || l < 0 || l >= numClasses)) throw new AdvxError(`class labels must be integers in [0, ${numClasses})`);
  const zAll = z ?? sampleLatent(new Rng(seed), n, latentDim);
  const out = new Float32Array(n * size);
  try {
    for (let s = 0; s < n; s += 256) {
      const m = Math.min(256, n - s);
      const img = tf.tidy(() => {
        const y = lab ? tf.tensor1d(lab.subarray(s, s + m), 'int32') : undefined;
        return tf.div(tf.add(generate(g, tf.slice(zAll, [s, 0], [m, latentDim]), y, false), 1), 2);
      });
      out.set(await img.data(), s * size);
      img.dispose();
    }
  } finally {
    if (!z) zAll.dispose();
  }
  return out;
}
