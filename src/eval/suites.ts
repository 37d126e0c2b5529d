/** AutoAttack's suites as data: the attacks of each, in order, with the settings the suite fixes. */
import type { AttackOptions } from '../attacks/index.ts';
import { AdvxError } from '../core/errors.ts';

/** An attack of a suite with the settings the suite fixes. */
export interface SuiteAttack {
  name: string;
  options: Partial<AttackOptions>;
}

/** AutoAttack's versions (Croce & Hein 2020): the attacks, their order and their settings. */
export const SUITES = {
  standard: {
    title: 'AutoAttack standard: APGD-CE, APGD-T (9 targets), FAB-T (9 targets), Square (5000 queries)',
    attacks: [
      { name: 'apgd-ce', options: { steps: 100, restarts: 1 } },
      { name: 'apgd-t', options: { steps: 100, targets: 9 } },
      { name: 'fab-t', options: { steps: 100, targets: 9 } },
      { name: 'square', options: { queries: 5000 } },
    ],
  },
  rand: {
    title: 'AutoAttack rand, for randomised defences: APGD-CE and APGD-DLR on gradients averaged over 20 passes (EOT)',
    attacks: [
      { name: 'apgd-ce', options: { steps: 100, eotIter: 20 } },
      { name: 'apgd-dlr', options: { steps: 100, eotIter: 20 } },
    ],
  },
} satisfies Record<string, { title: string; attacks: SuiteAttack[] }>;
export type SuiteName = keyof typeof SUITES;

export function parseSuite(name: string): SuiteName {
  if (Object.hasOwn(SUITES, name)) return name as SuiteName;
  throw new AdvxError(`unknown suite "${name}": choose one of ${Object.keys(SUITES).join(', ')}`);
}
