/**
 * The GAN training loop for vectors (the 2-D toys), isomorphic. Each generator step:
 *
 *   repeat dSteps times:  x ~ data, z ~ N(0, I)
 *     θ_D ← Adam(∇ L_D(D(x), D(G(z))) + λ·GP + γ/2·R1)
 *   z ~ N(0, I);  θ_G ← Adam(∇ L_G(D(G(z))));  θ_EMA ← β θ_EMA + (1 − β) θ_G
 *
 * All randomness (initial weights, z, data batches, GP's interpolation) comes from the seed.
 * Losses are read back every `logEvery` steps, one sync for all the steps in between, and a
 * non-finite loss stops training with an AdvxError naming the step.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers';
import { AdvxError, assertOption } from '../core/errors.ts';
import { Rng } from '../core/rng.ts';
import { setLearningRate } from '../train/fit.ts';
import { GAN_LOSSES, discriminatorLoss, generatorLoss, gradientPenalty, r1Penalty, type GanLoss } from './losses.ts';
import { buildToyNetworks, cloneMlp, type Mlp, type ToyNetworkOptions } from './networks.ts';

/** n samples of the data, row-major n × dim, drawn from `rng`. */
export type RealSampler = (n: number, rng: Rng) => Float32Array;

/**
 * The settings of the GAN update, shared by trainGan, createGanStepper (step.ts) and trainImageGan
 * (train-images.ts); each names its own defaults for the batch size, learning rates and β.
 */
export interface GanUpdateOptions {
  loss: GanLoss;
  batchSize?: number;
  /** Adam learning rates, G's and D's (D's defaults to G's). */
  learningRate?: number;
  discriminatorLearningRate?: number;
  /** Adam β1, β2. */
  beta1?: number;
  beta2?: number;
  /** Discriminator steps per generator step: default 5 for wgan-gp, 1 otherwise. */
  dSteps?: number;
  /** λ of the gradient penalty: default 10 for wgan-gp, 0 otherwise (any loss may use it). */
  gpWeight?: number;
}

/** The options of a whole training run, for the vector and the image trainers. */
export interface GanRunOptions extends GanUpdateOptions {
  /** Generator steps. */
  steps: number;
  seed: number;
  /** γ of the R1 penalty (γ/2·E‖∇D(x)‖² on real data); default 0 (off). */
  r1Gamma?: number;
  /** Decay β of an exponential moving average of the generator's weights (e.g. 0.999, with TF's warm-up); 0 or absent: none. */
  ema?: number;
}

/**
 * Defaults: batch size 256; Adam learning rates 2e-3 for both — minus a linear decay to 0 over the
 * run if `lrDecay` (default true); β1, β2 0.5, 0.9 (WGAN-GP's; DCGAN's β1).
 */
export interface GanTrainOptions extends ToyNetworkOptions, GanRunOptions {
  lrDecay?: boolean;
  /** Read losses back (and call onStep) every this many steps; default 50. */
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

function checkOptions(o: GanTrainOptions): void {
  assertOption((GAN_LOSSES as readonly string[]).includes(o.loss), `loss must be one of ${GAN_LOSSES.join(', ')}, got ${String(o.loss)}`);
  assertOption(Number.isInteger(o.steps) && o.steps >= 0, `steps must be a non-negative integer, got ${o.steps}`);
  assertOption(Number.isInteger(o.seed), `seed must be an integer, got ${o.seed}`);
  const positiveInt = (name: string, v: number | undefined) => assertOption(v === undefined || (Number.isInteger(v) && v > 0), `${name} must be a positive integer, got ${v}`);
  positiveInt('batch size', o.batchSize);
  positiveInt('dSteps', o.dSteps);
  positiveInt('logEvery', o.logEvery);
  for (const [name, v] of [['learning rate', o.learningRate], ['discriminator learning rate', o.discriminatorLearningRate]] as const) {
    assertOption(v === undefined || (Number.isFinite(v) && v > 0), `${name} must be a positive number, got ${v}`);
  }
  for (const [name, v] of [['gpWeight', o.gpWeight], ['r1Gamma', o.r1Gamma]] as const) {
    assertOption(v === undefined || (Number.isFinite(v) && v >= 0), `${name} must be a number ≥ 0, got ${v}`);
  }
  for (const [name, v] of [['beta1', o.beta1], ['beta2', o.beta2], ['ema', o.ema]] as const) {
    assertOption(v === undefined || (v >= 0 && v < 1), `${name} must be in [0, 1), got ${v}`);
  }
}

/** ‖g‖₂ over a list of gradient tensors, as a scalar tensor. */
export function globalNorm(grads: tf.NamedTensorMap): tf.Scalar {
  return tf.sqrt(tf.addN(Object.values(grads).map((g) => tf.sum(tf.square(g))))) as tf.Scalar;
}

/** What one GAN update (ganUpdate) works on: the networks, their optimisers and its settings. */
export interface GanUpdate {
  generator: Mlp;
  discriminator: Mlp;
  optG: tf.Optimizer;
  optD: tf.Optimizer;
  loss: GanLoss;
  batchSize: number;
  dataDim: number;
  dSteps: number;
  gpWeight: number;
  r1Gamma: number;
  /** Also compute ‖∇θ_G L_G‖₂, as a third entry of the result. */
  gradNorm: boolean;
}

/**
 * One generator step of trainGan and createGanStepper: dSteps Adam steps of D, each on a fresh real
 * batch from `sampleReal` and a fresh latent batch, then one Adam step of G; every draw from `rng`.
 * Returns [the last D step's loss (penalties included), G's loss] (and G's gradient norm if
 * `u.gradNorm`) as a tensor the caller disposes: nothing is read back here.
 */
export function ganUpdate(u: GanUpdate, sampleReal: RealSampler, rng: Rng): tf.Tensor1D {
  const { generator: G, discriminator: D, optG, optD, loss, batchSize, dataDim, gpWeight, r1Gamma } = u;
  const latentDim = G.sizes[0];
  const critic = (x: tf.Tensor2D) => D.apply(x);
  let dLoss: tf.Scalar | undefined;
  for (let k = 0; k < u.dSteps; k++) {
    const real = tf.tensor2d(sampleReal(batchSize, rng), [batchSize, dataDim]);
    const z = sampleLatent(rng, batchSize, latentDim);
    const gpSeed = rng.seed();
    dLoss?.dispose();
    dLoss = tf.tidy(() => {
      const fake = G.apply(z);
      const { value, grads } = tf.variableGrads(() => {
        let l = discriminatorLoss(loss, critic(real), critic(fake));
        if (gpWeight > 0) l = tf.add(l, tf.mul(gpWeight, gradientPenalty(critic, real, fake, gpSeed)));
        if (r1Gamma > 0) l = tf.add(l, tf.mul(r1Gamma / 2, r1Penalty(critic, real)));
        return l;
      }, D.variables);
      optD.applyGradients(grads);
      return value;
    });
    tf.dispose([real, z]);
  }
  const z = sampleLatent(rng, batchSize, latentDim);
  const row = tf.tidy(() => {
    const { value, grads } = tf.variableGrads(() => generatorLoss(loss, critic(G.apply(z))), G.variables);
    const norm = u.gradNorm ? globalNorm(grads) : undefined;
    optG.applyGradients(grads);
    return tf.stack(norm ? [dLoss!, value, norm] : [dLoss!, value]) as tf.Tensor1D;
  });
  tf.dispose([z, dLoss!]);
  return row;
}

export async function trainGan(sampleReal: RealSampler, options: GanTrainOptions): Promise<GanResult> {
  checkOptions(options);
  const { loss, steps, seed } = options;
  const batchSize = options.batchSize ?? 256;
  const dataDim = options.dataDim ?? 2;
  const dSteps = options.dSteps ?? (loss === 'wgan-gp' ? 5 : 1);
  const gpWeight = options.gpWeight ?? (loss === 'wgan-gp' ? 10 : 0);
  const r1Gamma = options.r1Gamma ?? 0;
  const emaDecay = options.ema ?? 0;
  const logEvery = options.logEvery ?? 50;
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
  const update: GanUpdate = { generator: G, discriminator: D, optG, optD, loss, batchSize, dataDim, dSteps, gpWeight, r1Gamma, gradNorm: true };
  const rng = new Rng(seed * 7919 + 17);
  const history: GanHistory = { dLoss: [], gLoss: [], gradNorm: [] };
  let pending: tf.Tensor1D[] = [];
  const start = performance.now();

  // One sync for the steps since the last flush: their [dLoss, gLoss, gradNorm] rows.
  const flush = async (lastStep: number) => {
    if (pending.length === 0) return;
    const stacked = tf.stack(pending);
    const rows = await stacked.data();
    tf.dispose([stacked, ...pending]);
    const first = lastStep - pending.length + 1;
    pending = [];
    for (let i = 0; i < rows.length / 3; i++) {
      const [d, g, n] = [rows[3 * i], rows[3 * i + 1], rows[3 * i + 2]];
      if (!Number.isFinite(d) || !Number.isFinite(g) || !Number.isFinite(n)) {
        throw new AdvxError(
          `GAN training diverged at step ${first + i} of ${steps} (${loss}): discriminator loss ${d}, generator loss ${g}, gradient norm ${n}; try a lower learning rate (now ${lrG}${lrD !== lrG ? `, D ${lrD}` : ''}) or a gradient penalty`,
        );
      }
      history.dLoss.push(d);
      history.gLoss.push(g);
      history.gradNorm.push(n);
    }
    options.onStep?.({ step: lastStep, steps, dLoss: history.dLoss.at(-1)!, gLoss: history.gLoss.at(-1)!, gradNorm: history.gradNorm.at(-1)! });
  };

  try {
    for (let step = 1; step <= steps; step++) {
      if (options.lrDecay !== false) {
        // Linear decay to zero: the last steps settle the samples onto the modes instead of jittering around them.
        const f = 1 - (step - 1) / steps;
        setLearningRate(optG, lrG * f);
        setLearningRate(optD, lrD * f);
      }
      const row = ganUpdate(update, sampleReal, rng);
      if (ema) {
        // TF's ExponentialMovingAverage warm-up, β_t = min(β, (1 + t)/(10 + t)): without it the random
        // initial weights keep a share β^t (1.8% after 4 000 steps at 0.999), enough to blur 0.02-wide modes.
        const beta = Math.min(emaDecay, (1 + step) / (10 + step));
        tf.tidy(() => ema.variables.forEach((e, i) => e.assign(tf.add(tf.mul(e, beta), tf.mul(G.variables[i], 1 - beta)))));
      }
      pending.push(row);
      if (step % logEvery === 0 || step === steps) await flush(step);
    }
  } catch (err) {
    tf.dispose(pending);
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
