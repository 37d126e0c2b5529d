/**
 * Robust accuracy against an ensemble of attacks over a range of ε, reported per attack and as the
 * per-example worst case (an example counts as robust only if every attack fails on it), as
 * AutoAttack and RobustBench do. Also runs the sanity checks that expose gradient masking.
 */
import * as tf from '@tensorflow/tfjs-core';
import { getAttack, type AttackOptions } from '../attacks/index.ts';
import { AdvxError } from '../core/errors.ts';
import type { Classifier } from '../models/classifier.ts';
import { batchNorm } from '../core/norms.ts';
import { lossGradient } from '../attacks/types.ts';

/** Attacks that see only scores or labels: they must not beat the white-box ones by much. */
const BLACK_BOX = new Set(['square', 'nes', 'spsa', 'hsj']);

export interface RobustnessOptions extends Omit<AttackOptions, 'eps'> {
  attacks: string[];
  eps: number[];
  batchSize?: number;
  /** Called after each attack at each ε. */
  onProgress?: (done: number, total: number, label: string) => void;
}

export interface RobustnessReport {
  count: number;
  clean_accuracy: number;
  eps: number[];
  norm: string;
  /** attack → ε → robust accuracy. */
  per_attack: Record<string, Record<string, number>>;
  /** ε → robust accuracy under the per-example worst case over all attacks. */
  robust_accuracy: Record<string, number>;
  /** Share of correctly classified inputs whose loss gradient is exactly zero. */
  zero_gradient_share: number;
  warnings: string[];
  seconds: number;
}

export async function evaluateRobustness(classifier: Classifier, x: tf.Tensor, y: tf.Tensor1D, o: RobustnessOptions): Promise<RobustnessReport> {
  if (!o.attacks.length) throw new AdvxError('no attacks given');
  if (!o.eps.length) throw new AdvxError('no ε given');
  for (const e of o.eps) if (!(Number.isFinite(e) && e >= 0)) throw new AdvxError(`every ε must be a non-negative number, got ${e}`);
  const attacks = o.attacks.map((name) => ({ name, run: getAttack(name) }));
  const start = performance.now();
  const n = x.shape[0];
  const labels = await y.data();
  const clean = await classifier.predict(x);
  const correct = Array.from(clean, (p, i) => p === labels[i]);
  const cleanAccuracy = correct.filter(Boolean).length / n;
  const batch = o.batchSize ?? 128;

  const perAttack: Record<string, Record<string, number>> = {};
  const worst: Record<string, number> = {};
  const total = attacks.length * o.eps.length;
  let done = 0;
  for (const eps of o.eps) {
    const robustAll = [...correct];
    for (const a of attacks) {
      const robust = [...correct];
      if (eps > 0) {
        for (let s = 0; s < n; s += batch) {
          const size = Math.min(batch, n - s);
          const xb = tf.slice(x, s, size);
          const yb = tf.slice(y, s, size);
          const r = await a.run(classifier, xb, { labels: yb }, { ...o, eps });
          r.success.forEach((ok, i) => {
            if (ok) robust[s + i] = false;
          });
          tf.dispose([xb, yb, r.adversarial]);
        }
      }
      (perAttack[a.name] ??= {})[String(eps)] = robust.filter(Boolean).length / n;
      robust.forEach((r, i) => {
        if (!r) robustAll[i] = false;
      });
      o.onProgress?.(++done, total, `${a.name} ε=${eps}`);
    }
    worst[String(eps)] = robustAll.filter(Boolean).length / n;
  }
  const zeroShare = await zeroGradientShare(classifier, x, y, correct, batch);
  return {
    count: n,
    clean_accuracy: cleanAccuracy,
    eps: o.eps,
    norm: o.norm ?? 'linf',
    per_attack: perAttack,
    robust_accuracy: worst,
    zero_gradient_share: zeroShare,
    warnings: sanityWarnings(perAttack, o.eps, zeroShare),
    seconds: (performance.now() - start) / 1000,
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

/** The checks of gradient masking (Athalye et al. 2018; AutoAttack's warnings). */
export function sanityWarnings(perAttack: Record<string, Record<string, number>>, eps: number[], zeroShare: number): string[] {
  const warnings: string[] = [];
  const sorted = [...eps].sort((a, b) => a - b);
  for (const [name, byEps] of Object.entries(perAttack)) {
    for (let i = 1; i < sorted.length; i++) {
      const [a, b] = [byEps[String(sorted[i - 1])], byEps[String(sorted[i])]];
      if (b > a) warnings.push(`${name}: robust accuracy rises from ${a.toFixed(3)} at ε=${sorted[i - 1]} to ${b.toFixed(3)} at ε=${sorted[i]} — a larger budget must not help the model; suspect gradient masking or too few steps`);
    }
  }
  const white = Object.keys(perAttack).filter((k) => !BLACK_BOX.has(k));
  const black = Object.keys(perAttack).filter((k) => BLACK_BOX.has(k));
  for (const e of sorted) {
    if (!white.length || !black.length) break;
    const bestWhite = Math.min(...white.map((k) => perAttack[k][String(e)]));
    const bestBlack = Math.min(...black.map((k) => perAttack[k][String(e)]));
    if (bestBlack < bestWhite - 0.05) warnings.push(`at ε=${e} a black-box attack (${bestBlack.toFixed(3)}) beats the white-box ones (${bestWhite.toFixed(3)}): the gradients are likely masked`);
  }
  if (zeroShare > 0.05) warnings.push(`${(zeroShare * 100).toFixed(1)}% of correctly classified inputs have an exactly zero loss gradient: gradient-based attacks cannot work there (masking, saturation or a non-differentiable model)`);
  return warnings;
}
