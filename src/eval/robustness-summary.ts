/**
 * What a robustness evaluation found, per example, and the one function that turns those records
 * into the report: the run that computed them and `advx merge`, which joins the records of a
 * sharded run, both call `summarizeRobustness`, so a merged report equals an unsharded one by
 * construction. Plain data, no tensors: records travel as JSON lines between machines.
 */
import type { AttackDescriptor } from '../attacks/index.ts';
import type { Norm } from '../core/norms.ts';
import type { SuiteName } from './suites.ts';

/** What one attack did to one example at one ε. */
export interface AttackOutcome {
  /** Broken: misclassified after the re-check, within the ε-ball and the bounds. */
  broken: boolean;
  /** The norm (the evaluation's) of the counted candidate's perturbation, after projection for a minimal-norm attack. */
  norm: number;
  /** Queries the attack spent on it (score- and decision-based attacks; absent where a minimal-norm result was reused). */
  queries?: number;
  /** A claim that did not hold up: reported adversarial but outside the ball or the bounds, or not fooling the model. */
  flaw?: 'outside' | 'unfooled';
}

/** One example of the evaluated set, by its index in the set. */
export interface ExampleRecord {
  index: number;
  label: number;
  prediction: number;
  correct: boolean;
  /** Whether its loss gradient is exactly zero; null for a black box. */
  zero_gradient: boolean | null;
  /** Largest change of a logit between two forward passes on it (a random forward pass); null for a black box. */
  logit_drift: number | null;
  /** Whether its output row lies in [0, 1] and sums to 1 (probabilities, not logits); null for a black box. */
  probabilities: boolean | null;
  /** attack → ε → outcome, for the ε values at which the attack ran on it. */
  attacks: Record<string, Record<string, AttackOutcome>>;
}

/** What one attack did, per ε. */
export interface AttackBreakdown {
  name: string;
  title: string;
  access: AttackDescriptor['access'];
  budget: AttackDescriptor['budget'];
  /** The norm the attack optimised: the evaluation's, or a minimal-norm attack's own. */
  norm: Norm;
  /** ε → inputs it was run on (in a cascade: those still robust). */
  attacked: Record<string, number>;
  /** ε → inputs it broke, after the re-check. */
  broken: Record<string, number>;
  /** ε → queries its runs used, summed over inputs (score- and decision-based attacks; 0 where a cached minimal-norm result was reused). */
  queries?: Record<string, number>;
  seconds: number;
}

export interface RobustnessReport {
  clean_accuracy: number;
  /** ε → robust accuracy under the per-example worst case over all attacks. */
  robust_accuracy: Record<string, number>;
  /** attack → ε → robust accuracy after it (in a cascade: after it and every attack before it). */
  per_attack: Record<string, Record<string, number>>;
  warnings: string[];
  count: number;
  eps: number[];
  norm: Norm;
  mode: 'cascade' | 'independent';
  suite?: SuiteName;
  /** The attacks in the order they ran, with what each did. */
  attacks: AttackBreakdown[];
  /** Share of correctly classified inputs whose loss gradient is exactly zero; NaN (null in JSON) for a black box, which has none. */
  zero_gradient_share: number;
  /** Wall-clock seconds: not a figure of the model (a merged run gives the sum over its shards). */
  seconds: number;
  /**
   * Set when a black box stopped answering: `count` inputs (whole blocks, every attack at every ε)
   * of the `planned` were finished; it stopped in the block starting at input `stopped_at.index`.
   */
  partial?: { error: string; planned: number; stopped_at: { index: number; eps: number; attack: string } };
}

/** What the records are records of: the evaluation's settings, not its findings. */
export interface RobustnessSetup {
  /** The ε values to account. */
  eps: number[];
  norm: Norm;
  cascade: boolean;
  suite?: SuiteName;
  /** The attacks in the order they run. */
  attacks: Pick<AttackBreakdown, 'name' | 'title' | 'access' | 'budget' | 'norm'>[];
  /** A black box: no gradients, no model checks. */
  blackBox: boolean;
}

/** Time spent, in all and per attack (in the order of `setup.attacks`). */
export interface RobustnessSeconds {
  total: number;
  attacks: number[];
}

/**
 * The report of `examples` (in index order): the accounting of the cascade at each ε, the problems
 * the re-check found, and, unless `partial`, the self-checks (gradient masking, model checks).
 */
export function summarizeRobustness(examples: readonly ExampleRecord[], setup: RobustnessSetup, seconds: RobustnessSeconds, partial?: RobustnessReport['partial']): RobustnessReport {
  const n = examples.length;
  const correct = examples.filter((e) => e.correct).length;
  const perAttack: Record<string, Record<string, number>> = {};
  const worst: Record<string, number> = {};
  const blackBoxOnly: Record<string, number> = {};
  const problems: string[] = [];
  const breakdown: AttackBreakdown[] = setup.attacks.map((a, i) => ({ name: a.name, title: a.title, access: a.access, budget: a.budget, norm: a.norm, attacked: {}, broken: {}, seconds: seconds.attacks[i] }));
  for (const eps of setup.eps) {
    const key = String(eps);
    const robust = examples.map((e) => e.correct);
    setup.attacks.forEach((a, i) => {
      const outcomes = examples.map((e) => e.attacks[a.name]?.[key]);
      const attacked = outcomes.filter((o) => o !== undefined);
      const broken = attacked.filter((o) => o.broken).length;
      outcomes.forEach((o, j) => o?.broken && (robust[j] = false));
      breakdown[i].attacked[key] = attacked.length;
      breakdown[i].broken[key] = broken;
      const spent = attacked.filter((o) => o.queries !== undefined);
      if (spent.length) (breakdown[i].queries ??= {})[key] = spent.reduce((s, o) => s + o.queries!, 0);
      // Cascade: robust accuracy after this attack and those before it; independent: its own.
      (perAttack[a.name] ??= {})[key] = (setup.cascade ? robust.filter(Boolean).length : correct - broken) / n;
      const outside = attacked.filter((o) => o.flaw === 'outside');
      const unfooled = attacked.filter((o) => o.flaw === 'unfooled').length;
      const at = `${a.name} at ε=${eps}`;
      if (outside.length) problems.push(`${at}: ${outside.length} reported adversarial examples lie outside the ε-ball or the bounds (largest ${setup.norm} norm ${Math.max(...outside.map((o) => o.norm)).toPrecision(4)}): not counted — a bug in the attack`);
      if (unfooled) problems.push(`${at}: ${unfooled} reported adversarial examples are classified correctly when re-checked: not counted (a random forward pass, or a bug in the attack)`);
    });
    worst[key] = robust.filter(Boolean).length / n;
    const by = (white: boolean) => setup.attacks.filter((a) => (a.access === 'white-box') === white);
    blackBoxOnly[key] = examples.filter((e) => {
      const [w, b] = [by(true), by(false)].map((list) => list.map((a) => e.attacks[a.name]?.[key]?.broken));
      return e.correct && b.some((o) => o === true) && w.some((o) => o === false) && !w.some((o) => o === true);
    }).length;
  }
  const zeroShare = setup.blackBox || partial ? NaN : correct ? examples.filter((e) => e.correct && e.zero_gradient).length / correct : 0;
  const checks = partial
    ? []
    : [
        ...sanityWarnings({ perAttack, worst, eps: setup.eps, zeroShare: setup.blackBox ? 0 : zeroShare, blackBoxOnly, count: n }),
        ...(setup.blackBox || !n ? [] : modelCheckWarnings(Math.max(...examples.map((e) => e.logit_drift ?? 0)), examples.every((e) => e.probabilities))),
      ];
  return {
    clean_accuracy: correct / n,
    robust_accuracy: worst,
    per_attack: perAttack,
    warnings: [...problems, ...checks],
    count: n,
    eps: setup.eps,
    norm: setup.norm,
    mode: setup.cascade ? 'cascade' : 'independent',
    ...(setup.suite ? { suite: setup.suite } : {}),
    attacks: breakdown,
    zero_gradient_share: zeroShare,
    seconds: seconds.total,
    ...(partial ? { partial } : {}),
  };
}

/**
 * AutoAttack's checks of the model itself, from what was measured on the inputs: a forward pass
 * that is random (`drift`: the largest change of a logit between two calls on the same input; a
 * deterministic attack then overstates robustness), and outputs that are probabilities rather than
 * logits (cross-entropy on them flattens the gradients).
 */
export function modelCheckWarnings(drift: number, probabilities: boolean): string[] {
  const warnings: string[] = [];
  if (drift > 1e-5) warnings.push(`the forward pass is random: two calls on the same inputs differ by up to ${drift.toPrecision(3)} in the logits; deterministic attacks overstate the robustness of a randomised model — use the rand suite (gradients averaged over passes, EOT)`);
  if (probabilities) warnings.push('the model seems to output probabilities (every row lies in [0, 1] and sums to 1), not logits: cross-entropy on probabilities flattens the gradients; declare the output as probabilities or attack the logits');
  return warnings;
}

export interface SanityInputs {
  perAttack: Record<string, Record<string, number>>;
  /** ε → worst-case robust accuracy. */
  worst?: Record<string, number>;
  eps: number[];
  zeroShare: number;
  /** ε → inputs broken by a score- or decision-based attack after every white-box attack run on them failed. */
  blackBoxOnly?: Record<string, number>;
  count?: number;
}

/** AutoAttack's flag: black-box attacks breaking more than this share of the inputs after the white-box ones failed. */
export const BLACK_BOX_THRESHOLD = 0.002;

/**
 * The checks of gradient masking (Athalye et al. 2018; AutoAttack's flags): robust accuracy that
 * rises with ε, black-box attacks that find what the white-box ones missed (more than
 * BLACK_BOX_THRESHOLD of the inputs), and exactly zero loss gradients.
 */
export function sanityWarnings(s: SanityInputs): string[] {
  const warnings: string[] = [];
  const sorted = [...s.eps].sort((a, b) => a - b);
  const curves: Record<string, Record<string, number>> = { ...s.perAttack, ...(s.worst && Object.keys(s.perAttack).length > 1 ? { 'worst case': s.worst } : {}) };
  for (const [name, byEps] of Object.entries(curves)) {
    for (let i = 1; i < sorted.length; i++) {
      const [a, b] = [byEps[String(sorted[i - 1])], byEps[String(sorted[i])]];
      if (b > a) warnings.push(`${name}: robust accuracy rises from ${a.toFixed(3)} at ε=${sorted[i - 1]} to ${b.toFixed(3)} at ε=${sorted[i]} — a larger budget must not help the model; suspect gradient masking, randomness or too few steps`);
    }
  }
  for (const e of sorted) {
    const found = s.blackBoxOnly?.[String(e)] ?? 0;
    if (s.count && found / s.count > BLACK_BOX_THRESHOLD) {
      warnings.push(`at ε=${e} black-box attacks broke ${found} inputs (${((100 * found) / s.count).toFixed(2)}%, above AutoAttack's ${100 * BLACK_BOX_THRESHOLD}% threshold) on which the white-box attacks failed: the gradients may be masked, or the white-box attacks too weak; the robust accuracy of a white-box-only evaluation would be overstated`);
    }
  }
  if (s.zeroShare > 0.05) warnings.push(`${(s.zeroShare * 100).toFixed(1)}% of correctly classified inputs have an exactly zero loss gradient: gradient-based attacks cannot work there (masking, saturation or a non-differentiable model)`);
  return warnings;
}
