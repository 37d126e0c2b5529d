/** The attack registry: one name → one function, for the CLI and the lab. */
import type * as tf from '@tensorflow/tfjs-core';
import { AdvxError } from '../core/errors.ts';
import type { Norm } from '../core/norms.ts';
import type { BlackBoxModel, DecisionModel, ScoreModel } from '../models/black-box.ts';
import { Classifier } from '../models/classifier.ts';
import { apgd, apgdTargeted } from './apgd.ts';
import { decisionOracle, scoreOracle } from './blackbox.ts';
import { carliniWagnerL2 } from './carlini-wagner.ts';
import { deepfool } from './deepfool.ts';
import { eot } from './eot.ts';
import { fab, fabT } from './fab.ts';
import { fgsm } from './fgsm.ts';
import { hopSkipJump } from './hopskipjump.ts';
import { mifgsm } from './mifgsm.ts';
import { nes, spsa } from './nes.ts';
import { pgd } from './pgd.ts';
import { squareAttack } from './square.ts';
import { szegedy } from './szegedy.ts';
import type { AttackGoal, AttackResult, StepProgress } from './types.ts';

/** Options of every attack; `onStep` (StepProgress) reports its iterations, for a progress bar. */
export interface AttackOptions extends StepProgress {
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
  /** APGD-T and FAB-T: how many of the top classes (the true one excluded) to try as targets. */
  targets?: number;
  /** APGD: gradients averaged over this many forward/backward passes, for randomised models (EOT). */
  eotIter?: number;
}

export type Attack = (classifier: Classifier, x: tf.Tensor, goal: AttackGoal, options: AttackOptions) => Promise<AttackResult>;

/** What the attack sees of the model: gradients, scores (probabilities) or only the predicted label. */
export type AttackAccess = 'white-box' | 'score' | 'decision';
/**
 * `fixed-eps`: the attack searches inside the ε-ball it is given. `minimal-norm`: it looks for the
 * smallest perturbation that meets the goal, whatever its size; ε is no budget for it, so its
 * result counts at ε only after the perturbation is projected onto the ε-ball and re-checked.
 */
export type BudgetKind = 'fixed-eps' | 'minimal-norm';

/** The facts about one attack, read by the CLI, the evaluation, the lab and the docs. */
export interface AttackDescriptor {
  name: string;
  /** The attack and its paper, as the docs and reports name it. */
  title: string;
  access: AttackAccess;
  budget: BudgetKind;
  /** The norms the attack optimises; any other is refused. */
  norms: readonly Norm[];
  /** Whether the attack takes a target class (goal.targeted). */
  targeted: boolean;
  /** Whether its result depends on `seed` (random starts, sampled queries or transformations). */
  randomized: boolean;
  /** The defaults of the options it reads; options it does not list are ignored. */
  defaults: Partial<AttackOptions>;
  run: Attack;
  /** Score- and decision-based attacks: the same attack on a model seen only as a black box (an endpoint). */
  runBlackBox?: BlackBoxAttack;
}

// A model type, so models/ owns it (models/onnx-runtime.ts implements it); the registry's users import it from here.
export type { BlackBoxModel } from '../models/black-box.ts';

/** A model to evaluate: a Classifier takes every attack, a black box those its access allows. */
export type AnyModel = Classifier | BlackBoxModel;

/** Top-1 labels of a batch: the Classifier's predictions, or the black box's answer (queries). */
export function predictLabels(model: AnyModel, x: tf.Tensor): Promise<Int32Array> {
  return model instanceof Classifier ? model.predict(x) : model.label(x);
}

/** Runs an attack on either kind of model; a black box is refused an attack its access does not allow. */
export function runOn(d: AttackDescriptor, model: AnyModel, x: tf.Tensor, goal: AttackGoal, options: AttackOptions): Promise<AttackResult> {
  if (model instanceof Classifier) return d.run(model, x, goal, options);
  checkAccess(d, model.access, 'the remote model');
  return d.runBlackBox!(model, x, goal, options);
}

export type BlackBoxAttack = (model: BlackBoxModel, x: tf.Tensor, goal: AttackGoal, options: AttackOptions) => Promise<AttackResult>;

/** A score-based attack's runners: on a Classifier through scoreOracle, or on any black box. */
function onScores(attack: (m: ScoreModel, x: tf.Tensor, g: AttackGoal, o: AttackOptions) => Promise<AttackResult>): Pick<AttackDescriptor, 'run' | 'runBlackBox'> {
  return { run: (c, x, g, o) => attack(scoreOracle(c), x, g, o), runBlackBox: attack };
}

function onLabels(attack: (m: DecisionModel, x: tf.Tensor, g: AttackGoal, o: AttackOptions) => Promise<AttackResult>): Pick<AttackDescriptor, 'run' | 'runBlackBox'> {
  return { run: (c, x, g, o) => attack(decisionOracle(c), x, g, o), runBlackBox: attack };
}

/** What each access level allows, weakest last: score access also gives the top-1 label. */
const ACCESS_ORDER: readonly AttackAccess[] = ['white-box', 'score', 'decision'];

/** Refuses an attack that needs more of the model than `available`, in one line naming what it needs and what fits. */
export function checkAccess(d: AttackDescriptor, available: AttackAccess, model: string): void {
  const fits = (a: AttackAccess) => ACCESS_ORDER.indexOf(a) >= ACCESS_ORDER.indexOf(available);
  if (fits(d.access)) return;
  const usable = Object.values(ATTACKS).filter((a) => fits(a.access)).map((a) => a.name);
  throw new AdvxError(`attack "${d.name}" needs ${d.access} access (${d.access === 'white-box' ? 'gradients' : 'scores'}), but ${model} gives ${available} access only: use ${usable.join(', ')}`);
}

const LP: readonly Norm[] = ['linf', 'l2'];

function describe(entries: Record<string, Omit<AttackDescriptor, 'name'>>): Record<string, AttackDescriptor> {
  return Object.fromEntries(Object.entries(entries).map(([name, d]) => [name, { name, ...d }]));
}

export const ATTACKS = describe({
  fgsm: {
    title: 'FGSM (Goodfellow et al. 2015); under L2 the fast gradient method ε·∇/‖∇‖₂',
    access: 'white-box', budget: 'fixed-eps', norms: LP, targeted: true, randomized: false, defaults: {},
    run: (c, x, g, o) => fgsm(c, x, g, { eps: o.eps, norm: o.norm }),
  },
  bim: {
    title: 'BIM / I-FGSM (Kurakin et al. 2017): PGD from the clean input',
    access: 'white-box', budget: 'fixed-eps', norms: LP, targeted: true, randomized: false, defaults: { steps: 10 },
    run: (c, x, g, o) => pgd(c, x, g, { ...o, steps: o.steps ?? 10, randomStart: false }),
  },
  pgd: {
    title: 'PGD (Madry et al. 2018), random start, step 2.5·ε/steps',
    access: 'white-box', budget: 'fixed-eps', norms: LP, targeted: true, randomized: true, defaults: { steps: 40, restarts: 1 },
    run: (c, x, g, o) => pgd(c, x, g, { ...o, randomStart: true }),
  },
  mifgsm: {
    title: 'MI-FGSM (Dong et al. 2018), momentum 1.0',
    access: 'white-box', budget: 'fixed-eps', norms: LP, targeted: true, randomized: false, defaults: { steps: 10 },
    run: (c, x, g, o) => mifgsm(c, x, g, { eps: o.eps, norm: o.norm, steps: o.steps, stepSize: o.stepSize, onStep: o.onStep }),
  },
  'apgd-ce': {
    title: 'APGD-CE (Croce & Hein 2020): step-size-free PGD on the cross-entropy',
    access: 'white-box', budget: 'fixed-eps', norms: LP, targeted: true, randomized: true, defaults: { steps: 100, restarts: 1, eotIter: 1 },
    run: (c, x, g, o) => apgd(c, x, g, { eps: o.eps, norm: o.norm, steps: o.steps, restarts: o.restarts, seed: o.seed, eotIter: o.eotIter, onStep: o.onStep }),
  },
  // Untargeted only: AutoAttack's targeted DLR needs the true class beside the target, which a
  // targeted goal does not give; APGD-T is the DLR attack that uses targets.
  'apgd-dlr': {
    title: 'APGD-DLR (Croce & Hein 2020): APGD on the difference-of-logits ratio, invariant to the logits\' scale',
    access: 'white-box', budget: 'fixed-eps', norms: LP, targeted: false, randomized: true, defaults: { steps: 100, restarts: 1, eotIter: 1 },
    run: (c, x, g, o) => apgd(c, x, g, { eps: o.eps, norm: o.norm, steps: o.steps, restarts: o.restarts, seed: o.seed, eotIter: o.eotIter, loss: 'dlr', onStep: o.onStep }),
  },
  // Untargeted: it tries the top `targets` other classes as targets, and success is misclassification.
  'apgd-t': {
    title: 'APGD-T (Croce & Hein 2020): APGD on the targeted DLR toward each of the top-9 other classes',
    access: 'white-box', budget: 'fixed-eps', norms: LP, targeted: false, randomized: true, defaults: { steps: 100, restarts: 1, targets: 9, eotIter: 1 },
    run: (c, x, g, o) => apgdTargeted(c, x, g, { eps: o.eps, norm: o.norm, steps: o.steps, restarts: o.restarts, seed: o.seed, eotIter: o.eotIter, targets: o.targets, onStep: o.onStep }),
  },
  deepfool: {
    title: 'DeepFool (Moosavi-Dezfooli et al. 2016), minimal perturbation',
    access: 'white-box', budget: 'minimal-norm', norms: LP, targeted: false, randomized: false, defaults: { steps: 50 },
    run: (c, x, g, o) => deepfool(c, x, g, { norm: o.norm, steps: o.steps, onStep: o.onStep }),
  },
  fab: {
    title: 'FAB (Croce & Hein 2020), minimal perturbation',
    access: 'white-box', budget: 'minimal-norm', norms: LP, targeted: true, randomized: true, defaults: { steps: 100, restarts: 1 },
    run: (c, x, g, o) => fab(c, x, g, { eps: o.eps, norm: o.norm, steps: o.steps, restarts: o.restarts, seed: o.seed, onStep: o.onStep }),
  },
  'fab-t': {
    title: 'FAB-T (Croce & Hein 2020, AutoAttack): targeted FAB toward each likely wrong class in turn, minimal perturbation',
    access: 'white-box', budget: 'minimal-norm', norms: LP, targeted: false, randomized: true, defaults: { steps: 100, targets: 9 },
    run: (c, x, g, o) => fabT(c, x, g, { eps: o.eps, norm: o.norm, steps: o.steps, restarts: o.restarts, targets: o.targets, seed: o.seed, onStep: o.onStep }),
  },
  cw: {
    title: 'Carlini & Wagner L2 (2017); stepSize is Adam\'s learning rate on w',
    access: 'white-box', budget: 'minimal-norm', norms: ['l2'], targeted: true, randomized: false, defaults: { steps: 100 },
    run: (c, x, g, o) => carliniWagnerL2(c, x, g, { steps: o.steps, learningRate: o.stepSize, confidence: o.confidence, initialConst: o.c, onStep: o.onStep }),
  },
  szegedy: {
    title: 'Szegedy et al. (2014) box-constrained L2 attack; stepSize is projected Adam\'s step',
    access: 'white-box', budget: 'minimal-norm', norms: ['l2'], targeted: true, randomized: false, defaults: { steps: 100 },
    run: (c, x, g, o) => szegedy(c, x, g, { steps: o.steps, stepSize: o.stepSize, initialConst: o.c, onStep: o.onStep }),
  },
  // Black-box attacks see the classifier only through its scores or labels (blackbox.ts), never its
  // gradients. `queries` is the budget per example; result.queries has each one's count.
  square: {
    title: 'Square Attack (Andriushchenko et al. 2020), score-based random search',
    access: 'score', budget: 'fixed-eps', norms: LP, targeted: true, randomized: true, defaults: { queries: 1000 },
    ...onScores((m, x, g, o) => squareAttack(m, x, g, { eps: o.eps, norm: o.norm, queries: o.queries, seed: o.seed, onStep: o.onStep })),
  },
  nes: {
    title: 'NES gradient estimates into PGD (Ilyas et al. 2018); stepSize is α (default ε/10)',
    access: 'score', budget: 'fixed-eps', norms: LP, targeted: true, randomized: true, defaults: { queries: 5000 },
    ...onScores((m, x, g, o) => nes(m, x, g, { eps: o.eps, norm: o.norm, queries: o.queries, stepSize: o.stepSize, seed: o.seed, onStep: o.onStep })),
  },
  spsa: {
    title: 'SPSA gradient estimates into PGD (Uesato et al. 2018); as nes',
    access: 'score', budget: 'fixed-eps', norms: LP, targeted: true, randomized: true, defaults: { queries: 5000 },
    ...onScores((m, x, g, o) => spsa(m, x, g, { eps: o.eps, norm: o.norm, queries: o.queries, stepSize: o.stepSize, seed: o.seed, onStep: o.onStep })),
  },
  /**
   * Targeted, HopSkipJump starts from uniform noise of the target class, which may not exist:
   * pass `starts` to hopSkipJump() for images of the target class.
   */
  hsj: {
    title: 'HopSkipJump (Chen et al. 2020), decision-based, minimal perturbation',
    access: 'decision', budget: 'minimal-norm', norms: LP, targeted: true, randomized: true, defaults: { queries: 5000 },
    ...onLabels((m, x, g, o) => hopSkipJump(m, x, g, { norm: o.norm, queries: o.queries, seed: o.seed, onStep: o.onStep })),
  },
  eot: {
    title: 'Expectation over Transformation (Athalye et al. 2018): PGD on the mean loss over random physical transformations',
    access: 'white-box', budget: 'fixed-eps', norms: LP, targeted: true, randomized: true, defaults: { steps: 100, samples: 16 },
    run: (c, x, g, o) => eot(c, x, g, { eps: o.eps, norm: o.norm, steps: o.steps, stepSize: o.stepSize, samples: o.samples, seed: o.seed, onStep: o.onStep }),
  },
});

/** The descriptor of an attack by name; an unknown name is refused with the list of known ones. */
export function attackDescriptor(name: string): AttackDescriptor {
  const d = Object.hasOwn(ATTACKS, name) ? ATTACKS[name] : undefined;
  if (!d) throw new AdvxError(`unknown attack "${name}": choose one of ${Object.keys(ATTACKS).join(', ')}`);
  return d;
}

/**
 * Checks that an attack can do what it is asked (the norm, a targeted goal) before any work, with
 * one line naming what it supports.
 */
export function checkAttackRequest(name: string, request: { norm?: Norm; targeted?: boolean }): AttackDescriptor {
  const d = attackDescriptor(name);
  const norm = request.norm ?? 'linf';
  if (!d.norms.includes(norm)) throw new AdvxError(`attack "${name}" does not support --norm ${norm}: it supports ${d.norms.join(', ')}`);
  if (request.targeted && !d.targeted) throw new AdvxError(`attack "${name}" is untargeted only`);
  return d;
}

export function getAttack(name: string): Attack {
  return attackDescriptor(name).run;
}

export type { AttackGoal, AttackResult } from './types.ts';
