/** The attack registry: one name → one function, for the CLI and the lab. */
import type * as tf from '@tensorflow/tfjs-core';
import { AdvxError } from '../core/errors.ts';
import type { Norm } from '../core/norms.ts';
import type { Classifier } from '../models/classifier.ts';
import { fgsm } from './fgsm.ts';
import { pgd } from './pgd.ts';
import type { AttackGoal, AttackResult } from './types.ts';

export interface AttackOptions {
  eps: number;
  norm?: Norm;
  steps?: number;
  stepSize?: number;
  restarts?: number;
  seed?: number;
}

export type Attack = (classifier: Classifier, x: tf.Tensor, goal: AttackGoal, options: AttackOptions) => Promise<AttackResult>;

export const ATTACKS: Record<string, Attack> = {
  fgsm: (c, x, g, o) => fgsm(c, x, g, { eps: o.eps }),
  /** I-FGSM / BIM: PGD from the clean input, step ε/steps·2.5 by default. */
  bim: (c, x, g, o) => pgd(c, x, g, { ...o, steps: o.steps ?? 10, randomStart: false }),
  pgd: (c, x, g, o) => pgd(c, x, g, { ...o, randomStart: true }),
};

export function getAttack(name: string): Attack {
  const a = ATTACKS[name];
  if (!a) throw new AdvxError(`unknown attack "${name}": choose one of ${Object.keys(ATTACKS).join(', ')}`);
  return a;
}

export type { AttackGoal, AttackResult } from './types.ts';
