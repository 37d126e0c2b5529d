/**
 * Attacks as the explorer runs them, on one drawn image or on a batch of the user's images: the
 * iterative gradient attacks one step at a time (so the page can draw the iterates) from the
 * library's own loop, projectedIterates, the one pgdRun and mifgsm run; DeepFool and C&W through
 * the library in one call. Score- and decision-based attacks (the folder card's, for any model,
 * a black box in ONNX Runtime Web included) run through the registry's runOn, as the CLI runs them.
 */
import * as tf from '@tensorflow/tfjs-core';
import { attackDescriptor, carliniWagnerL2, deepfool, fgsmStep, projectedIterates, type AttackGoal, type Classifier, type Norm } from '../../src/index.ts';
import { predictLabels, runOn, type AnyModel } from '../../src/attacks/index.ts';

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
  'fgsm-l2': entry({ label: 'FGM (L2)', registry: 'fgsm', norm: 'l2', steps: 1, live: true }),
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
  /** Target class for every image, or null for an untargeted attack away from `labels`. */
  target: number | null;
  /** Each image's true label (or the clean prediction where there is none). */
  labels: number[];
  seed?: number;
  /** Read out (and yield) every `every`-th iterate and the last; 1: all of them. */
  every?: number;
}

export interface Iterate {
  step: number;
  total: number;
  /** The batch's adversarial images, flat. */
  adversarial: Float32Array;
  /** Class probabilities, numClasses per image. */
  probabilities: Float32Array;
  predictions: number[];
}

async function readout(classifier: Classifier, adv: tf.Tensor, step: number, total: number): Promise<Iterate> {
  const probs = tf.tidy(() => classifier.probabilities(adv));
  const [p, a] = await Promise.all([probs.data(), adv.data()]);
  probs.dispose();
  const probabilities = Float32Array.from(p);
  const k = classifier.info.numClasses;
  const predictions = Array.from({ length: probabilities.length / k }, (_, i) => {
    let best = 0;
    for (let c = 1; c < k; c++) if (probabilities[i * k + c] > probabilities[i * k + best]) best = c;
    return best;
  });
  return { step, total, adversarial: Float32Array.from(a), probabilities, predictions };
}

/**
 * Runs the attack on a batch of images (flat values in the classifier's bounds, `shape` with the
 * batch first), yielding iterates. Owns and frees all its tensors, also when the consumer stops early.
 */
export async function* runAttack(classifier: Classifier, images: Float32Array, shape: number[], spec: AttackSpec): AsyncGenerator<Iterate> {
  const def = EXPLORER_ATTACKS[spec.attack];
  const x = tf.tensor(images, shape);
  const labels = tf.tensor1d(spec.target === null ? spec.labels : spec.labels.map(() => spec.target as number), 'int32');
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
    if (spec.attack === 'fgsm' || spec.attack === 'fgsm-l2') {
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
    const every = Math.max(1, Math.floor(spec.every ?? 1));
    let k = 0;
    for (const xk of iterates) {
      if (k % every === 0 || k === steps) yield await readout(classifier, xk, k, steps);
      k++;
    }
  } finally {
    tf.dispose([x, labels]);
    if (adv) adv.dispose();
  }
}

/** Black-box attacks as the folder card offers them; `queries` is the budget per image (the registry's default for square). */
function blackBoxEntry(e: { label: string; registry: string; norm: Norm; queries: number }) {
  const d = attackDescriptor(e.registry);
  return { ...e, access: d.access, usesEps: d.budget === 'fixed-eps' };
}

export const BLACK_BOX_ATTACKS = {
  square: blackBoxEntry({ label: 'Square (L∞, scores)', registry: 'square', norm: 'linf', queries: 1000 }),
  'square-l2': blackBoxEntry({ label: 'Square (L2, scores)', registry: 'square', norm: 'l2', queries: 1000 }),
  hsj: blackBoxEntry({ label: 'HopSkipJump (L2, labels, minimal)', registry: 'hsj', norm: 'l2', queries: 1000 }),
};

export type BlackBoxAttack = keyof typeof BLACK_BOX_ATTACKS;

export interface BlackBoxOutcome {
  adversarial: Float32Array;
  /** The model's labels of the adversarial images (one more query each, as the CLI's re-check). */
  predictions: number[];
  /** Queries each image's attack used. */
  queries: number[];
}

/**
 * Runs a score- or decision-based attack untargeted on a batch (flat values in the model's bounds,
 * `shape` with the batch first) through the library's registry: a Classifier is asked through
 * its scores or labels only, a black box as it is. Owns and frees its tensors.
 */
export async function runBlackBoxAttack(model: AnyModel, images: Float32Array, shape: number[], spec: { attack: BlackBoxAttack; eps: number; queries: number; labels: number[]; seed?: number }): Promise<BlackBoxOutcome> {
  const def = BLACK_BOX_ATTACKS[spec.attack];
  const x = tf.tensor(images, shape);
  const labels = tf.tensor1d(spec.labels, 'int32');
  let adv: tf.Tensor | null = null;
  try {
    const result = await runOn(attackDescriptor(def.registry), model, x, { labels, targeted: false }, { eps: spec.eps, norm: def.norm, queries: Math.max(1, Math.floor(spec.queries)), seed: spec.seed ?? 0 });
    adv = result.adversarial;
    const predictions = [...(await predictLabels(model, adv))];
    return { adversarial: Float32Array.from(await adv.data()), predictions, queries: result.queries ?? [] };
  } finally {
    tf.dispose([x, labels]);
    if (adv) adv.dispose();
  }
}
