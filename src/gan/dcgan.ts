/**
 * DCGAN generator and discriminator for small images (28×28 or 32×32), isomorphic. Width w (64 by
 * default, the `dcgan-step` workload of WORKLOADS.md):
 *
 *   G: [z ‖ onehot(y)] → dense s·s·2w → BN → relu → convT 4×4/2 → w → BN → relu → convT 4×4/2 → C → tanh
 *   D: x → conv 4×4/2 → w → leaky 0.2 → conv 4×4/2 → 2w → norm → leaky 0.2 → flatten h → dense → logit
 *                                                               (+ ⟨embed(y), h⟩: projection D, cGAN)
 * with s = size/4 (7 for 28×28, 8 for 32×32). The generator is a tf.LayersModel (it is what gets
 * saved and sampled); the discriminator is plain variables, so that R1 and the gradient penalty
 * can differentiate its input gradient a second time: leaky ReLU is written 0.2x + 0.8·relu(x)
 * (TF.js's LeakyRelu gradient has no gradient) and its normalisation uses batch moments directly.
 * Its norm is batch norm (DCGAN's) by default, or per-example layer norm, which keeps each
 * example's logit a function of that example alone (what the WGAN gradient penalty assumes).
 * All weights are drawn N(0, 0.02²) (Radford et al.) from the seed.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { AdvxError, assertOption } from '../core/errors.ts';
import { Rng } from '../core/rng.ts';

export const GAN_ARCHS = ['dcgan', 'cgan'] as const;
export type GanArch = (typeof GAN_ARCHS)[number];
export const DCGAN_IMAGE_SIZES = [28, 32] as const;
export type DiscriminatorNorm = 'batch' | 'layer' | 'none';

export function parseGanArch(name: string): GanArch {
  const key = name.trim().toLowerCase();
  if ((GAN_ARCHS as readonly string[]).includes(key)) return key as GanArch;
  throw new AdvxError(`unknown GAN architecture "${name}": choose one of ${GAN_ARCHS.join(', ')} (cgan is the class-conditional DCGAN)`);
}

export interface DcganConfig {
  /** Height = width of the images: 28 or 32. */
  imageSize: number;
  channels: number;
  latentDim: number;
  /** Base width w: the generator's last hidden layer and D's first have w channels, the others 2w. */
  width: number;
  /** > 0: class-conditional (cGAN) with this many classes; 0: unconditional. */
  numClasses: number;
  discriminatorNorm: DiscriminatorNorm;
}

export interface DcganOptions extends Partial<DcganConfig> {
  seed: number;
}

export function dcganConfig(o: Partial<DcganConfig> = {}): DcganConfig {
  const c: DcganConfig = {
    imageSize: o.imageSize ?? 28,
    channels: o.channels ?? 1,
    latentDim: o.latentDim ?? 100,
    width: o.width ?? 64,
    numClasses: o.numClasses ?? 0,
    discriminatorNorm: o.discriminatorNorm ?? 'batch',
  };
  if (!(DCGAN_IMAGE_SIZES as readonly number[]).includes(c.imageSize)) {
    throw new AdvxError(`the DCGAN makes 28×28 or 32×32 images only (two ×2 upsamplings of a 7×7 or 8×8 map), not ${c.imageSize}×${c.imageSize}`);
  }
  for (const [name, v] of [['channels', c.channels], ['latent size', c.latentDim], ['width', c.width]] as const) {
    assertOption(Number.isInteger(v) && v > 0, `DCGAN ${name} must be a positive integer, got ${v}`);
  }
  assertOption(Number.isInteger(c.numClasses) && c.numClasses >= 0 && c.numClasses !== 1, `DCGAN numClasses must be 0 (unconditional) or ≥ 2, got ${c.numClasses}`);
  assertOption(['batch', 'layer', 'none'].includes(c.discriminatorNorm), `discriminator norm must be batch, layer or none, got ${c.discriminatorNorm}`);
  return c;
}

/** A generator: the LayersModel maps [n, latentDim + numClasses] (z, then the one-hot label) to [n, H, W, C] in [−1, 1]. */
export interface Generator {
  model: tfl.LayersModel;
  config: DcganConfig;
}

const init = (seed: number) => tfl.initializers.randomNormal({ mean: 0, stddev: 0.02, seed });

export function buildGenerator(options: DcganOptions): Generator {
  const config = dcganConfig(options);
  const { imageSize, channels, latentDim, width, numClasses } = config;
  const s = imageSize / 4;
  const rng = new Rng(options.seed);
  // BN momentum 0.9 = PyTorch's default 0.1: the moving statistics follow training within tens of steps.
  const bn = () => tfl.layers.batchNormalization({ momentum: 0.9, epsilon: 1e-5 });
  const model = tfl.sequential({
    name: numClasses ? 'cgan_generator' : 'dcgan_generator',
    layers: [
      tfl.layers.dense({ inputShape: [latentDim + numClasses], units: s * s * 2 * width, kernelInitializer: init(rng.seed()) }),
      bn(),
      tfl.layers.reLU(),
      tfl.layers.reshape({ targetShape: [s, s, 2 * width] }),
      tfl.layers.conv2dTranspose({ filters: width, kernelSize: 4, strides: 2, padding: 'same', kernelInitializer: init(rng.seed()) }),
      bn(),
      tfl.layers.reLU(),
      tfl.layers.conv2dTranspose({ filters: channels, kernelSize: 4, strides: 2, padding: 'same', activation: 'tanh', kernelInitializer: init(rng.seed()) }),
    ],
  });
  return { model, config };
}

/** The generator's trainable variables (BN moving statistics excluded). */
export function generatorVariables(g: Generator): tf.Variable[] {
  return g.model.trainableWeights.map((w) => w.read() as tf.Variable);
}

/** All its weights, the BN moving statistics included, as the variables themselves (no copies). */
export function generatorWeights(g: Generator): tf.Variable[] {
  return g.model.weights.map((w) => w.read() as tf.Variable);
}

/** A copy with its own weights (e.g. the EMA of the generator). */
export function cloneGenerator(g: Generator): Generator {
  const copy = buildGenerator({ ...g.config, seed: 0 });
  copy.model.setWeights(generatorWeights(g));
  return copy;
}

/** z [n, latentDim] and labels (int32 [n], or one-hot [n, K]) → the generator's input. */
export function generatorInput(config: DcganConfig, z: tf.Tensor2D, labels?: tf.Tensor): tf.Tensor2D {
  if (z.shape[1] !== config.latentDim) throw new AdvxError(`the generator takes latent vectors of ${config.latentDim} values, got [${z.shape}]`);
  if (!config.numClasses) {
    if (labels) throw new AdvxError('this generator is unconditional: it takes no class labels');
    return z;
  }
  if (!labels) throw new AdvxError(`this generator is class-conditional (${config.numClasses} classes): pass a label per latent vector`);
  return tf.tidy(() => tf.concat([z, oneHotLabels(labels, config.numClasses)], 1) as tf.Tensor2D);
}

/** Class labels as float one-hot rows [n, K]; int32 [n] labels are checked to lie in [0, K). */
export function oneHotLabels(labels: tf.Tensor, numClasses: number): tf.Tensor2D {
  if (labels.rank === 2) {
    if (labels.shape[1] !== numClasses) throw new AdvxError(`one-hot labels must have ${numClasses} columns, got [${labels.shape}]`);
    return labels.clone() as tf.Tensor2D;
  }
  return tf.tidy(() => tf.cast(tf.oneHot(tf.cast(labels, 'int32') as tf.Tensor1D, numClasses), 'float32') as tf.Tensor2D);
}

/** Images [n, H, W, C] in [−1, 1] from z (and labels for a cGAN); training: batch statistics in BN. */
export function generate(g: Generator, z: tf.Tensor2D, labels?: tf.Tensor, training = false): tf.Tensor4D {
  return tf.tidy(() => g.model.apply(generatorInput(g.config, z, labels), { training }) as tf.Tensor4D);
}

/** The discriminator: logits [n, 1] for images [n, H, W, C] in [−1, 1] (and labels for a cGAN). */
export interface Discriminator {
  readonly config: DcganConfig;
  readonly variables: tf.Variable[];
  apply(x: tf.Tensor4D, labels?: tf.Tensor): tf.Tensor2D;
  getWeights(): tf.Variable[];
  setWeights(weights: tf.Tensor[]): void;
  dispose(): void;
}

let counter = 0;

function normalVariable(rng: Rng, shape: number[], name: string, std = 0.02): tf.Variable {
  const size = shape.reduce((a, b) => a * b, 1);
  const w = new Float32Array(size);
  for (let i = 0; i < size; i++) w[i] = std * rng.normal();
  return tf.tidy(() => tf.variable(tf.tensor(w, shape), true, name));
}

function constantVariable(shape: number[], value: number, name: string): tf.Variable {
  return tf.tidy(() => tf.variable(tf.fill(shape, value), true, name));
}

const leaky = (x: tf.Tensor) => tf.add(tf.mul(x, 0.2), tf.mul(tf.relu(x), 0.8));

export function buildDiscriminator(options: DcganOptions): Discriminator {
  const config = dcganConfig(options);
  const { imageSize, channels, width, numClasses, discriminatorNorm } = config;
  const s = imageSize / 4;
  const flat = s * s * 2 * width;
  const rng = new Rng(options.seed);
  const p = `discriminator_${counter++}`;
  const variables = [
    normalVariable(rng, [4, 4, channels, width], `${p}/conv1/kernel`),
    constantVariable([width], 0, `${p}/conv1/bias`),
    normalVariable(rng, [4, 4, width, 2 * width], `${p}/conv2/kernel`),
    constantVariable([2 * width], 0, `${p}/conv2/bias`),
    constantVariable([2 * width], 1, `${p}/norm/gamma`),
    constantVariable([2 * width], 0, `${p}/norm/beta`),
    normalVariable(rng, [flat, 1], `${p}/dense/kernel`),
    constantVariable([1], 0, `${p}/dense/bias`),
  ];
  if (numClasses) variables.push(normalVariable(rng, [numClasses, flat], `${p}/embed`));
  const [w1, b1, w2, b2, gamma, beta, wd, bd, embed] = variables;
  return {
    config,
    variables,
    apply(x, labels) {
      const shape = [imageSize, imageSize, channels];
      if (x.rank !== 4 || x.shape.slice(1).some((v, i) => v !== shape[i])) throw new AdvxError(`the discriminator takes images [n, ${shape}], got [${x.shape}]`);
      if (!numClasses && labels) throw new AdvxError('this discriminator is unconditional: it takes no class labels');
      if (numClasses && !labels) throw new AdvxError(`this discriminator is class-conditional (${numClasses} classes): pass the images' labels`);
      return tf.tidy(() => {
        let h: tf.Tensor4D = leaky(tf.add(tf.conv2d(x, w1 as tf.Tensor4D, 2, 'same'), b1)) as tf.Tensor4D;
        h = tf.add(tf.conv2d(h, w2 as tf.Tensor4D, 2, 'same'), b2);
        if (discriminatorNorm !== 'none') {
          const axes = discriminatorNorm === 'batch' ? [0, 1, 2] : [1, 2, 3];
          const { mean, variance } = tf.moments(h, axes, true);
          h = tf.add(tf.mul(tf.mul(tf.sub(h, mean), tf.rsqrt(tf.add(variance, 1e-5))), gamma), beta);
        }
        const f = tf.reshape(leaky(h), [x.shape[0], flat]) as tf.Tensor2D;
        let logit = tf.add(tf.matMul(f, wd), bd) as tf.Tensor2D;
        if (embed) {
          // Projection discriminator (Miyato & Koyama 2018): + ⟨embed(y), h⟩.
          const e = tf.matMul(oneHotLabels(labels!, numClasses), embed);
          logit = tf.add(logit, tf.sum(tf.mul(e, f), 1, true));
        }
        return logit;
      });
    },
    getWeights: () => variables,
    setWeights(weights) {
      if (weights.length !== variables.length) throw new AdvxError(`the discriminator has ${variables.length} weight tensors, got ${weights.length}`);
      weights.forEach((w, i) => {
        if (!tf.util.arraysEqual(w.shape, variables[i].shape)) throw new AdvxError(`discriminator weight ${i} has shape [${variables[i].shape}], got [${w.shape}]`);
      });
      weights.forEach((w, i) => variables[i].assign(w));
    },
    dispose: () => tf.dispose(variables),
  };
}

export interface DcganNetworks {
  generator: Generator;
  discriminator: Discriminator;
}

/** A seeded generator and discriminator of one configuration. */
export function buildDcgan(options: DcganOptions): DcganNetworks {
  return { generator: buildGenerator(options), discriminator: buildDiscriminator({ ...options, seed: options.seed + 1 }) };
}

/**
 * Latent vectors for an interpolation strip: `rows` pairs of endpoints drawn from `seed`, each
 * joined by `cols` points along the great circle (slerp), which keeps the norm typical of a
 * Gaussian vector where a straight line passes through low-norm, atypical z. [rows·cols, latentDim].
 */
export function latentInterpolation(latentDim: number, rows: number, cols: number, seed: number): tf.Tensor2D {
  assertOption(Number.isInteger(rows) && rows > 0 && Number.isInteger(cols) && cols >= 2, `an interpolation needs ≥ 1 row and ≥ 2 columns, got ${rows}×${cols}`);
  const rng = new Rng(seed);
  const out = new Float32Array(rows * cols * latentDim);
  for (let r = 0; r < rows; r++) {
    const a = Float64Array.from({ length: latentDim }, () => rng.normal());
    const b = Float64Array.from({ length: latentDim }, () => rng.normal());
    const na = Math.hypot(...a);
    const nb = Math.hypot(...b);
    let dot = 0;
    for (let i = 0; i < latentDim; i++) dot += (a[i] / na) * (b[i] / nb);
    const omega = Math.acos(Math.min(1, Math.max(-1, dot)));
    for (let c = 0; c < cols; c++) {
      const t = c / (cols - 1);
      const [wa, wb] = omega < 1e-6 ? [1 - t, t] : [Math.sin((1 - t) * omega) / Math.sin(omega), Math.sin(t * omega) / Math.sin(omega)];
      const o = (r * cols + c) * latentDim;
      for (let i = 0; i < latentDim; i++) out[o + i] = wa * a[i] + wb * b[i];
    }
  }
  return tf.tensor2d(out, [rows * cols, latentDim]);
}
