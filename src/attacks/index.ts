/** The attack registry: one name → one function, for the CLI and the lab. */
import type * as tf from '@tensorflow/tfjs-core';
import { AdvxError } from '../core/errors.ts';
import type { Norm } from '../core/norms.ts';
import type { Classifier } from '../models/classifier.ts';
import { apgd } from './apgd.ts';
import { decisionOracle, scoreOracle } from './blackbox.ts';
import { carliniWagnerL2 } from './carlini-wagner.ts';
import { deepfool } from './deepfool.ts';
import { eot } from './eot.ts';
import { fgsm } from './fgsm.ts';
import { hopSkipJump } from './hopskipjump.ts';
import { mifgsm } from './mifgsm.ts';
import { nes, spsa } from './nes.ts';
import { pgd } from './pgd.ts';
import { squareAttack } from './square.ts';
import { szegedy } from './szegedy.ts';
import type { AttackGoal, AttackResult } from './types.ts';

export interface AttackOptions {
  eps: number;
  norm?: Norm;
  steps?: number;
  stepSize?: number;
  restarts?: number;
  seed?: number;
  /** C&W: the logit margin κ past the boundary (default 0). */
  confidence?: number;
  /** C&W and Szegedy: the first value of the trade-off constant c (default: each attack's own). */
  c?: number;
  /** Black-box attacks: the query budget per example (default: each attack's own). */
  queries?: number;
  /** EOT: transformations sampled per example per step. */
  samples?: number;
}

export type Attack = (classifier: Classifier, x: tf.Tensor, goal: AttackGoal, options: AttackOptions) => Promise<AttackResult>;

export const ATTACKS: Record<string, Attack> = {
  fgsm: (c, x, g, o) => fgsm(c, x, g, { eps: o.eps }),
  /** I-FGSM / BIM: PGD from the clean input, step ε/steps·2.5 by default. */
  bim: (c, x, g, o) => pgd(c, x, g, { ...o, steps: o.steps ?? 10, randomStart: false }),
  pgd: (c, x, g, o) => pgd(c, x, g, { ...o, randomStart: true }),
  mifgsm: (c, x, g, o) => mifgsm(c, x, g, { eps: o.eps, norm: o.norm, steps: o.steps, stepSize: o.stepSize }),
  /** APGD-CE: step-size free, so stepSize does not apply. */
  'apgd-ce': (c, x, g, o) => apgd(c, x, g, { eps: o.eps, norm: o.norm, steps: o.steps, restarts: o.restarts, seed: o.seed }),
  // Minimal-perturbation attacks: ε is no budget for them (they report the norms they needed).
  deepfool: (c, x, g, o) => deepfool(c, x, g, { norm: o.norm, steps: o.steps }),
  /** C&W L2 (L2 by construction, whatever norm says); stepSize is Adam's learning rate on w. */
  cw: (c, x, g, o) => carliniWagnerL2(c, x, g, { steps: o.steps, learningRate: o.stepSize, confidence: o.confidence, initialConst: o.c }),
  /** Szegedy et al.'s L2 attack (whatever norm says); stepSize is projected Adam's step. */
  szegedy: (c, x, g, o) => szegedy(c, x, g, { steps: o.steps, stepSize: o.stepSize, initialConst: o.c }),
  // Black-box attacks: they see the classifier only through its scores or labels (blackbox.ts),
  // never its gradients. `queries` is the budget per example; result.queries has each one's count.
  /** Square Attack, L∞ or L2; default budget 1000 queries. */
  square: (c, x, g, o) => squareAttack(scoreOracle(c), x, g, { eps: o.eps, norm: o.norm, queries: o.queries, seed: o.seed }),
  /** NES-estimated gradients into PGD; default budget 5000 queries; stepSize is α (default ε/10). */
  nes: (c, x, g, o) => nes(scoreOracle(c), x, g, { eps: o.eps, norm: o.norm, queries: o.queries, stepSize: o.stepSize, seed: o.seed }),
  /** SPSA-estimated gradients into PGD; as nes. */
  spsa: (c, x, g, o) => spsa(scoreOracle(c), x, g, { eps: o.eps, norm: o.norm, queries: o.queries, stepSize: o.stepSize, seed: o.seed }),
  /**
   * HopSkipJump, decision-based and minimal-perturbation (ε is no budget); L2 or L∞ per norm;
   * default budget 5000 queries. Targeted, it starts from uniform noise of the target class, which
   * may not exist: pass `starts` to hopSkipJump() for images of the target class.
   */
  hsj: (c, x, g, o) => hopSkipJump(decisionOracle(c), x, g, { norm: o.norm, queries: o.queries, seed: o.seed }),
  /** Expectation over Transformation: PGD on the mean loss over random physical transformations. */
  eot: (c, x, g, o) => eot(c, x, g, { eps: o.eps, norm: o.norm, steps: o.steps, stepSize: o.stepSize, samples: o.samples, seed: o.seed }),
};

export function getAttack(name: string): Attack {
  const a = ATTACKS[name];
  if (!a) throw new AdvxError(`unknown attack "${name}": choose one of ${Object.keys(ATTACKS).join(', ')}`);
  return a;
}

export type { AttackGoal, AttackResult } from './types.ts';
