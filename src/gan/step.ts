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
import { setLearningRate } from '../train/core.ts';
import type { GanLoss } from './losses.ts';
import { buildToyNetworks, type Mlp, type ToyNetworkOptions } from './networks.ts';
import { ganUpdate, type RealSampler } from './train.ts';
import { checkGanOptions, ganUpdateSettings, type GanOptions } from './update.ts';

/** Defaults: batch size 128; Adam learning rate 2e-3 for G, and G's for D; β1, β2 0.5, 0.9 as in trainGan. No EMA. */
export type GanStepperOptions = ToyNetworkOptions & Omit<GanOptions, 'ema'>;

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
  /**
   * Takes n (default 1) generator steps. An update whose loss or gradient is not finite is not
   * applied: GanDivergedError, and the networks stay as after the steps before it.
   */
  run(n?: number): Promise<GanStepResult>;
  dispose(): void;
}

export function createGanStepper(sampleReal: RealSampler, options: GanStepperOptions): GanStepper {
  const batchSize = ganUpdateSettings(options, 128).batchSize;
  assertOption(Number.isInteger(options.seed), `seed must be an integer, got ${options.seed}`);
  const lrG = options.learningRate ?? 2e-3;
  const lrD = options.discriminatorLearningRate ?? lrG;
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
      checkGanOptions({ learningRate: g, discriminatorLearningRate: d });
      setLearningRate(optG, g);
      setLearningRate(optD, d);
    },
    async run(n = 1) {
      if (disposed) throw new AdvxError('this GAN stepper was disposed');
      assertOption(Number.isInteger(n) && n >= 1, `steps must be a positive integer, got ${n}`);
      const settings = ganUpdateSettings({ ...options, loss: stepper.loss }, batchSize);
      const update = { generator: G, discriminator: D, optG, optD, dataDim, ...settings };
      const out: GanStepResult = { step: steps, dLoss: [], gLoss: [] };
      for (let s = 0; s < n; s++) {
        // A refused update leaves the networks at this step: the caller may lower a rate and go on.
        const r = await ganUpdate(update, stepper.sampleReal, rng, steps + 1);
        out.step = ++steps;
        out.dLoss.push(r.dLoss);
        out.gLoss.push(r.gLoss);
      }
      return out;
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
