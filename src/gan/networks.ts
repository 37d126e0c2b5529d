/**
 * Small MLP generator and discriminator for the 2-D toy GANs, on plain variables rather than
 * tf.layers: a toy step is dominated by per-op overhead, a forward pass here is three ops a layer,
 * and the penalties differentiate the input gradient (double backprop) through it. Leaky ReLU is
 * written 0.2x + 0.8·relu(x) because TF.js's LeakyRelu gradient (built on Greater, which has no
 * gradient) cannot be differentiated a second time. Glorot-uniform weights drawn from the seed.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers';
import { AdvxError, assertOption } from '../core/errors.ts';
import { Rng } from '../core/rng.ts';

export type Activation = 'relu' | 'leaky-relu' | 'tanh';

export interface MlpOptions {
  /** Layer widths, input first, output last: [2, 128, 128, 1]. */
  sizes: number[];
  /** Hidden-layer activation; the output layer is linear. Default 'leaky-relu'. */
  activation?: Activation;
  seed: number;
  name?: string;
}

/** A multilayer perceptron [n, sizes[0]] → [n, sizes.at(-1)] whose weights are W0, b0, W1, b1, … */
export interface Mlp {
  readonly name: string;
  readonly sizes: readonly number[];
  readonly activation: Activation;
  /** Trainable variables in checkpoint order. */
  readonly variables: tf.Variable[];
  apply(x: tf.Tensor2D): tf.Tensor2D;
  /** Snapshots of the weights (the caller disposes them). */
  getWeights(): tf.Tensor[];
  setWeights(weights: tf.Tensor[]): void;
  dispose(): void;
}

/**
 * tanh whose gradient is computed from its input. TF.js's Tanh gradient, (1 − y²)·dy, reads a copy of
 * the output y that the tape does not link back to the input, so the second derivative that the
 * gradient penalties take (double backprop) missed the path through y: ∂GP/∂θ came out wrong for a
 * tanh critic. Here the gradient recomputes tanh from x on the tape.
 */
const tanh = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const [x, save] = args as [tf.Tensor, tf.GradSaveFunc];
  save([x]);
  return { value: tf.tanh(x), gradFunc: (dy: tf.Tensor, [input]: tf.Tensor[]) => tf.mul(dy, tf.sub(1, tf.square(tf.tanh(input)))) };
}) as (x: tf.Tensor2D) => tf.Tensor2D;

function activate(x: tf.Tensor2D, activation: Activation): tf.Tensor2D {
  if (activation === 'relu') return tf.relu(x);
  if (activation === 'tanh') return tanh(x);
  return tf.add(tf.mul(x, 0.2), tf.mul(tf.relu(x), 0.8));
}

let counter = 0;

export function buildMlp(options: MlpOptions): Mlp {
  const { sizes, seed } = options;
  const activation = options.activation ?? 'leaky-relu';
  assertOption(sizes.length >= 2 && sizes.every((s) => Number.isInteger(s) && s > 0), `MLP sizes must be ≥ 2 positive integers, got [${sizes}]`);
  assertOption(Number.isInteger(seed), `seed must be an integer, got ${seed}`);
  const name = options.name ?? 'mlp';
  const rng = new Rng(seed);
  const id = counter++;
  const variables: tf.Variable[] = [];
  for (let k = 0; k + 1 < sizes.length; k++) {
    const [fanIn, fanOut] = [sizes[k], sizes[k + 1]];
    const limit = Math.sqrt(6 / (fanIn + fanOut));
    const w = new Float32Array(fanIn * fanOut);
    for (let i = 0; i < w.length; i++) w[i] = (2 * rng.next() - 1) * limit;
    // tf.variable does not take ownership of its initial value: tidy frees it (never a variable).
    tf.tidy(() => {
      variables.push(tf.variable(tf.tensor2d(w, [fanIn, fanOut]), true, `${name}_${id}/W${k}`));
      variables.push(tf.variable(tf.zeros([fanOut]), true, `${name}_${id}/b${k}`));
    });
  }
  return mlpOn(name, sizes, activation, variables);
}

function mlpOn(name: string, sizes: readonly number[], activation: Activation, variables: tf.Variable[]): Mlp {
  const layers = variables.length / 2;
  return {
    name,
    sizes,
    activation,
    variables,
    apply(x) {
      if (x.shape[1] !== sizes[0]) throw new AdvxError(`${name} expects inputs [n, ${sizes[0]}], got [${x.shape}]`);
      return tf.tidy(() => {
        let h = x;
        for (let k = 0; k < layers; k++) {
          h = tf.add(tf.matMul(h, variables[2 * k]), variables[2 * k + 1]);
          if (k + 1 < layers) h = activate(h, activation);
        }
        return h;
      });
    },
    getWeights: () => variables.map((v) => tf.clone(v)),
    setWeights(weights) {
      if (weights.length !== variables.length) throw new AdvxError(`${name} has ${variables.length} weight tensors, got ${weights.length}`);
      weights.forEach((w, i) => {
        const v = variables[i];
        if (!tf.util.arraysEqual(w.shape, v.shape)) throw new AdvxError(`${name} weight ${i} has shape [${v.shape}], got [${w.shape}]`);
      });
      weights.forEach((w, i) => variables[i].assign(w));
    },
    dispose: () => tf.dispose(variables),
  };
}

/** A copy with its own variables (e.g. the EMA of a generator's weights). */
export function cloneMlp(net: Mlp, name = `${net.name}_copy`): Mlp {
  const id = counter++;
  const variables = tf.tidy(() => net.variables.map((v) => tf.variable(tf.clone(v), false, `${name}_${id}/${v.name.split('/').at(-1)}`)));
  return mlpOn(name, net.sizes, net.activation, variables);
}

export interface ToyNetworkOptions {
  latentDim?: number;
  dataDim?: number;
  generatorHidden?: number[];
  discriminatorHidden?: number[];
  /**
   * Hidden activations: default ReLU for the generator — its dead units give flat regions that map
   * a whole region of z onto one mode, where leaky ReLU keeps a slope everywhere (ring, NS loss,
   * 4 000 steps: 8/8 modes and 94% of samples within 3σ with ReLU, 6/8 and 66% with leaky ReLU) —
   * and leaky ReLU for the discriminator, so that it passes gradients to the generator everywhere.
   */
  generatorActivation?: Activation;
  discriminatorActivation?: Activation;
  seed: number;
}

/** The toy generator z ∈ ℝ^latentDim → ℝ^dataDim and discriminator ℝ^dataDim → logit, seeded. */
export function buildToyNetworks(options: ToyNetworkOptions): { generator: Mlp; discriminator: Mlp } {
  const { latentDim = 8, dataDim = 2, seed } = options;
  const generator = buildMlp({ sizes: [latentDim, ...(options.generatorHidden ?? [128, 128]), dataDim], activation: options.generatorActivation ?? 'relu', seed, name: 'generator' });
  const discriminator = buildMlp({
    sizes: [dataDim, ...(options.discriminatorHidden ?? [128, 128]), 1],
    activation: options.discriminatorActivation,
    seed: seed + 1,
    name: 'discriminator',
  });
  return { generator, discriminator };
}
