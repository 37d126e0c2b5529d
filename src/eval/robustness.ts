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
 * - The unit of work is a block of `batchSize` consecutive inputs, seeded on its own: what an input's
 *   block finds does not depend on the other blocks, so shards of blocks (`shard`) give per-example
 *   records that merge, through the one summary of robustness-summary.ts, into the unsharded report.
 *
 * The model may be a black box (a served model, models/remote.ts): the same accounting, with score-
 * or decision-based attacks only, the re-check asking the model for its labels, and no gradient
 * checks. A black box that stops answering (ServiceError) ends the run; the error carries, as
 * `partial`, the report of the blocks finished before it.
 */
import * as tf from '@tensorflow/tfjs-core';
import { attackDescriptor, checkAccess, checkAttackRequest, predictLabels, runOn, type AnyModel, type AttackDescriptor, type AttackOptions } from '../attacks/index.ts';
import { lossGradient } from '../attacks/types.ts';
import { concatFloat32 } from '../core/arrays.ts';
import { AdvxError, ServiceError } from '../core/errors.ts';
import { batchNorm, projectToFeasible, type Norm } from '../core/norms.ts';
import { hashSeed } from '../core/rng.ts';
import { shardBlocks, type Shard } from '../core/shards.ts';
import { Classifier } from '../models/classifier.ts';
import { SUITES, type SuiteAttack, type SuiteName } from './suites.ts';
import { modelCheckWarnings, summarizeRobustness, type AttackOutcome, type ExampleRecord, type RobustnessReport, type RobustnessSeconds, type RobustnessSetup } from './robustness-summary.ts';

export { BLACK_BOX_THRESHOLD, modelCheckWarnings, sanityWarnings, summarizeRobustness, type AttackBreakdown, type AttackOutcome, type ExampleRecord, type RobustnessReport, type RobustnessSeconds, type RobustnessSetup, type SanityInputs } from './robustness-summary.ts';

export { shardBlocks } from '../core/shards.ts';

export { parseSuite, SUITES, type SuiteAttack, type SuiteName } from './suites.ts';

export interface RobustnessProgress {
  /** Inputs done, of `total` (the run's, or the shard's): fractional within a block, by its (attack, ε) passes done. */
  done: number;
  total: number;
}

/** A block of inputs done: the records of its inputs, and the seconds it took in all and per attack (in the plan's order). */
export interface RobustnessBlock {
  block: number;
  examples: ExampleRecord[];
  seconds: RobustnessSeconds;
}

export interface RobustnessOptions extends Omit<AttackOptions, 'eps'> {
  /** Attacks by registry name, run in this order; or a `suite`. */
  attacks?: string[];
  suite?: SuiteName;
  eps: number[];
  batchSize?: number;
  /** Run each attack only on the inputs every earlier attack failed on (default true). */
  cascade?: boolean;
  /** Called once with done = 0 at the start, then after every (attack, ε) pass of every block. */
  onProgress?: (p: RobustnessProgress) => void;
  /**
   * Blocks done by an earlier run with the same options, model and data (a resumed run): taken as
   * they are, not run again. Their records are what this run would compute (see
   * evaluateRobustnessExamples), so a resumed run's report equals an uninterrupted one's.
   */
  finished?: ReadonlyMap<number, RobustnessBlock>;
  /** Called as each block is done (every attack at every ε), before the next starts: to keep it for a resume. */
  onBlock?: (b: RobustnessBlock) => void | Promise<void>;
  /** Evaluate only this shard's blocks (see shardBlocks): `index` of `count`. */
  shard?: Shard;
  /**
   * Shown every re-checked candidate (after a minimal-norm attack's projection) before it is
   * disposed: the inputs `indices` of one block, in order, and whether each counts as broken. For
   * a report's pictures; it must not keep `adversarial`, and it changes no result.
   */
  onCandidates?: (c: RobustnessCandidates) => void | Promise<void>;
}

export interface RobustnessCandidates {
  attack: string;
  eps: number;
  indices: number[];
  adversarial: tf.Tensor;
  broken: boolean[];
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
  try {
    return (await evaluateRobustnessExamples(classifier, x, y, o)).report;
  } catch (e) {
    if (e instanceof ServiceError && e.partial) e.partial = (e.partial as RobustnessOutcome).report;
    throw e;
  }
}

/** The report and the per-example records it was computed from (the records of a shard's blocks only, with `o.shard`). */
export interface RobustnessOutcome {
  report: RobustnessReport;
  examples: ExampleRecord[];
}

/** What the records of an evaluation with options `o` are records of (see summarizeRobustness). */
export function robustnessSetup(o: RobustnessOptions, blackBox: boolean): RobustnessSetup {
  const norm = o.norm ?? 'linf';
  return {
    eps: o.eps,
    norm,
    cascade: o.cascade ?? true,
    ...(o.suite ? { suite: o.suite } : {}),
    attacks: planAttacks(o, norm).map(({ descriptor: d, norm: own }) => ({ name: d.name, title: d.title, access: d.access, budget: d.budget, norm: own })),
    blackBox,
  };
}

/**
 * evaluateRobustness, with the per-example records. The unit of work is a block of `batchSize`
 * inputs: each attack batches only the inputs of one block (those still robust in a cascade), and
 * draws its randomness from a seed of (seed, block, attack, ε). A block's records are therefore the
 * same whether it runs alone, in a shard or in the whole run, bit for bit on the same backend, and
 * a sharded run merges into exactly the unsharded one. The blocks run one after the other, each
 * through every ε and attack, so a run stopped midway has whole blocks done: `onBlock` may keep
 * them, and a later run given them as `finished` goes on from there. On a ServiceError, `partial`
 * is a RobustnessOutcome of the blocks finished (none: no `partial`).
 */
export async function evaluateRobustnessExamples(classifier: AnyModel, x: tf.Tensor, y: tf.Tensor1D, o: RobustnessOptions): Promise<RobustnessOutcome> {
  const norm = o.norm ?? 'linf';
  const plan = planAttacks(o, norm);
  const blackBox = !(classifier instanceof Classifier);
  if (!(classifier instanceof Classifier)) for (const p of plan) checkAccess(p.descriptor, classifier.access, 'the remote model');
  if (!o.eps.length) throw new AdvxError('no ε given');
  for (const e of o.eps) if (!(Number.isFinite(e) && e >= 0)) throw new AdvxError(`every ε must be a non-negative number, got ${e}`);
  if (y.shape[0] !== x.shape[0]) throw new AdvxError(`${y.shape[0]} labels for ${x.shape[0]} inputs`);
  const cascade = o.cascade ?? true;
  const batch = o.batchSize ?? 128;
  const setup = robustnessSetup(o, blackBox);
  const blocks = shardBlocks(x.shape[0], batch, o.shard);
  const sizeOf = (b: number) => Math.min(batch, x.shape[0] - b * batch);
  const total = blocks.reduce((s, b) => s + sizeOf(b), 0);
  const passes = o.eps.length * plan.length;
  // Minimal-norm results do not depend on ε: each input is attacked once, its result kept (at
  // most the inputs' own size per minimal-norm attack).
  const minimalCache = plan.map(() => new Map<number, Float32Array>());
  const examples: ExampleRecord[] = [];
  const seconds = { total: 0, attacks: plan.map(() => 0) };
  const spent = (s: RobustnessSeconds) => {
    seconds.total += s.total;
    s.attacks.forEach((t, a) => (seconds.attacks[a] += t));
  };
  let done = 0;
  let at: NonNullable<RobustnessReport['partial']>['stopped_at'] = { index: 0, eps: o.eps[0], attack: plan[0].descriptor.name };
  o.onProgress?.({ done, total });
  try {
    for (const b of blocks) {
      const size = sizeOf(b);
      const kept = o.finished?.get(b);
      if (kept) {
        examples.push(...kept.examples);
        spent(kept.seconds);
        o.onProgress?.({ done: (done += size), total });
        continue;
      }
      const t0 = performance.now();
      at = { index: b * batch, eps: o.eps[0], attack: plan[0].descriptor.name };
      const records = await measureBlock(classifier, x, y, b * batch, size);
      const attackSeconds = plan.map(() => 0);
      for (const [p, eps] of o.eps.entries()) {
        const key = String(eps);
        const robust = records.map((e) => e.correct);
        for (const [a, step] of plan.entries()) {
          const t1 = performance.now();
          const name = step.descriptor.name;
          at = { index: b * batch, eps, attack: name };
          const rows = eps > 0 ? records.flatMap((e, j) => ((cascade ? robust[j] : e.correct) ? [j] : [])) : [];
          if (rows.length) {
            const seed = hashSeed(`${o.seed ?? 0}/${b}/${name}/${eps}`);
            const { onCandidates, ...attackOptions } = o;
            const show = onCandidates && ((adversarial: tf.Tensor, indices: number[], broken: boolean[]) => onCandidates({ attack: name, eps, indices, adversarial, broken }));
            const outcomes = await attackInputs(classifier, x, y, rows.map((j) => records[j].index), eps, norm, step, minimalCache[a], { ...attackOptions, ...step.options, seed }, show);
            outcomes.forEach((outcome, r) => {
              (records[rows[r]].attacks[name] ??= {})[key] = outcome;
              if (outcome.broken) robust[rows[r]] = false;
            });
          }
          attackSeconds[a] += (performance.now() - t1) / 1000;
          o.onProgress?.({ done: done + (size * (p * plan.length + a + 1)) / passes, total });
        }
      }
      const finished: RobustnessBlock = { block: b, examples: records, seconds: { total: (performance.now() - t0) / 1000, attacks: attackSeconds } };
      await o.onBlock?.(finished);
      examples.push(...records);
      spent(finished.seconds);
      done += size;
    }
  } catch (e) {
    if (!(e instanceof ServiceError)) throw e;
    // Only the blocks every attack finished at every ε: an unfinished one's numbers would overstate robustness.
    if (examples.length) e.partial = { report: summarizeRobustness(examples, setup, seconds, { error: e.message, planned: total, stopped_at: at }), examples } satisfies RobustnessOutcome;
    throw e;
  }
  return { report: summarizeRobustness(examples, setup, seconds), examples };
}

/**
 * The records of the block of inputs [from, from + size) before any attack: label, clean
 * prediction and, for a Classifier, what the self-checks need (a zero loss gradient, the change of
 * the logits between two passes, whether the outputs look like probabilities).
 */
async function measureBlock(classifier: AnyModel, x: tf.Tensor, y: tf.Tensor1D, from: number, size: number): Promise<ExampleRecord[]> {
  const [xb, yb] = [tf.slice(x, from, size), tf.slice(y, from, size) as tf.Tensor1D];
  const labels = await yb.data();
  const predictions = await predictLabels(classifier, xb);
  let zero: boolean[] | undefined;
  let logits: { drift: number[]; probabilities: boolean[] } | undefined;
  if (classifier instanceof Classifier) {
    const norms = tf.tidy(() => batchNorm(lossGradient(classifier, xb, { labels: yb }), 'l2'));
    zero = Array.from(await norms.data(), (v) => v === 0);
    norms.dispose();
    logits = await logitChecks(classifier, xb);
  }
  tf.dispose([xb, yb]);
  return Array.from(predictions, (p, j) => ({
    index: from + j,
    label: labels[j],
    prediction: p,
    correct: p === labels[j],
    zero_gradient: zero ? zero[j] : null,
    logit_drift: logits ? logits.drift[j] : null,
    probabilities: logits ? logits.probabilities[j] : null,
    attacks: {},
  }));
}

/**
 * Runs one attack at one ε on the inputs `targets` (one call: the inputs of one block) and
 * re-checks every candidate: per target, its outcome, with any claim that did not hold up.
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
  options: Omit<AttackOptions, 'eps'>,
  show?: (adversarial: tf.Tensor, indices: number[], broken: boolean[]) => void | Promise<void>,
): Promise<AttackOutcome[]> {
  const minimal = step.descriptor.budget === 'minimal-norm';
  const size = x.shape.slice(1).reduce((a, b) => a * b, 1);
  const idx = tf.tensor1d(targets, 'int32');
  const [xb, yb] = [tf.gather(x, idx), tf.gather(y, idx) as tf.Tensor1D];
  idx.dispose();
  let candidate: tf.Tensor;
  let claimed: boolean[];
  let queries: number[] | undefined;
  if (minimal && targets.every((r) => cache.has(r))) {
    candidate = tf.tensor(concatFloat32(targets.map((r) => cache.get(r)!)), xb.shape);
    claimed = targets.map(() => true);
  } else {
    const r = await runOn(step.descriptor, classifier, xb, { labels: yb }, { ...options, eps, norm: step.norm });
    queries = r.queries;
    if (minimal) {
      const data = await r.adversarial.data();
      targets.forEach((row, j) => cache.set(row, Float32Array.from(data.subarray(j * size, (j + 1) * size))));
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
  const outcomes: AttackOutcome[] = check.adversarial.map((adv, j) => {
    const fits = check.withinBudget[j] && check.withinBounds[j];
    const flaw = claimed[j] && !minimal ? (!fits ? 'outside' : !adv ? 'unfooled' : undefined) : undefined;
    return { broken: adv && fits, norm: check.norms[j], ...(queries ? { queries: queries[j] } : {}), ...(flaw ? { flaw } : {}) };
  });
  try {
    await show?.(candidate, targets, outcomes.map((e) => e.broken));
  } finally {
    tf.dispose([xb, yb, candidate]);
  }
  return outcomes;
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

/** Per input of `xb`: the largest change of a logit between two forward passes, and whether its output row looks like probabilities. */
async function logitChecks(classifier: Classifier, xb: tf.Tensor): Promise<{ drift: number[]; probabilities: boolean[] }> {
  const [first, second] = tf.tidy(() => [classifier.logits(xb), classifier.logits(xb)]);
  const [a, b] = await Promise.all([first.data(), second.data()]);
  const k = first.shape[1] as number;
  tf.dispose([first, second]);
  const rows = Array.from({ length: a.length / k }, (_, r) => r);
  return {
    drift: rows.map((r) => Math.max(...Array.from({ length: k }, (_, j) => Math.abs(a[r * k + j] - b[r * k + j])))),
    probabilities: rows.map((r) => {
      const row = Array.from(a.subarray(r * k, (r + 1) * k));
      return row.every((v) => v >= 0 && v <= 1) && Math.abs(row.reduce((s, v) => s + v, 0) - 1) <= 1e-3;
    }),
  };
}

/**
 * AutoAttack's checks of the model itself on the first `batch` inputs of `x`: outputs that are
 * probabilities rather than logits, and a forward pass that is random (see modelCheckWarnings).
 * An evaluation runs them on every input, from its records.
 */
export async function modelChecks(classifier: Classifier, x: tf.Tensor, batch = 128): Promise<string[]> {
  const xb = tf.slice(x, 0, Math.min(batch, x.shape[0]));
  const { drift, probabilities } = await logitChecks(classifier, xb);
  xb.dispose();
  return modelCheckWarnings(Math.max(...drift), probabilities.every(Boolean));
}
