/**
 * Attacks as the explorer runs them: the iterative gradient attacks one step at a time (so the
 * page can draw every iterate), built from the same advx primitives as src/attacks/ (the PGD step
 * is pgdRun's, the MI-FGSM step mifgsm's); DeepFool and C&W through the library in one call.
 */
import * as tf from '@tensorflow/tfjs-core';
import { carliniWagnerL2, clipToBounds, deepfool, lossGradient, normalizeGradient, projectBall, type AttackGoal, type Classifier, type Norm } from '../../src/index.ts';

export const EXPLORER_ATTACKS = {
  fgsm: { label: 'FGSM', norm: 'linf', steps: 1, live: true, usesEps: true, targeted: true },
  bim: { label: 'BIM / I-FGSM', norm: 'linf', steps: 10, live: true, usesEps: true, targeted: true },
  pgd: { label: 'PGD (L∞, random start)', norm: 'linf', steps: 40, live: true, usesEps: true, targeted: true },
  'pgd-l2': { label: 'PGD (L2, random start)', norm: 'l2', steps: 40, live: true, usesEps: true, targeted: true },
  mifgsm: { label: 'MI-FGSM (momentum)', norm: 'linf', steps: 10, live: true, usesEps: true, targeted: true },
  deepfool: { label: 'DeepFool (L2, minimal)', norm: 'l2', steps: 50, live: false, usesEps: false, targeted: false },
  cw: { label: 'Carlini–Wagner L2 (minimal)', norm: 'l2', steps: 100, live: false, usesEps: false, targeted: true },
} as const satisfies Record<string, { label: string; norm: Norm; steps: number; live: boolean; usesEps: boolean; targeted: boolean }>;

export type ExplorerAttack = keyof typeof EXPLORER_ATTACKS;

export interface AttackSpec {
  attack: ExplorerAttack;
  eps: number;
  steps: number;
  /** Target class, or null for an untargeted attack away from `label`. */
  target: number | null;
  /** The true label (or the clean prediction of a drawn digit). */
  label: number;
  seed?: number;
}

export interface Iterate {
  step: number;
  total: number;
  adversarial: Float32Array;
  probabilities: Float32Array;
  prediction: number;
}

async function readout(classifier: Classifier, adv: tf.Tensor, step: number, total: number): Promise<Iterate> {
  const probs = tf.tidy(() => classifier.probabilities(adv));
  const [p, a] = await Promise.all([probs.data(), adv.data()]);
  probs.dispose();
  const probabilities = Float32Array.from(p);
  let prediction = 0;
  for (let k = 1; k < probabilities.length; k++) if (probabilities[k] > probabilities[prediction]) prediction = k;
  return { step, total, adversarial: Float32Array.from(a), probabilities, prediction };
}

/**
 * Runs the attack on one 28×28 image (values in the classifier's bounds), yielding every iterate.
 * Owns and frees all its tensors, also when the consumer stops early.
 */
export async function* runAttack(classifier: Classifier, image: Float32Array, spec: AttackSpec): AsyncGenerator<Iterate> {
  const def = EXPLORER_ATTACKS[spec.attack];
  const x = tf.tensor4d(image, [1, 28, 28, 1]);
  const labels = tf.tensor1d([spec.target ?? spec.label], 'int32');
  const goal: AttackGoal = { labels, targeted: spec.target !== null };
  const bounds = classifier.info.bounds;
  const norm: Norm = def.norm;
  const eps = spec.eps;
  const steps = Math.max(1, Math.floor(spec.steps));
  let adv: tf.Tensor | null = null;
  let momentum: tf.Tensor | null = null;
  try {
    if (spec.attack === 'deepfool' || spec.attack === 'cw') {
      const result =
        spec.attack === 'deepfool'
          ? await deepfool(classifier, x, goal, { norm: 'l2', steps })
          : await carliniWagnerL2(classifier, x, goal, { steps, binarySteps: 5 });
      adv = result.adversarial;
      yield await readout(classifier, adv, result.iterations, result.iterations);
      return;
    }
    if (spec.attack === 'fgsm') {
      adv = tf.tidy(() => clipToBounds(tf.add(x, tf.mul(eps, normalizeGradient(lossGradient(classifier, x, goal), 'linf'))), bounds));
      yield await readout(classifier, adv, 1, 1);
      return;
    }
    const randomStart = spec.attack === 'pgd' || spec.attack === 'pgd-l2';
    // Step sizes as in the library: 2.5·ε/steps for PGD and BIM (Madry et al.), ε/steps for MI-FGSM.
    const alpha = spec.attack === 'mifgsm' ? eps / steps : (2.5 * eps) / steps;
    const seed = spec.seed ?? 0;
    adv = tf.tidy(() => {
      if (!randomStart || eps === 0) return tf.clone(x);
      const noise = norm === 'linf' ? tf.randomUniform(x.shape, -eps, eps, 'float32', seed) : projectBall(tf.randomNormal(x.shape, 0, eps, 'float32', seed), 'l2', eps);
      return clipToBounds(tf.add(x, noise), bounds);
    });
    if (spec.attack === 'mifgsm') momentum = tf.zerosLike(x);
    yield await readout(classifier, adv, 0, steps);
    for (let k = 0; k < steps; k++) {
      const cur: tf.Tensor = adv;
      const g: tf.Tensor | null = momentum;
      const [next, nextMomentum] = tf.tidy(() => {
        let grad = lossGradient(classifier, cur, goal);
        let m: tf.Tensor | null = null;
        if (g) {
          m = tf.add(g, tf.div(grad, tf.maximum(tf.sum(tf.abs(grad)), 1e-12)));
          grad = m;
        }
        const step = tf.mul(alpha, normalizeGradient(grad, norm));
        const delta = projectBall(tf.sub(tf.add(cur, step), x), norm, eps);
        return [clipToBounds(tf.add(x, delta), bounds), m ?? tf.zeros([0])];
      });
      cur.dispose();
      adv = next;
      if (g) {
        g.dispose();
        momentum = nextMomentum;
      } else nextMomentum.dispose();
      yield await readout(classifier, adv, k + 1, steps);
    }
  } finally {
    tf.dispose([x, labels]);
    if (adv) adv.dispose();
    if (momentum) momentum.dispose();
  }
}
