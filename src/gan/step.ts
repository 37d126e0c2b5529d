/**
 * A GAN trainer driven one step at a time (isomorphic), for interactive views such as the lab's
 * GAN playground: the same losses, networks and update (ganUpdate) as trainGan (src/gan/train.ts) — dSteps
 * Adam steps of D, then one Adam step of G — but the optimisers live as long as the stepper, so
 * the caller decides when to step, and may switch the loss, the learning rates or the data
 * between steps without losing the Adam moments. No learning-rate decay, no EMA: a playground
 * runs open-ended.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers';
import { AdvxError, assertOption } from '../core/errors.ts';
import { Rng } from '../core/rng.ts';
import { setLearningRate } from '../train/fit.ts';
import { GAN_LOSSES, type GanLoss } from './losses.ts';
import { buildToyNetworks, type Mlp, type ToyNetworkOptions } from './networks.ts';
import { ganUpdate, type GanUpdate, type GanUpdateOptions, type RealSampler } from './train.ts';

/** Defaults: batch size 128; Adam learning rate 2e-3 for G, and G's for D; β1, β2 0.5, 0.9 as in trainGan. */
export interface GanStepperOptions extends ToyNetworkOptions, GanUpdateOptions {}

export interface GanStepResult {
  /** Generator steps taken so far, these included. */
  step: number;
  /** One entry per step taken by this call. */
  dLoss: number[];
  gLoss: number[];
}

export interface GanStepper {
  readonly generator: Mlp;
  readonly discriminator: Mlp;
  /** Generator steps taken so far. */
  readonly steps: number;
  /** The loss of the next steps (switchable between steps). */
  loss: GanLoss;
  /** The data the next steps draw from (switchable between steps). */
  sampleReal: RealSampler;
  setLearningRates(generator: number, discriminator: number): void;
  /** Takes n (default 1) generator steps and reads their losses back in one sync; AdvxError if one is not finite. */
  run(n?: number): Promise<GanStepResult>;
  dispose(): void;
}

export function createGanStepper(sampleReal: RealSampler, options: GanStepperOptions): GanStepper {
  assertOption((GAN_LOSSES as readonly string[]).includes(options.loss), `loss must be one of ${GAN_LOSSES.join(', ')}, got ${String(options.loss)}`);
  assertOption(Number.isInteger(options.seed), `seed must be an integer, got ${options.seed}`);
  const batchSize = options.batchSize ?? 128;
  assertOption(Number.isInteger(batchSize) && batchSize > 0, `batch size must be a positive integer, got ${batchSize}`);
  const positive = (name: string, v: number) => assertOption(Number.isFinite(v) && v > 0, `${name} must be a positive number, got ${v}`);
  let lrG = options.learningRate ?? 2e-3;
  let lrD = options.discriminatorLearningRate ?? lrG;
  positive('learning rate', lrG);
  positive('discriminator learning rate', lrD);
  const dataDim = options.dataDim ?? 2;
  const { generator: G, discriminator: D } = buildToyNetworks({ ...options, dataDim });
  const [beta1, beta2] = [options.beta1 ?? 0.5, options.beta2 ?? 0.9];
  const optG: tf.Optimizer = tf.train.adam(lrG, beta1, beta2);
  const optD: tf.Optimizer = tf.train.adam(lrD, beta1, beta2);
  const rng = new Rng(options.seed * 7919 + 17);
  let steps = 0;
  let disposed = false;

  const stepper: GanStepper = {
    generator: G,
    discriminator: D,
    get steps() {
      return steps;
    },
    loss: options.loss,
    sampleReal,
    setLearningRates(g, d) {
      positive('learning rate', g);
      positive('discriminator learning rate', d);
      [lrG, lrD] = [g, d];
      setLearningRate(optG, g);
      setLearningRate(optD, d);
    },
    async run(n = 1) {
      if (disposed) throw new AdvxError('this GAN stepper was disposed');
      assertOption(Number.isInteger(n) && n >= 1, `steps must be a positive integer, got ${n}`);
      const loss = stepper.loss;
      assertOption((GAN_LOSSES as readonly string[]).includes(loss), `loss must be one of ${GAN_LOSSES.join(', ')}, got ${String(loss)}`);
      const dSteps = options.dSteps ?? (loss === 'wgan-gp' ? 5 : 1);
      const gpWeight = options.gpWeight ?? (loss === 'wgan-gp' ? 10 : 0);
      const update: GanUpdate = { generator: G, discriminator: D, optG, optD, loss, batchSize, dataDim, dSteps, gpWeight, r1Gamma: 0, gradNorm: false };
      const rows: tf.Tensor1D[] = [];
      try {
        for (let s = 0; s < n; s++) {
          const row = ganUpdate(update, stepper.sampleReal, rng);
          rows.push(row);
          steps++;
        }
        const stacked = tf.stack(rows);
        const values = await stacked.data();
        stacked.dispose();
        const out: GanStepResult = { step: steps, dLoss: [], gLoss: [] };
        for (let i = 0; i < n; i++) {
          const [d, g] = [values[2 * i], values[2 * i + 1]];
          if (!Number.isFinite(d) || !Number.isFinite(g)) {
            throw new AdvxError(`GAN training diverged at step ${steps - n + i + 1} (${loss}): discriminator loss ${d}, generator loss ${g}; try a lower learning rate (now G ${lrG}, D ${lrD})`);
          }
          out.dLoss.push(d);
          out.gLoss.push(g);
        }
        return out;
      } finally {
        tf.dispose(rows);
      }
    },
    dispose() {
      if (disposed) return;
      disposed = true;
      optG.dispose();
      optD.dispose();
      G.dispose();
      D.dispose();
    },
  };
  return stepper;
}
