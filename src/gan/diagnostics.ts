/**
 * Why the minimax generator loss saturates (Goodfellow et al. 2014 §3; Arjovsky & Bottou 2017,
 * fig. 2). With D = σ(l), ∂/∂l log(1 − σ(l)) = −σ(l): when D confidently rejects the fakes
 * (l ≪ 0, as it soon does while G is bad) the minimax gradient vanishes, whereas the
 * non-saturating ∂/∂l (−log σ(l)) = −(1 − σ(l)) → −1 stays. The experiment: hold a generator fixed
 * (untrained by default), train a fresh discriminator against it with the usual loss, and after
 * every few discriminator steps measure ‖∇θ_G L_G‖ under both generator losses on the same z.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers';
import { assertOption } from '../core/errors.ts';
import { Rng } from '../core/rng.ts';
import { discriminatorLoss, generatorLoss } from './losses.ts';
import { buildToyNetworks, type Activation, type Mlp } from './networks.ts';
import { sampleLatent, type RealSampler } from './train.ts';

export interface SaturationOptions {
  seed: number;
  /** Discriminator steps; default 300. */
  steps?: number;
  /** Measure every this many steps (and at step 0); default 10. */
  evalEvery?: number;
  batchSize?: number;
  /** D's Adam learning rate; default 2e-3 (β1 0.5, β2 0.9, as trainGan). */
  learningRate?: number;
  dataDim?: number;
  latentDim?: number;
  generatorHidden?: number[];
  discriminatorHidden?: number[];
  generatorActivation?: Activation;
  discriminatorActivation?: Activation;
  /** The fixed generator (e.g. one after a few training steps); default a fresh one from the seed. Not disposed. */
  generator?: Mlp;
}

export interface SaturationSeries {
  step: number[];
  /** ‖∇θ_G log(1 − D(G(z)))‖ (averaged over z). */
  minimax: number[];
  /** ‖∇θ_G −log D(G(z))‖. */
  nonSaturating: number[];
  /** Mean D(G(z)): how confidently D rejects the fakes. */
  fakeProbability: number[];
}

export async function saturationDiagnostic(sampleReal: RealSampler, options: SaturationOptions): Promise<SaturationSeries> {
  const { seed, steps = 300, evalEvery = 10, batchSize = 256, learningRate = 2e-3, dataDim = 2 } = options;
  assertOption(Number.isInteger(steps) && steps >= 0, `steps must be a non-negative integer, got ${steps}`);
  assertOption(Number.isInteger(evalEvery) && evalEvery > 0, `evalEvery must be a positive integer, got ${evalEvery}`);
  assertOption(Number.isInteger(batchSize) && batchSize > 0, `batch size must be a positive integer, got ${batchSize}`);
  const built = buildToyNetworks({ ...options, dataDim, seed });
  const G = options.generator ?? built.generator;
  if (options.generator) built.generator.dispose();
  const D = built.discriminator;
  assertOption(G.sizes.at(-1) === D.sizes[0], `the generator outputs ${G.sizes.at(-1)} values but the discriminator takes ${D.sizes[0]}`);
  const optimizer: tf.Optimizer = tf.train.adam(learningRate, 0.5, 0.9);
  const rng = new Rng(seed * 7919 + 29);
  // One fixed batch of z for every measurement, so the curves differ only through D.
  const zEval = sampleLatent(new Rng(seed + 1), batchSize, G.sizes[0]);
  const fakeEval = tf.tidy(() => G.apply(zEval));
  const series: SaturationSeries = { step: [], minimax: [], nonSaturating: [], fakeProbability: [] };
  const measure = async (step: number) => {
    const row = tf.tidy(() => {
      const norm = (loss: 'minimax' | 'ns') => {
        const { grads } = tf.variableGrads(() => generatorLoss(loss, D.apply(G.apply(zEval))), G.variables);
        return tf.sqrt(tf.addN(Object.values(grads).map((g) => tf.sum(tf.square(g)))));
      };
      return tf.stack([norm('minimax'), norm('ns'), tf.mean(tf.sigmoid(D.apply(fakeEval)))]);
    });
    const [mm, ns, p] = await row.data();
    row.dispose();
    series.step.push(step);
    series.minimax.push(mm);
    series.nonSaturating.push(ns);
    series.fakeProbability.push(p);
  };
  try {
    await measure(0);
    for (let step = 1; step <= steps; step++) {
      const real = tf.tensor2d(sampleReal(batchSize, rng), [batchSize, G.sizes.at(-1)!]);
      const z = sampleLatent(rng, batchSize, G.sizes[0]);
      tf.tidy(() => {
        const fake = G.apply(z);
        const { grads } = tf.variableGrads(() => discriminatorLoss('minimax', D.apply(real), D.apply(fake)), D.variables);
        optimizer.applyGradients(grads);
      });
      tf.dispose([real, z]);
      if (step % evalEvery === 0 || step === steps) await measure(step);
    }
  } finally {
    optimizer.dispose();
    tf.dispose([zEval, fakeEval]);
    D.dispose();
    if (!options.generator) G.dispose();
  }
  return series;
}
