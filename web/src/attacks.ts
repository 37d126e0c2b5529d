/**
 * Attacks as the explorer runs them: the iterative gradient attacks one step at a time (so the
 * page can draw every iterate) from the library's own loop, projectedIterates, the one pgdRun and
 * mifgsm run; DeepFool and C&W through the library in one call.
 */
import * as tf from '@tensorflow/tfjs-core';
import { attackDescriptor, carliniWagnerL2, deepfool, fgsmStep, projectedIterates, type AttackGoal, type Classifier, type Norm } from '../../src/index.ts';

/** How the explorer offers an attack: the registry entry it runs, in which norm, how many steps, drawn live or not. */
interface ExplorerEntry {
  label: string;
  /** The registry name: its descriptor says whether ε is a budget and whether a target can be chosen. */
  registry: string;
  norm: Norm;
  steps: number;
  live: boolean;
}

function entry(e: ExplorerEntry): ExplorerEntry & { usesEps: boolean; targeted: boolean } {
  const d = attackDescriptor(e.registry);
  return { ...e, usesEps: d.budget === 'fixed-eps', targeted: d.targeted };
}

export const EXPLORER_ATTACKS = {
  fgsm: entry({ label: 'FGSM', registry: 'fgsm', norm: 'linf', steps: 1, live: true }),
  bim: entry({ label: 'BIM / I-FGSM', registry: 'bim', norm: 'linf', steps: 10, live: true }),
  pgd: entry({ label: 'PGD (L∞, random start)', registry: 'pgd', norm: 'linf', steps: 40, live: true }),
  'pgd-l2': entry({ label: 'PGD (L2, random start)', registry: 'pgd', norm: 'l2', steps: 40, live: true }),
  mifgsm: entry({ label: 'MI-FGSM (momentum)', registry: 'mifgsm', norm: 'linf', steps: 10, live: true }),
  deepfool: entry({ label: 'DeepFool (L2, minimal)', registry: 'deepfool', norm: 'l2', steps: 50, live: false }),
  cw: entry({ label: 'Carlini–Wagner L2 (minimal)', registry: 'cw', norm: 'l2', steps: 100, live: false }),
};

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
  const norm: Norm = def.norm;
  const eps = spec.eps;
  const steps = Math.max(1, Math.floor(spec.steps));
  let adv: tf.Tensor | null = null;
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
      adv = fgsmStep(classifier, x, goal, eps, norm);
      yield await readout(classifier, adv, 1, 1);
      return;
    }
    // The library's loop and parameters: step 2.5·ε/steps for PGD and BIM (Madry et al.), ε/steps
    // and μ = 1 for MI-FGSM (Dong et al.). Leaving the loop early (the page stops the attack)
    // returns the generator, which frees its iterate.
    const iterates = projectedIterates(classifier, x, goal, {
      eps,
      norm,
      steps,
      stepSize: spec.attack === 'mifgsm' ? eps / steps : (2.5 * eps) / steps,
      randomStart: spec.attack === 'pgd' || spec.attack === 'pgd-l2',
      seed: spec.seed ?? 0,
      momentum: spec.attack === 'mifgsm' ? 1 : undefined,
    });
    let k = 0;
    for (const xk of iterates) yield await readout(classifier, xk, k++, steps);
  } finally {
    tf.dispose([x, labels]);
    if (adv) adv.dispose();
  }
}
