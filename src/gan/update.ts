/**
 * What the GAN trainers share (isomorphic): the base of their options, checked in one place, with
 * the per-loss defaults of losses.ts filled in; and the update of one network under the training
 * core's divergence policy (src/train/core.ts), whose refusal names the network.
 */
import type * as tf from '@tensorflow/tfjs-core';
import { assertOption } from '../core/errors.ts';
import { TrainingDivergedError, guardedUpdate } from '../train/core.ts';
import { GAN_LOSSES, LOSS_DEFAULTS, type GanLoss } from './losses.ts';

/**
 * The options of the adversarial trainers (trainGan, createGanStepper, trainImageGan; pix2pix
 * takes a few). Each trainer names its own defaults for the batch size, learning rates and β.
 */
export interface GanOptions {
  loss: GanLoss;
  seed: number;
  batchSize?: number;
  /** Adam learning rates, G's and D's (D's defaults to G's). */
  learningRate?: number;
  discriminatorLearningRate?: number;
  /** Adam β1, β2. */
  beta1?: number;
  beta2?: number;
  /** Discriminator steps per generator step; default LOSS_DEFAULTS[loss].dSteps. */
  dSteps?: number;
  /** λ of the gradient penalty; default LOSS_DEFAULTS[loss].gpWeight (any loss may use it). */
  gpWeight?: number;
  /** γ of the R1 penalty (γ/2·E‖∇D(x)‖² on real data); default 0 (off). */
  r1Gamma?: number;
  /** Decay β of an exponential moving average of the generator's weights (e.g. 0.999, with TF's warm-up); 0 or absent: none. */
  ema?: number;
}

const isLoss = (loss: unknown) => (GAN_LOSSES as readonly unknown[]).includes(loss);
const badLoss = (loss: unknown) => `loss must be one of ${GAN_LOSSES.join(', ')}, got ${String(loss)}`;

/** Checks the options given (absent ones are left to the defaults). */
export function checkGanOptions(o: Partial<GanOptions>): void {
  assertOption(o.loss === undefined || isLoss(o.loss), badLoss(o.loss));
  assertOption(o.seed === undefined || Number.isInteger(o.seed), `seed must be an integer, got ${o.seed}`);
  for (const [name, v] of [['batch size', o.batchSize], ['dSteps', o.dSteps]] as const) {
    assertOption(v === undefined || (Number.isInteger(v) && v > 0), `${name} must be a positive integer, got ${v}`);
  }
  for (const [name, v] of [['learning rate', o.learningRate], ['discriminator learning rate', o.discriminatorLearningRate]] as const) {
    assertOption(v === undefined || (Number.isFinite(v) && v > 0), `${name} must be a positive number, got ${v}`);
  }
  for (const [name, v] of [['gradient penalty weight', o.gpWeight], ['R1 γ', o.r1Gamma]] as const) {
    assertOption(v === undefined || (Number.isFinite(v) && v >= 0), `${name} must be a number ≥ 0, got ${v}`);
  }
  for (const [name, v] of [['beta1', o.beta1], ['beta2', o.beta2], ['ema', o.ema]] as const) {
    assertOption(v === undefined || (v >= 0 && v < 1), `${name} must be in [0, 1), got ${v}`);
  }
}

/** The settings of one GAN update, defaults filled in. */
export interface GanUpdateSettings {
  loss: GanLoss;
  batchSize: number;
  dSteps: number;
  gpWeight: number;
  r1Gamma: number;
}

/** The update settings of checked options; `batchSize` is the trainer's default. */
export function ganUpdateSettings(o: Partial<GanOptions> & { loss: GanLoss }, batchSize: number): GanUpdateSettings {
  assertOption(isLoss(o.loss), badLoss(o.loss));
  checkGanOptions(o);
  const d = LOSS_DEFAULTS[o.loss];
  return { loss: o.loss, batchSize: o.batchSize ?? batchSize, dSteps: o.dSteps ?? d.dSteps, gpWeight: o.gpWeight ?? d.gpWeight, r1Gamma: o.r1Gamma ?? 0 };
}

/** A TrainingDivergedError that names the GAN network whose update was refused. */
export class GanDivergedError extends TrainingDivergedError {
  constructor(
    step: number,
    readonly network: 'discriminator' | 'generator',
    loss: number,
    gradNorm: number,
  ) {
    super(step, network, loss, gradNorm);
    this.name = 'GanDivergedError';
    this.message = `GAN ${this.message}`;
  }
}

/** guardedUpdate of one GAN network at generator step `step`: a non-finite loss or gradient is a GanDivergedError. */
export async function guardedGanUpdate(
  network: 'discriminator' | 'generator',
  step: number,
  f: (keep: <T extends tf.Tensor>(t: T) => T) => tf.Scalar,
  vars: tf.Variable[],
  optimizer: tf.Optimizer,
): ReturnType<typeof guardedUpdate> {
  try {
    return await guardedUpdate(f, vars, optimizer, { step, part: network });
  } catch (e) {
    throw e instanceof TrainingDivergedError ? new GanDivergedError(e.step, network, e.loss, e.gradNorm) : e;
  }
}
