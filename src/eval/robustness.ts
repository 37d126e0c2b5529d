/**
 * Robust accuracy against an ensemble of attacks over a range of ε, reported per attack and as the
 * per-example worst case (an input counts as robust only if every attack fails on it), as
 * AutoAttack and RobustBench do.
 *
 * The accounting every number goes through:
 * - Attacks run in order, each only on the inputs every earlier attack failed on (a cascade, as
 *   AutoAttack runs its suite); `cascade: false` runs every attack on every input instead, for the
 *   full per-attack table.
 * - A fixed-ε attack searches the ε-ball it is given. A minimal-norm attack (DeepFool, C&W, FAB,
 *   HopSkipJump) returns the smallest perturbation it found, whatever its size: it runs once per
 *   input, and at each ε its perturbation is projected onto the ε-ball and into the bounds before
 *   the re-check (as Foolbox does), so it counts at ε only where it fits.
 * - Before an input counts as broken, the candidate is re-classified and its norm and bounds are
 *   checked here, whatever the attack reported. A candidate an attack reports as adversarial that
 *   lies outside the budget or the bounds is an attack bug: it is not counted, and a warning says so.
 * Then the self-checks of AutoAttack (gradient masking, probabilities for logits, a random forward
 * pass) become warnings.
 *
 * The model may be a black box (a served model, models/remote.ts): the same accounting, with score-
 * or decision-based attacks only, the re-check asking the model for its labels, and no gradient
 * checks. A black box that stops answering (ServiceError) ends the run; the error carries, as
 * `partial`, the report of the ε values finished before it.
 */
import * as tf from '@tensorflow/tfjs-core';
import { attackDescriptor, checkAccess, checkAttackRequest, predictLabels, runOn, type AnyModel, type AttackDescriptor, type AttackOptions } from '../attacks/index.ts';
import { lossGradient } from '../attacks/types.ts';
import { concatFloat32 } from '../core/arrays.ts';
import { AdvxError, ServiceError } from '../core/errors.ts';
import { batchNorm, projectToFeasible, type Norm } from '../core/norms.ts';
import { Classifier } from '../models/classifier.ts';

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

export interface RobustnessProgress {
  eps: number;
  attack: string;
  /** Inputs attacked so far in this (attack, ε) pass, of `total`. */
  done: number;
  total: number;
}

export interface RobustnessOptions extends Omit<AttackOptions, 'eps'> {
  /** Attacks by registry name, run in this order; or a `suite`. */
  attacks?: string[];
  suite?: SuiteName;
  eps: number[];
  batchSize?: number;
  /** Run each attack only on the inputs every earlier attack failed on (default true). */
  cascade?: boolean;
  /** Called after every batch of every (attack, ε) pass, and once with done = 0 at its start. */
  onProgress?: (p: RobustnessProgress) => void;
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
  seconds: number;
  /** Set when a black box stopped answering: the ε values in `eps` are those finished, of `planned_eps`. */
  partial?: { error: string; planned_eps: number[]; stopped_at: { eps: number; attack: string; done: number; total: number } };
}

/**
 * The attacks to run, each with its descriptor, settings and the norm it optimises; refuses unknown
 * names, duplicates and norms a fixed-ε attack does not support, before any work.
 */
export function planAttacks(o: RobustnessOptions, norm: Norm): { descriptor: AttackDescriptor; options: Partial<AttackOptions>; norm: Norm }[] {
  if (o.suite && o.attacks?.length) throw new AdvxError('give either a suite or a list of attacks, not both');
  const list: SuiteAttack[] = o.suite ? SUITES[o.suite].attacks : (o.attacks ?? []).map((name) => ({ name, options: {} }));
  if (!list.length) throw new AdvxError('no attacks given');
  const names = list.map((a) => a.name);
  const twice = names.find((n, i) => names.indexOf(n) !== i);
  if (twice) throw new AdvxError(`attack "${twice}" is listed twice`);
  return list.map(({ name, options }) => {
    const descriptor = attackDescriptor(name);
    // A fixed-ε attack must search the evaluation's ball. Any perturbation can be projected onto
    // it, so a minimal-norm attack may optimise its own norm (C&W's L2 result, clipped to L∞ ε).
    const own = descriptor.budget === 'minimal-norm' && !descriptor.norms.includes(norm) ? descriptor.norms[0] : norm;
    checkAttackRequest(name, { norm: own });
    return { descriptor, options, norm: own };
  });
}

/**
 * Robust accuracy of `classifier` on inputs `x` with true labels `y`, for each ε of `o.eps`,
 * against `o.attacks` (registry names) or an AutoAttack `o.suite`: per attack and as the
 * per-example worst case. Each attack runs on the inputs the earlier ones left (unless `cascade`
 * is false), and every candidate is re-classified and checked against ε and the bounds before it
 * counts. The model may be a Classifier or a black box (then only score- or decision-based attacks).
 */
export async function evaluateRobustness(classifier: AnyModel, x: tf.Tensor, y: tf.Tensor1D, o: RobustnessOptions): Promise<RobustnessReport> {
  const norm = o.norm ?? 'linf';
  const plan = planAttacks(o, norm);
  const blackBox = !(classifier instanceof Classifier);
  if (!(classifier instanceof Classifier)) for (const p of plan) checkAccess(p.descriptor, classifier.access, 'the remote model');
  if (!o.eps.length) throw new AdvxError('no ε given');
  for (const e of o.eps) if (!(Number.isFinite(e) && e >= 0)) throw new AdvxError(`every ε must be a non-negative number, got ${e}`);
  if (y.shape[0] !== x.shape[0]) throw new AdvxError(`${y.shape[0]} labels for ${x.shape[0]} inputs`);
  const cascade = o.cascade ?? true;
  const batch = o.batchSize ?? 128;
  const start = performance.now();
  const n = x.shape[0];
  const labels = await y.data();
  const clean = await predictLabels(classifier, x);
  const correct = Array.from(clean, (p, i) => p === labels[i]);

  const perAttack: Record<string, Record<string, number>> = {};
  const worst: Record<string, number> = {};
  const warnings: string[] = [];
  const breakdown: AttackBreakdown[] = plan.map(({ descriptor: d, norm: own }) => ({ name: d.name, title: d.title, access: d.access, budget: d.budget, norm: own, attacked: {}, broken: {}, seconds: 0 }));
  // Minimal-norm results do not depend on ε: each input is attacked once, its result kept.
  const minimalCache = plan.map(() => new Map<number, Float32Array>());
  const blackBoxOnly = new Map<string, number>();
  let at = { eps: o.eps[0], attack: plan[0].descriptor.name, done: 0, total: 0 };
  const finished: number[] = [];
  const report = (zeroShare: number, extra: string[]): RobustnessReport => ({
    clean_accuracy: correct.filter(Boolean).length / n,
    robust_accuracy: worst,
    per_attack: perAttack,
    warnings: [...warnings, ...extra],
    count: n,
    eps: finished,
    norm,
    mode: cascade ? 'cascade' : 'independent',
    ...(o.suite ? { suite: o.suite } : {}),
    attacks: breakdown,
    zero_gradient_share: zeroShare,
    seconds: (performance.now() - start) / 1000,
  });

  try {
    for (const eps of o.eps) {
      const key = String(eps);
      const robust = [...correct];
      // Per attack and input: broken (true), survived (false) or not attacked (undefined).
      const outcomes: (boolean | undefined)[][] = [];
      for (const [a, step] of plan.entries()) {
        const t0 = performance.now();
        const targets = eps > 0 ? robust.flatMap((r, i) => ((cascade ? r : correct[i]) ? [i] : [])) : [];
        const outcome = new Array<boolean | undefined>(n);
        if (targets.length) {
          const result = await attackInputs(classifier, x, y, targets, eps, norm, step, minimalCache[a], batch, { ...o, ...step.options }, (done) => {
            at = { eps, attack: step.descriptor.name, done, total: targets.length };
            o.onProgress?.(at);
          });
          result.broken.forEach((b, j) => (outcome[targets[j]] = b));
          if (result.queries !== undefined) (breakdown[a].queries ??= {})[key] = result.queries;
          warnings.push(...result.problems.map((p) => `${step.descriptor.name} at ε=${eps}: ${p}`));
        }
        outcomes.push(outcome);
        const broken = targets.filter((i) => outcome[i]).length;
        for (const i of targets) if (outcome[i]) robust[i] = false;
        breakdown[a].attacked[key] = targets.length;
        breakdown[a].broken[key] = broken;
        breakdown[a].seconds += (performance.now() - t0) / 1000;
        // Cascade: robust accuracy after this attack and those before it; independent: its own.
        const remaining = cascade ? robust.filter(Boolean).length : correct.filter(Boolean).length - broken;
        (perAttack[step.descriptor.name] ??= {})[key] = remaining / n;
      }
      worst[key] = robust.filter(Boolean).length / n;
      const white = plan.flatMap((p, a) => (p.descriptor.access === 'white-box' ? [outcomes[a]] : []));
      const black = plan.flatMap((p, a) => (p.descriptor.access !== 'white-box' ? [outcomes[a]] : []));
      const blackOnly = correct.filter((_, i) => black.some((o) => o[i] === true) && white.some((o) => o[i] === false) && !white.some((o) => o[i] === true)).length;
      blackBoxOnly.set(key, blackOnly);
      finished.push(eps);
    }
  } catch (e) {
    if (!(e instanceof ServiceError)) throw e;
    // Keep only the ε values every attack finished: an unfinished one's numbers would overstate robustness.
    const done = new Set(finished.map(String));
    for (const table of [worst, ...Object.values(perAttack), ...breakdown.flatMap((b) => [b.attacked, b.broken, b.queries ?? {}])]) {
      for (const k of Object.keys(table)) if (!done.has(k)) delete table[k];
    }
    e.partial = { ...report(NaN, []), partial: { error: e.message, planned_eps: o.eps, stopped_at: at } };
    throw e;
  }
  const zeroShare = blackBox ? NaN : await zeroGradientShare(classifier as Classifier, x, y, correct, batch);
  return report(zeroShare, [
    ...sanityWarnings({ perAttack, worst, eps: o.eps, zeroShare: blackBox ? 0 : zeroShare, blackBoxOnly: Object.fromEntries(blackBoxOnly), count: n }),
    ...(blackBox ? [] : await modelChecks(classifier as Classifier, x, batch)),
  ]);
}

/**
 * Runs one attack at one ε on the inputs `targets` (in batches) and re-checks every candidate:
 * per target, whether it is broken, and the problems found (claims that did not hold up).
 */
async function attackInputs(
  classifier: AnyModel,
  x: tf.Tensor,
  y: tf.Tensor1D,
  targets: number[],
  eps: number,
  norm: Norm,
  step: { descriptor: AttackDescriptor; norm: Norm },
  cache: Map<number, Float32Array>,
  batch: number,
  options: Omit<AttackOptions, 'eps'>,
  onBatch: (done: number) => void,
): Promise<{ broken: boolean[]; problems: string[]; queries?: number }> {
  const minimal = step.descriptor.budget === 'minimal-norm';
  const size = x.shape.slice(1).reduce((a, b) => a * b, 1);
  // Keeping every minimal-norm result costs n·size floats: fine for MNIST or CIFAR test sets;
  // past ~200 MB re-run the attack at each ε instead.
  const keep = minimal && x.shape[0] * size <= 5e7;
  const broken: boolean[] = [];
  let overBudget = 0;
  let notAdversarial = 0;
  let largest = 0;
  let queries: number | undefined;
  onBatch(0);
  for (let s = 0; s < targets.length; s += batch) {
    const rows = targets.slice(s, s + batch);
    const idx = tf.tensor1d(rows, 'int32');
    const [xb, yb] = [tf.gather(x, idx), tf.gather(y, idx) as tf.Tensor1D];
    idx.dispose();
    let candidate: tf.Tensor;
    let claimed: boolean[];
    if (keep && rows.every((r) => cache.has(r))) {
      candidate = tf.tensor(concatFloat32(rows.map((r) => cache.get(r)!)), xb.shape);
      claimed = rows.map(() => true);
    } else {
      const r = await runOn(step.descriptor, classifier, xb, { labels: yb }, { ...options, eps, norm: step.norm });
      if (r.queries) queries = (queries ?? 0) + r.queries.reduce((a, b) => a + b, 0);
      if (keep) {
        const data = await r.adversarial.data();
        rows.forEach((row, j) => cache.set(row, Float32Array.from(data.subarray(j * size, (j + 1) * size))));
      }
      candidate = r.adversarial;
      claimed = r.success;
    }
    if (minimal) {
      // Foolbox's accounting: the perturbation projected onto the ε-ball, then re-checked.
      const clipped = projectToFeasible(xb, candidate, norm, eps, classifier.info.bounds);
      candidate.dispose();
      candidate = clipped;
    }
    const check = await recheck(classifier, xb, yb, candidate, eps, norm);
    check.adversarial.forEach((adv, j) => {
      const fits = check.withinBudget[j] && check.withinBounds[j];
      if (claimed[j] && !minimal && !fits) {
        overBudget++;
        largest = Math.max(largest, check.norms[j]);
      }
      if (claimed[j] && !minimal && fits && !adv) notAdversarial++;
      broken.push(adv && fits);
    });
    tf.dispose([xb, yb, candidate]);
    onBatch(Math.min(targets.length, s + batch));
  }
  const problems: string[] = [];
  if (overBudget) problems.push(`${overBudget} reported adversarial examples lie outside the ε-ball or the bounds (largest ${norm} norm ${largest.toPrecision(4)}): not counted — a bug in the attack`);
  if (notAdversarial) problems.push(`${notAdversarial} reported adversarial examples are classified correctly when re-checked: not counted (a random forward pass, or a bug in the attack)`);
  return { broken, problems, ...(queries === undefined ? {} : { queries }) };
}

/** Float slack of a norm computed in float32 on inputs of magnitude up to the bounds'. */
function normTolerance(eps: number, norm: Norm, bounds: [number, number], size: number): number {
  const ulp = 2 ** -23 * Math.max(1, Math.abs(bounds[0]), Math.abs(bounds[1]));
  return 1e-5 * eps + 4 * ulp * (norm === 'l2' ? Math.sqrt(size) : 1);
}

/**
 * The re-check every counted adversarial example passes: per example, whether `candidate` is
 * misclassified (untargeted, against `labels`), lies in the ε-ball of `norm` around x (up to float
 * slack) and within the classifier's bounds. The caller keeps its tensors.
 */
export async function recheck(
  classifier: AnyModel,
  x: tf.Tensor,
  labels: tf.Tensor1D,
  candidate: tf.Tensor,
  eps: number,
  norm: Norm,
): Promise<{ adversarial: boolean[]; withinBudget: boolean[]; withinBounds: boolean[]; norms: number[] }> {
  const [lo, hi] = classifier.info.bounds;
  const [norms, mins, maxs] = tf.tidy(() => {
    const flat = tf.reshape(candidate, [candidate.shape[0], -1]);
    return [batchNorm(tf.sub(candidate, x), norm), tf.min(flat, 1), tf.max(flat, 1)] as const;
  });
  // A black box is asked again (queries beyond the attack's budget); a Classifier's logits decide.
  const p = await predictLabels(classifier, candidate);
  const want = await labels.data();
  const [nv, mn, mx] = (await Promise.all([norms.data(), mins.data(), maxs.data()])) as Float32Array[];
  tf.dispose([norms, mins, maxs]);
  const tol = normTolerance(eps, norm, classifier.info.bounds, candidate.size / Math.max(1, candidate.shape[0]));
  return {
    adversarial: Array.from(p, (v, i) => v !== want[i]),
    withinBudget: Array.from(nv, (v) => v <= eps + tol),
    withinBounds: Array.from(mn, (v, i) => v >= lo && mx[i] <= hi),
    norms: Array.from(nv),
  };
}

async function zeroGradientShare(classifier: Classifier, x: tf.Tensor, y: tf.Tensor1D, correct: boolean[], batch: number): Promise<number> {
  // In batches: a whole test set's activations and gradients at once would not fit in memory.
  let zero = 0;
  for (let s = 0; s < x.shape[0]; s += batch) {
    const size = Math.min(batch, x.shape[0] - s);
    const norms = tf.tidy(() => batchNorm(lossGradient(classifier, tf.slice(x, s, size), { labels: tf.slice(y, s, size) as tf.Tensor1D }), 'l2'));
    const values = await norms.data();
    norms.dispose();
    values.forEach((v, i) => {
      if (correct[s + i] && v === 0) zero++;
    });
  }
  const count = correct.filter(Boolean).length;
  return count ? zero / count : 0;
}

/**
 * AutoAttack's checks of the model itself: outputs that are probabilities rather than logits
 * (cross-entropy on them flattens the gradients), and a forward pass that is random (two calls on
 * the same inputs differ; a deterministic attack then overstates robustness).
 */
export async function modelChecks(classifier: Classifier, x: tf.Tensor, batch = 128): Promise<string[]> {
  const warnings: string[] = [];
  const [first, second] = tf.tidy(() => {
    const xb = tf.slice(x, 0, Math.min(batch, x.shape[0]));
    return [classifier.logits(xb), classifier.logits(xb)];
  });
  const [a, b] = await Promise.all([first.data(), second.data()]);
  const k = first.shape[1];
  tf.dispose([first, second]);
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff = Math.max(diff, Math.abs(a[i] - b[i]));
  if (diff > 1e-5) warnings.push(`the forward pass is random: two calls on the same inputs differ by up to ${diff.toPrecision(3)} in the logits; deterministic attacks overstate the robustness of a randomised model — use the rand suite (gradients averaged over passes, EOT)`);
  let probabilities = true;
  for (let r = 0; r < a.length / k && probabilities; r++) {
    let sum = 0;
    for (let j = 0; j < k; j++) {
      const v = a[r * k + j];
      if (v < 0 || v > 1) probabilities = false;
      sum += v;
    }
    if (Math.abs(sum - 1) > 1e-3) probabilities = false;
  }
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

/**
 * The checks of gradient masking (Athalye et al. 2018; AutoAttack's flags): robust accuracy that
 * rises with ε, black-box attacks that find what the white-box ones missed (AutoAttack flags more
 * than 0.2% of the inputs), and exactly zero loss gradients.
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
    if (s.count && found / s.count > 0.002) {
      warnings.push(`at ε=${e} black-box attacks broke ${found} inputs (${((100 * found) / s.count).toFixed(1)}%) on which the white-box attacks failed: the gradients may be masked, or the white-box attacks too weak; the robust accuracy of a white-box-only evaluation would be overstated`);
    }
  }
  if (s.zeroShare > 0.05) warnings.push(`${(s.zeroShare * 100).toFixed(1)}% of correctly classified inputs have an exactly zero loss gradient: gradient-based attacks cannot work there (masking, saturation or a non-differentiable model)`);
  return warnings;
}
