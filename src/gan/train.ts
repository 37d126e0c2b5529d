/**
 * The GAN training loop for vectors (the 2-D toys), isomorphic. Each generator step:
 *
 *   repeat dSteps times:  x ~ data, z ~ N(0, I)
 *     θ_D ← Adam(∇ L_D(D(x), D(G(z))) + λ·GP + γ/2·R1)
 *   z ~ N(0, I);  θ_G ← Adam(∇ L_G(D(G(z))));  θ_EMA ← β θ_EMA + (1 − β) θ_G
 *
 * All randomness (initial weights, z, data batches, GP's interpolation) comes from the seed. Every
 * update reads back its loss and gradient norm before it is applied (src/train/core.ts): a
 * non-finite one stops training with a GanDivergedError, the weights as after the last good update.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers';
import { assertOption } from '../core/errors.ts';
import { Rng } from '../core/rng.ts';
import { setLearningRate } from '../train/core.ts';
import { discriminatorLoss, generatorLoss, gradientPenalty, r1Penalty } from './losses.ts';
import { buildToyNetworks, cloneMlp, type Mlp, type ToyNetworkOptions } from './networks.ts';
import { ganUpdateSettings, guardedGanUpdate, type GanOptions, type GanUpdateSettings } from './update.ts';

/** n samples of the data, row-major n × dim, drawn from `rng`. */
export type RealSampler = (n: number, rng: Rng) => Float32Array;

/**
 * Defaults: batch size 256; Adam learning rates 2e-3 for both — minus a linear decay to 0 over the
 * run if `lrDecay` (default true); β1, β2 0.5, 0.9 (WGAN-GP's; DCGAN's β1).
 */
export interface GanTrainOptions extends ToyNetworkOptions, GanOptions {
  /** Generator steps. */
  steps: number;
  lrDecay?: boolean;
  /** Call onStep every this many steps (and at the last); default 50. */
  logEvery?: number;
  onStep?: (info: GanStepInfo) => void;
  /** Networks to continue training instead of fresh ones (not disposed on error). */
  generator?: Mlp;
  discriminator?: Mlp;
}

export interface GanStepInfo {
  step: number;
  steps: number;
  /** The last discriminator step's loss, penalties included. */
  dLoss: number;
  gLoss: number;
  /** ‖∇θ_G L_G‖₂ over all the generator's parameters. */
  gradNorm: number;
}

export interface GanHistory {
  dLoss: number[];
  gLoss: number[];
  gradNorm: number[];
}

export interface GanResult {
  generator: Mlp;
  discriminator: Mlp;
  /** The EMA generator when `ema` > 0 (use it for samples), else absent. */
  ema?: Mlp;
  history: GanHistory;
  seconds: number;
  dispose(): void;
}

/** n rows of latentDim standard normals from `rng`. */
export function sampleLatent(rng: Rng, n: number, latentDim: number): tf.Tensor2D {
  const z = new Float32Array(n * latentDim);
  for (let i = 0; i < z.length; i++) z[i] = rng.normal();
  return tf.tensor2d(z, [n, latentDim]);
}

/** n generated samples as a row-major Float32Array, from a seeded z. */
export async function sampleGenerator(generator: Mlp, n: number, seed: number): Promise<Float32Array> {
  const z = sampleLatent(new Rng(seed), n, generator.sizes[0]);
  const x = generator.apply(z);
  const out = (await x.data()) as Float32Array;
  tf.dispose([z, x]);
  return out;
}

/** What one GAN update (ganUpdate) works on: the networks, their optimisers and its settings. */
export interface GanUpdate extends GanUpdateSettings {
  generator: Mlp;
  discriminator: Mlp;
  optG: tf.Optimizer;
  optD: tf.Optimizer;
  dataDim: number;
}

/**
 * Generator step `step` of trainGan and createGanStepper: dSteps guarded Adam steps of D, each on a
 * fresh real batch from `sampleReal` and a fresh latent batch, then one of G; every draw from `rng`.
 * Returns the last D step's loss (penalties included), G's loss and G's gradient norm.
 */
export async function ganUpdate(u: GanUpdate, sampleReal: RealSampler, rng: Rng, step: number): Promise<Omit<GanStepInfo, 'step' | 'steps'>> {
  const { generator: G, discriminator: D, optG, optD, loss, batchSize, dataDim, gpWeight, r1Gamma } = u;
  const latentDim = G.sizes[0];
  const critic = (x: tf.Tensor2D) => D.apply(x);
  let dLoss = NaN;
  for (let k = 0; k < u.dSteps; k++) {
    const real = tf.tensor2d(sampleReal(batchSize, rng), [batchSize, dataDim]);
    const z = sampleLatent(rng, batchSize, latentDim);
    const gpSeed = rng.seed();
    const fake = G.apply(z);
    try {
      const r = await guardedGanUpdate(
        'discriminator',
        step,
        () => {
          let l = discriminatorLoss(loss, critic(real), critic(fake));
          if (gpWeight > 0) l = tf.add(l, tf.mul(gpWeight, gradientPenalty(critic, real, fake, gpSeed)));
          if (r1Gamma > 0) l = tf.add(l, tf.mul(r1Gamma / 2, r1Penalty(critic, real)));
          return l;
        },
        D.variables,
        optD,
      );
      dLoss = r.loss;
    } finally {
      tf.dispose([real, z, fake]);
    }
  }
  const z = sampleLatent(rng, batchSize, latentDim);
  try {
    const g = await guardedGanUpdate('generator', step, () => generatorLoss(loss, critic(G.apply(z))), G.variables, optG);
    return { dLoss, gLoss: g.loss, gradNorm: g.gradNorm };
  } finally {
    z.dispose();
  }
}

export async function trainGan(sampleReal: RealSampler, options: GanTrainOptions): Promise<GanResult> {
  const settings = ganUpdateSettings(options, 256);
  const { steps, seed } = options;
  assertOption(Number.isInteger(steps) && steps >= 0, `steps must be a non-negative integer, got ${steps}`);
  assertOption(Number.isInteger(seed), `seed must be an integer, got ${seed}`);
  const logEvery = options.logEvery ?? 50;
  assertOption(Number.isInteger(logEvery) && logEvery > 0, `logEvery must be a positive integer, got ${logEvery}`);
  const dataDim = options.dataDim ?? 2;
  const emaDecay = options.ema ?? 0;
  const lrG = options.learningRate ?? 2e-3;
  const lrD = options.discriminatorLearningRate ?? lrG;
  const [beta1, beta2] = [options.beta1 ?? 0.5, options.beta2 ?? 0.9];

  assertOption(!options.generator === !options.discriminator, 'pass both a generator and a discriminator to continue training, or neither');
  const owned = !options.generator;
  const nets = options.generator && options.discriminator
    ? { generator: options.generator, discriminator: options.discriminator }
    : buildToyNetworks({ ...options, dataDim, seed });
  const { generator: G, discriminator: D } = nets;
  assertOption(G.sizes.at(-1) === dataDim && D.sizes[0] === dataDim, `the generator outputs ${G.sizes.at(-1)} values and the discriminator takes ${D.sizes[0]}; both must be dataDim = ${dataDim}`);
  const ema = emaDecay > 0 ? cloneMlp(G, 'generator_ema') : undefined;
  const optG: tf.Optimizer = tf.train.adam(lrG, beta1, beta2);
  const optD: tf.Optimizer = tf.train.adam(lrD, beta1, beta2);
  const update: GanUpdate = { generator: G, discriminator: D, optG, optD, dataDim, ...settings };
  const rng = new Rng(seed * 7919 + 17);
  const history: GanHistory = { dLoss: [], gLoss: [], gradNorm: [] };
  const start = performance.now();

  try {
    for (let step = 1; step <= steps; step++) {
      if (options.lrDecay !== false) {
        // Linear decay to zero: the last steps settle the samples onto the modes instead of jittering around them.
        const f = 1 - (step - 1) / steps;
        setLearningRate(optG, lrG * f);
        setLearningRate(optD, lrD * f);
      }
      const r = await ganUpdate(update, sampleReal, rng, step);
      if (ema) {
        // TF's ExponentialMovingAverage warm-up, β_t = min(β, (1 + t)/(10 + t)): without it the random
        // initial weights keep a share β^t (1.8% after 4 000 steps at 0.999), enough to blur 0.02-wide modes.
        const beta = Math.min(emaDecay, (1 + step) / (10 + step));
        tf.tidy(() => ema.variables.forEach((e, i) => e.assign(tf.add(tf.mul(e, beta), tf.mul(G.variables[i], 1 - beta)))));
      }
      history.dLoss.push(r.dLoss);
      history.gLoss.push(r.gLoss);
      history.gradNorm.push(r.gradNorm);
      if (step % logEvery === 0 || step === steps) options.onStep?.({ step, steps, ...r });
    }
  } catch (err) {
    optG.dispose();
    optD.dispose();
    ema?.dispose();
    if (owned) {
      G.dispose();
      D.dispose();
    }
    throw err;
  }
  optG.dispose();
  optD.dispose();
  return {
    generator: G,
    discriminator: D,
    ema,
    history,
    seconds: (performance.now() - start) / 1000,
    dispose() {
      G.dispose();
      D.dispose();
      ema?.dispose();
    },
  };
}
