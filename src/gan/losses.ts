/**
 * GAN losses from the discriminator's logits l (D = σ(l)), isomorphic. Every log-probability goes
 * through softplus: log D = −softplus(−l), log(1 − D) = −softplus(l), so a confident discriminator
 * (|l| ≫ 1) gives finite losses and gradients instead of log(0).
 *
 *   minimax  D: −E log D(x) − E log(1 − D(G(z)))    G: min E log(1 − D(G(z)))   (saturates)
 *   ns       D: as minimax                          G: min −E log D(G(z))      (non-saturating)
 *   hinge    D: E relu(1 − l_real) + E relu(1 + l_fake)                 G: −E l_fake
 *   lsgan    D: ½E (l_real − 1)² + ½E l_fake²  (a=0, b=c=1, Mao et al.)  G: ½E (l_fake − 1)²
 *   wgan-gp  D: E l_fake − E l_real (+ λ·gradientPenalty, added by the trainer)    G: −E l_fake
 */
import * as tf from '@tensorflow/tfjs-core';
// tfjs-core registers no gradients; importing layers registers them for every backend.
import '@tensorflow/tfjs-layers';
import { AdvxError } from '../core/errors.ts';

export const GAN_LOSSES = ['minimax', 'ns', 'hinge', 'lsgan', 'wgan-gp'] as const;
export type GanLoss = (typeof GAN_LOSSES)[number];

/**
 * What a trainer uses for a loss when told nothing else: WGAN-GP's critic is only a Wasserstein
 * estimate with its gradient penalty and several critic steps per generator step (Gulrajani et al.:
 * λ = 10, 5 steps); the other losses train D and G in turn, unpenalised.
 */
export const LOSS_DEFAULTS: Readonly<Record<GanLoss, { readonly gpWeight: number; readonly dSteps: number }>> = {
  minimax: { gpWeight: 0, dSteps: 1 },
  ns: { gpWeight: 0, dSteps: 1 },
  hinge: { gpWeight: 0, dSteps: 1 },
  lsgan: { gpWeight: 0, dSteps: 1 },
  'wgan-gp': { gpWeight: 10, dSteps: 5 },
};

const ALIASES: Record<string, GanLoss> = {
  vanilla: 'minimax',
  saturating: 'minimax',
  'non-saturating': 'ns',
  'least-squares': 'lsgan',
  wgangp: 'wgan-gp',
};

/** A loss name (or a common alias: vanilla, non-saturating, least-squares) → GanLoss; AdvxError otherwise. */
export function parseGanLoss(name: string): GanLoss {
  const key = name.trim().toLowerCase();
  if ((GAN_LOSSES as readonly string[]).includes(key)) return key as GanLoss;
  if (key in ALIASES) return ALIASES[key];
  throw new AdvxError(`unknown GAN loss "${name}": choose one of ${GAN_LOSSES.join(', ')}`);
}

/** A network mapping a batch [n, d] to logits [n, 1] (or [n]). */
export type Critic = (x: tf.Tensor2D) => tf.Tensor;

const mean = (t: tf.Tensor) => tf.mean(t) as tf.Scalar;

/** The discriminator's (critic's) loss, to minimise; for wgan-gp without the penalty. */
export function discriminatorLoss(loss: GanLoss, realLogits: tf.Tensor, fakeLogits: tf.Tensor): tf.Scalar {
  return tf.tidy(() => {
    switch (loss) {
      case 'minimax':
      case 'ns':
        return tf.add(mean(tf.softplus(tf.neg(realLogits))), mean(tf.softplus(fakeLogits))) as tf.Scalar;
      case 'hinge':
        return tf.add(mean(tf.relu(tf.sub(1, realLogits))), mean(tf.relu(tf.add(1, fakeLogits)))) as tf.Scalar;
      case 'lsgan':
        return tf.mul(0.5, tf.add(mean(tf.square(tf.sub(realLogits, 1))), mean(tf.square(fakeLogits)))) as tf.Scalar;
      case 'wgan-gp':
        return tf.sub(mean(fakeLogits), mean(realLogits)) as tf.Scalar;
    }
  });
}

/** The generator's loss on the discriminator's logits for fakes, to minimise. */
export function generatorLoss(loss: GanLoss, fakeLogits: tf.Tensor): tf.Scalar {
  return tf.tidy(() => {
    switch (loss) {
      case 'minimax':
        // log(1 − σ(l)) = −softplus(l): flat (gradient −σ(l) → 0) exactly when D rejects the fakes.
        return tf.neg(mean(tf.softplus(fakeLogits))) as tf.Scalar;
      case 'ns':
        // −log σ(l) = softplus(−l): gradient −(1 − σ(l)) → −1 when D rejects the fakes.
        return mean(tf.softplus(tf.neg(fakeLogits)));
      case 'hinge':
      case 'wgan-gp':
        return tf.neg(mean(fakeLogits)) as tf.Scalar;
      case 'lsgan':
        return tf.mul(0.5, mean(tf.square(tf.sub(fakeLogits, 1)))) as tf.Scalar;
    }
  });
}

/** Per-example ‖∇ₓ critic(x)‖², [n]; differentiable w.r.t. the critic's variables (double backprop). */
function inputGradientSquaredNorms(critic: Critic, x: tf.Tensor2D): tf.Tensor1D {
  const g = tf.grad((v: tf.Tensor) => tf.sum(critic(v as tf.Tensor2D)))(x);
  return tf.sum(tf.square(g), 1);
}

/**
 * WGAN-GP's penalty (Gulrajani et al. 2017): E[(‖∇ₓ̂ D(x̂)‖₂ − 1)²] on x̂ = ε·real + (1 − ε)·fake,
 * ε ~ U[0, 1] per example (seeded). Zero for any critic that is 1-Lipschitz with unit slope
 * everywhere along those lines, e.g. a linear critic with a unit-norm weight. Multiply by λ (10).
 */
export function gradientPenalty(critic: Critic, real: tf.Tensor2D, fake: tf.Tensor2D, seed: number): tf.Scalar {
  if (real.shape[0] !== fake.shape[0] || real.shape[1] !== fake.shape[1]) {
    throw new AdvxError(`gradient penalty: real [${real.shape}] and fake [${fake.shape}] batches must have the same shape`);
  }
  return tf.tidy(() => {
    const eps = tf.randomUniform([real.shape[0], 1], 0, 1, 'float32', seed);
    const xHat = tf.add(fake, tf.mul(eps, tf.sub(real, fake))) as tf.Tensor2D;
    // The 1e-12 keeps sqrt's gradient finite where the input gradient vanishes.
    const norms = tf.sqrt(tf.add(inputGradientSquaredNorms(critic, xHat), 1e-12));
    return mean(tf.square(tf.sub(norms, 1)));
  });
}

/**
 * R1 (Mescheder et al. 2018): E‖∇ₓ D(x)‖² on real data only; the trainer adds γ/2 times it to D's
 * loss. It pulls D flat on the data, which damps the oscillation around the equilibrium.
 */
export function r1Penalty(critic: Critic, real: tf.Tensor2D): tf.Scalar {
  return tf.tidy(() => mean(inputGradientSquaredNorms(critic, real)));
}
