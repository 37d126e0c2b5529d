/**
 * pix2pix (Isola et al. 2017), isomorphic: paired image-to-image translation with a U-Net
 * generator and a PatchGAN discriminator, sized for 28×28 (or 32×32) images.
 *
 *   G (U-Net, width w = 32 by default; x is zero-padded to the next multiple of 16, 28 → 32, so
 *      that four ×2 downsamplings meet four ×2 upsamplings exactly, and the output cropped back):
 *     e1 conv 4×4/2 → w, leaky 0.2                       32 → 16
 *     e2 conv 4×4/2 → 2w, IN, leaky 0.2                  16 → 8
 *     e3 conv 4×4/2 → 4w, IN, leaky 0.2                   8 → 4
 *     e4 conv 4×4/2 → 4w, relu  (bottleneck, no norm)     4 → 2
 *     d1 convT 4×4/2 → 4w, IN, relu, ‖ e3                 2 → 4
 *     d2 convT 4×4/2 → 2w, IN, relu, ‖ e2                 4 → 8
 *     d3 convT 4×4/2 → w,  IN, relu, ‖ e1                 8 → 16
 *     d4 convT 4×4/2 → C_out, sigmoid                    16 → 32  (outputs in [0, 1])
 *   D (PatchGAN on the pair [x ‖ y] concatenated on channels, 18×18-pixel receptive field):
 *     conv 4×4/2 → w, leaky 0.2;  conv 4×4/2 → 2w, IN, leaky 0.2;  conv 3×3/1 → 1 logit per patch
 *     (7×7 patch logits for 28×28 images).
 * IN is instance normalisation (per example and channel, learned scale and offset): the paper's
 * batch norm at batch size 1, the same in training and at test time. The paper's decoder dropout
 * is left out (its noise is known to be mostly ignored): the generator is deterministic.
 *
 * Losses, per step, with the discriminator's loss halved as in the paper:
 *   D: ½ [softplus(−D(x, y)) + softplus(D(x, G(x)))]                      (averaged over patches)
 *   G: λ_L1 · ‖y − G(x)‖₁ + λ_adv · softplus(−D(x, G(x)))                  (non-saturating)
 * with λ_L1 = 100 and λ_adv = 1 (the paper's L_cGAN + 100·L1). λ_adv = 0 is the L1-only baseline:
 * the discriminator is then neither trained nor evaluated, and the generator's loss is exactly
 * λ_L1 · L1. Adam(2e-4, β1 = 0.5, β2 = 0.999) for both. Weights N(0, 0.02²) from the seed.
 * Leaky ReLU is written 0.2x + 0.8·relu(x), which every backend differentiates.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers';
import { AdvxError, assertOption } from '../core/errors.ts';
import { Rng } from '../core/rng.ts';
import type { ImageDataset } from '../data/types.ts';
import { discriminatorLoss, generatorLoss } from './losses.ts';
import { checkGanOptions, guardedGanUpdate, type GanOptions } from './update.ts';

// ---------------------------------------------------------------------------------------------
// Building blocks on plain variables

let counter = 0;

function normalVariable(rng: Rng, shape: number[], std: number, name: string): tf.Variable {
  const size = shape.reduce((a, b) => a * b, 1);
  const values = new Float32Array(size);
  for (let i = 0; i < size; i++) values[i] = std * rng.normal();
  // tf.variable does not take ownership of its initial value: tidy frees it.
  return tf.tidy(() => tf.variable(tf.tensor(values, shape), true, name));
}

function constantVariable(shape: number[], value: number, name: string): tf.Variable {
  return tf.tidy(() => tf.variable(tf.fill(shape, value), true, name));
}

const leaky = (x: tf.Tensor4D) => tf.add(tf.mul(x, 0.2), tf.mul(tf.relu(x), 0.8)) as tf.Tensor4D;

/** Instance normalisation of x [n, h, w, c] with scale g [c] and offset b [c]. */
function instanceNorm(x: tf.Tensor4D, g: tf.Variable, b: tf.Variable): tf.Tensor4D {
  const { mean, variance } = tf.moments(x, [1, 2], true);
  return tf.add(tf.mul(tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, 1e-5))), g), b) as tf.Tensor4D;
}

/** A network on plain variables: `variables` in a fixed order, `apply` inside the caller's tidy. */
export interface Pix2pixNet {
  readonly name: string;
  readonly variables: tf.Variable[];
  dispose(): void;
}

export interface Pix2pixGenerator extends Pix2pixNet {
  readonly inChannels: number;
  readonly outChannels: number;
  readonly width: number;
  /** x [n, h, w, inChannels] (h = w, any size; padded to a multiple of 16 inside) → [n, h, w, outChannels] in [0, 1]. */
  apply(x: tf.Tensor4D): tf.Tensor4D;
}

export interface Pix2pixDiscriminator extends Pix2pixNet {
  /** Patch logits [n, ⌈h/4⌉, ⌈w/4⌉, 1] for the pair (x, y). */
  apply(x: tf.Tensor4D, y: tf.Tensor4D): tf.Tensor4D;
}

export interface Pix2pixNetOptions {
  inChannels: number;
  outChannels: number;
  /** Base width w; default 32 for G and D. */
  width?: number;
  seed: number;
}

/** The U-Net generator described at the top of this file. */
export function buildPix2pixGenerator(options: Pix2pixNetOptions): Pix2pixGenerator {
  const { inChannels, outChannels, seed } = options;
  const width = options.width ?? 32;
  for (const [k, v] of [['inChannels', inChannels], ['outChannels', outChannels], ['width', width]] as const) {
    assertOption(Number.isInteger(v) && v > 0, `pix2pix generator ${k} must be a positive integer, got ${v}`);
  }
  assertOption(Number.isInteger(seed), `seed must be an integer, got ${seed}`);
  const rng = new Rng(seed);
  const id = counter++;
  const name = `pix2pix_g_${id}`;
  const enc = [inChannels, width, 2 * width, 4 * width, 4 * width];
  // Decoder k: input channels (bottleneck or previous decoder output ‖ skip), output channels.
  const decIn = [4 * width, 8 * width, 4 * width, 2 * width];
  const decOut = [4 * width, 2 * width, width, outChannels];
  const vars: tf.Variable[] = [];
  const ew: tf.Variable[] = [];
  const eb: tf.Variable[] = [];
  const en: [tf.Variable, tf.Variable][] = [];
  for (let k = 0; k < 4; k++) {
    ew.push(normalVariable(rng, [4, 4, enc[k], enc[k + 1]], 0.02, `${name}/e${k + 1}/W`));
    eb.push(constantVariable([enc[k + 1]], 0, `${name}/e${k + 1}/b`));
    vars.push(ew[k], eb[k]);
    if (k === 1 || k === 2) {
      en[k] = [constantVariable([enc[k + 1]], 1, `${name}/e${k + 1}/gamma`), constantVariable([enc[k + 1]], 0, `${name}/e${k + 1}/beta`)];
      vars.push(...en[k]);
    }
  }
  const dw: tf.Variable[] = [];
  const db: tf.Variable[] = [];
  const dn: [tf.Variable, tf.Variable][] = [];
  for (let k = 0; k < 4; k++) {
    // conv2dTranspose filters are [h, w, outChannels, inChannels].
    dw.push(normalVariable(rng, [4, 4, decOut[k], decIn[k]], 0.02, `${name}/d${k + 1}/W`));
    db.push(constantVariable([decOut[k]], 0, `${name}/d${k + 1}/b`));
    vars.push(dw[k], db[k]);
    if (k < 3) {
      dn[k] = [constantVariable([decOut[k]], 1, `${name}/d${k + 1}/gamma`), constantVariable([decOut[k]], 0, `${name}/d${k + 1}/beta`)];
      vars.push(...dn[k]);
    }
  }
  return {
    name,
    inChannels,
    outChannels,
    width,
    variables: vars,
    apply(x) {
      const [n, h, w, c] = x.shape;
      if (c !== inChannels) throw new AdvxError(`${name} takes ${inChannels}-channel images, got [${x.shape}]`);
      if (h !== w) throw new AdvxError(`${name} takes square images, got [${x.shape}]`);
      return tf.tidy(() => {
        const size = Math.ceil(h / 16) * 16;
        const p0 = Math.floor((size - h) / 2);
        let a = size === h ? x : (tf.pad(x, [[0, 0], [p0, size - h - p0], [p0, size - h - p0], [0, 0]]) as tf.Tensor4D);
        const skips: tf.Tensor4D[] = [];
        for (let k = 0; k < 4; k++) {
          a = tf.add(tf.conv2d(a, ew[k] as tf.Tensor4D, 2, 'same'), eb[k]) as tf.Tensor4D;
          if (en[k]) a = instanceNorm(a, ...en[k]);
          a = k < 3 ? leaky(a) : tf.relu(a);
          skips.push(a);
        }
        let s = size / 16;
        for (let k = 0; k < 4; k++) {
          s *= 2;
          a = tf.add(tf.conv2dTranspose(a, dw[k] as tf.Tensor4D, [n, s, s, decOut[k]], 2, 'same'), db[k]) as tf.Tensor4D;
          if (k < 3) {
            a = tf.relu(instanceNorm(a, ...dn[k]));
            a = tf.concat([a, skips[2 - k]], 3);
          }
        }
        const y = tf.sigmoid(a) as tf.Tensor4D;
        return size === h ? y : (tf.slice(y, [0, p0, p0, 0], [n, h, w, outChannels]) as tf.Tensor4D);
      });
    },
    dispose: () => tf.dispose(vars),
  };
}

/** The PatchGAN discriminator described at the top of this file, on inChannels + outChannels channels. */
export function buildPix2pixDiscriminator(options: Pix2pixNetOptions): Pix2pixDiscriminator {
  const { inChannels, outChannels, seed } = options;
  const width = options.width ?? 32;
  for (const [k, v] of [['inChannels', inChannels], ['outChannels', outChannels], ['width', width]] as const) {
    assertOption(Number.isInteger(v) && v > 0, `pix2pix discriminator ${k} must be a positive integer, got ${v}`);
  }
  const rng = new Rng(seed);
  const name = `pix2pix_d_${counter++}`;
  const c0 = inChannels + outChannels;
  const w1 = normalVariable(rng, [4, 4, c0, width], 0.02, `${name}/c1/W`);
  const b1 = constantVariable([width], 0, `${name}/c1/b`);
  const w2 = normalVariable(rng, [4, 4, width, 2 * width], 0.02, `${name}/c2/W`);
  const b2 = constantVariable([2 * width], 0, `${name}/c2/b`);
  const g2 = constantVariable([2 * width], 1, `${name}/c2/gamma`);
  const be2 = constantVariable([2 * width], 0, `${name}/c2/beta`);
  const w3 = normalVariable(rng, [3, 3, 2 * width, 1], 0.02, `${name}/c3/W`);
  const b3 = constantVariable([1], 0, `${name}/c3/b`);
  const vars = [w1, b1, w2, b2, g2, be2, w3, b3];
  return {
    name,
    variables: vars,
    apply(x, y) {
      if (x.shape[3] !== inChannels || y.shape[3] !== outChannels || x.shape[0] !== y.shape[0] || x.shape[1] !== y.shape[1] || x.shape[2] !== y.shape[2]) {
        throw new AdvxError(`${name} takes pairs [n, h, w, ${inChannels}] and [n, h, w, ${outChannels}], got [${x.shape}] and [${y.shape}]`);
      }
      return tf.tidy(() => {
        let a = tf.concat([x, y], 3) as tf.Tensor4D;
        a = leaky(tf.add(tf.conv2d(a, w1 as tf.Tensor4D, 2, 'same'), b1) as tf.Tensor4D);
        a = leaky(instanceNorm(tf.add(tf.conv2d(a, w2 as tf.Tensor4D, 2, 'same'), b2) as tf.Tensor4D, g2, be2));
        return tf.add(tf.conv2d(a, w3 as tf.Tensor4D, 1, 'same'), b3) as tf.Tensor4D;
      });
    },
    dispose: () => tf.dispose(vars),
  };
}

// ---------------------------------------------------------------------------------------------
// Losses

export interface Pix2pixLossWeights {
  /** Weight of the adversarial term; default 1. 0: the L1-only baseline (D unused). */
  lambdaAdv?: number;
  /** Weight of the L1 term; default 100. */
  lambdaL1?: number;
}

/**
 * The generator's loss on a batch: total = λ_L1·L1 + λ_adv·(−log D(x, G(x))), with its parts.
 * With λ_adv = 0 the discriminator is not called (pass none). Differentiable w.r.t. G's variables.
 */
export function pix2pixGeneratorLoss(
  generator: Pix2pixGenerator,
  discriminator: Pix2pixDiscriminator | undefined,
  input: tf.Tensor4D,
  target: tf.Tensor4D,
  weights: Pix2pixLossWeights = {},
): { total: tf.Scalar; l1: tf.Scalar; adv: tf.Scalar } {
  const lambdaAdv = weights.lambdaAdv ?? 1;
  const lambdaL1 = weights.lambdaL1 ?? 100;
  return tf.tidy(() => {
    const fake = generator.apply(input);
    const l1 = tf.mean(tf.abs(tf.sub(target, fake))) as tf.Scalar;
    let total = tf.mul(l1, lambdaL1) as tf.Scalar;
    let adv = tf.scalar(0);
    if (lambdaAdv !== 0) {
      if (!discriminator) throw new AdvxError('pix2pix: λ_adv ≠ 0 needs a discriminator');
      adv = generatorLoss('ns', discriminator.apply(input, fake));
      total = tf.add(total, tf.mul(adv, lambdaAdv)) as tf.Scalar;
    }
    return { total, l1, adv };
  });
}

/** The discriminator's loss on a batch, halved as in the paper: ½[−log D(x, y) − log(1 − D(x, G(x)))]. */
export function pix2pixDiscriminatorLoss(discriminator: Pix2pixDiscriminator, input: tf.Tensor4D, target: tf.Tensor4D, fake: tf.Tensor4D): tf.Scalar {
  return tf.tidy(() => tf.mul(0.5, discriminatorLoss('ns', discriminator.apply(input, target), discriminator.apply(input, fake))) as tf.Scalar);
}

// ---------------------------------------------------------------------------------------------
// Training

/** Aligned pairs: input image i translates to target image i. */
export interface Pix2pixPairs {
  input: ImageDataset;
  target: ImageDataset;
}

/** Defaults: batch size 16; Adam learning rate 2e-4 for G and D, β1 0.5, β2 0.999. */
export interface Pix2pixTrainOptions extends Pix2pixLossWeights, Pick<GanOptions, 'seed' | 'batchSize' | 'learningRate' | 'beta1' | 'beta2'> {
  steps: number;
  /** Base width of G and D; default 32. */
  width?: number;
  /** Record the losses (and call onStep) every this many steps; default 50 (and at the last step). */
  logEvery?: number;
  onStep?: (info: Pix2pixStepInfo) => void;
}

export interface Pix2pixStepInfo {
  step: number;
  steps: number;
  /** The generator's total loss, λ_L1·L1 + λ_adv·adv. */
  gLoss: number;
  /** Mean absolute error of G(x) against y on the batch (pixels in [0, 1]). */
  l1: number;
  /** −log D(x, G(x)), averaged over patches; 0 for the L1-only baseline. */
  adv: number;
  /** The discriminator's (halved) loss; NaN for the L1-only baseline. */
  dLoss: number;
}

export interface Pix2pixHistory {
  step: number[];
  gLoss: number[];
  l1: number[];
  adv: number[];
  dLoss: number[];
}

export interface Pix2pixResult {
  generator: Pix2pixGenerator;
  /** Absent for the L1-only baseline (λ_adv = 0). */
  discriminator?: Pix2pixDiscriminator;
  history: Pix2pixHistory;
  seconds: number;
  dispose(): void;
}

function checkPairs(pairs: Pix2pixPairs): void {
  const { input, target } = pairs;
  if (input.count !== target.count) throw new AdvxError(`pix2pix pairs: ${input.count} inputs but ${target.count} targets`);
  if (input.count === 0) throw new AdvxError('pix2pix needs at least one pair');
  if (input.shape[0] !== target.shape[0] || input.shape[1] !== target.shape[1]) {
    throw new AdvxError(`pix2pix pairs: inputs [${input.shape}] and targets [${target.shape}] differ in size`);
  }
}

/** Images `indices` of `ds` as a tensor [k, h, w, c]. */
export function gatherImages(ds: ImageDataset, indices: ArrayLike<number>): tf.Tensor4D {
  const size = ds.shape[0] * ds.shape[1] * ds.shape[2];
  const out = new Float32Array(indices.length * size);
  for (let k = 0; k < indices.length; k++) out.set(ds.images.subarray(indices[k] * size, (indices[k] + 1) * size), k * size);
  return tf.tensor4d(out, [indices.length, ...ds.shape]);
}

/** What one pix2pix step trains: the networks and their optimizers (none for D in the L1-only baseline). */
export interface Pix2pixState {
  generator: Pix2pixGenerator;
  discriminator?: Pix2pixDiscriminator;
  gOpt: tf.Optimizer;
  dOpt?: tf.Optimizer;
}

/**
 * Step `step` on the batch (x, y): one guarded Adam step of D (skipped without a discriminator),
 * then one of G. Returns both losses (D's NaN without one) and G's [L1, adv] parts as a tensor the
 * caller disposes, read back only when they are logged.
 */
export async function pix2pixStep(
  s: Pix2pixState,
  x: tf.Tensor4D,
  y: tf.Tensor4D,
  step: number,
  weights: Required<Pix2pixLossWeights>,
): Promise<{ gLoss: number; dLoss: number; parts: tf.Tensor1D }> {
  const { generator, discriminator, gOpt, dOpt } = s;
  let dLoss = NaN;
  if (discriminator && dOpt) {
    const fake = generator.apply(x);
    try {
      ({ loss: dLoss } = await guardedGanUpdate('discriminator', step, () => pix2pixDiscriminatorLoss(discriminator, x, y, fake), discriminator.variables, dOpt));
    } finally {
      fake.dispose();
    }
  }
  const g = await guardedGanUpdate(
    'generator',
    step,
    (keep) => {
      const r = pix2pixGeneratorLoss(generator, discriminator, x, y, weights);
      keep(r.l1);
      keep(r.adv);
      return r.total;
    },
    generator.variables,
    gOpt,
  );
  const parts = tf.stack(g.kept) as tf.Tensor1D;
  tf.dispose(g.kept);
  return { gLoss: g.loss, dLoss, parts };
}

/**
 * Trains pix2pix on aligned pairs: each step one Adam step of D on a batch (skipped when λ_adv = 0),
 * then one of G on the same batch. Batches are drawn without replacement, epoch after epoch, from
 * a permutation seeded by `seed`, which also seeds the weights. Every update reads back its loss and
 * gradient norm before it is applied (src/train/core.ts): a non-finite one is a GanDivergedError
 * naming the step and the network, and nothing of it reaches the weights.
 */
export async function trainPix2pix(pairs: Pix2pixPairs, opts: Pix2pixTrainOptions): Promise<Pix2pixResult> {
  checkPairs(pairs);
  checkGanOptions(opts);
  const { steps, seed } = opts;
  const batchSize = Math.min(opts.batchSize ?? 16, pairs.input.count);
  const lambdaAdv = opts.lambdaAdv ?? 1;
  const lambdaL1 = opts.lambdaL1 ?? 100;
  const logEvery = opts.logEvery ?? 50;
  const lr = opts.learningRate ?? 2e-4;
  assertOption(Number.isInteger(steps) && steps >= 0, `steps must be a non-negative integer, got ${steps}`);
  assertOption(Number.isInteger(seed), `seed must be an integer, got ${seed}`);
  assertOption(Number.isInteger(batchSize) && batchSize > 0, `batchSize must be a positive integer, got ${opts.batchSize}`);
  assertOption(lambdaAdv >= 0 && lambdaL1 >= 0, `λ_adv and λ_L1 must be ≥ 0, got ${lambdaAdv} and ${lambdaL1}`);
  assertOption(Number.isInteger(logEvery) && logEvery > 0, `logEvery must be a positive integer, got ${logEvery}`);
  const t0 = performance.now();
  const rng = new Rng(seed);
  const netOptions = { inChannels: pairs.input.shape[2], outChannels: pairs.target.shape[2], width: opts.width, seed: rng.seed() };
  const generator = buildPix2pixGenerator(netOptions);
  const discriminator = lambdaAdv > 0 ? buildPix2pixDiscriminator({ ...netOptions, seed: rng.seed() }) : undefined;
  const gOpt = tf.train.adam(lr, opts.beta1 ?? 0.5, opts.beta2 ?? 0.999);
  const dOpt = discriminator ? tf.train.adam(lr, opts.beta1 ?? 0.5, opts.beta2 ?? 0.999) : undefined;
  const history: Pix2pixHistory = { step: [], gLoss: [], l1: [], adv: [], dLoss: [] };
  const n = pairs.input.count;
  let order = rng.permutation(n);
  let cursor = 0;
  const nextBatch = () => {
    if (cursor + batchSize > n) {
      order = rng.permutation(n);
      cursor = 0;
    }
    const idx = order.subarray(cursor, cursor + batchSize);
    cursor += batchSize;
    return [gatherImages(pairs.input, idx), gatherImages(pairs.target, idx)] as const;
  };
  const state: Pix2pixState = { generator, discriminator, gOpt, dOpt };
  try {
    for (let step = 1; step <= steps; step++) {
      const [x, y] = nextBatch();
      try {
        const r = await pix2pixStep(state, x, y, step, { lambdaAdv, lambdaL1 });
        const values = step % logEvery === 0 || step === steps ? await r.parts.data() : undefined;
        r.parts.dispose();
        if (values) {
          const [l1, adv] = values;
          history.step.push(step);
          history.gLoss.push(r.gLoss);
          history.l1.push(l1);
          history.adv.push(adv);
          history.dLoss.push(r.dLoss);
          opts.onStep?.({ step, steps, gLoss: r.gLoss, l1, adv, dLoss: r.dLoss });
        }
      } finally {
        tf.dispose([x, y]);
      }
    }
  } catch (e) {
    generator.dispose();
    discriminator?.dispose();
    throw e;
  } finally {
    gOpt.dispose();
    dOpt?.dispose();
  }
  return {
    generator,
    discriminator,
    history,
    seconds: (performance.now() - t0) / 1000,
    dispose() {
      generator.dispose();
      discriminator?.dispose();
    },
  };
}

/** G(x) for many inputs, `batchSize` at a time, as a Float32Array [n·h·w·outChannels] (no tensor kept). */
export function translateImages(generator: Pix2pixGenerator, input: ImageDataset, batchSize = 128): Float32Array {
  const [h, w] = input.shape;
  const size = h * w * generator.outChannels;
  const out = new Float32Array(input.count * size);
  for (let start = 0; start < input.count; start += batchSize) {
    const k = Math.min(batchSize, input.count - start);
    const idx = Array.from({ length: k }, (_, i) => start + i);
    const y = tf.tidy(() => generator.apply(gatherImages(input, idx)));
    out.set(y.dataSync(), start * size);
    y.dispose();
  }
  return out;
}
