/**
 * Choosing the alignment weight λ without target labels: one run per candidate, scored by soft
 * neighbourhood density on the unlabelled target images (snd.ts); the densest wins, the first of
 * equals. Only the winner's networks are kept. No Node API here.
 */
import type * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { assertOption } from '../core/errors.ts';
import type { ImageDataset } from '../data/types.ts';
import { Classifier } from '../models/classifier.ts';
import { softNeighbourhoodDensity } from './snd.ts';

/** What a run must give: its classifier (logits of inputs in [0, 1]), to score and to dispose of. */
export interface LambdaRun {
  networks: { model: tfl.LayersModel; dispose(): void };
}

export interface LambdaTrial<R> {
  lambda: number;
  snd: number;
  /** The run; all but the chosen one's networks are disposed. */
  run: R;
}

export interface LambdaSelection<R> extends LambdaTrial<R> {
  /** Every candidate, in the order tried. */
  trials: LambdaTrial<R>[];
}

/** Trains with each λ of `candidates` (`train(λ)`) and keeps the run with the highest SND on `target`. */
export async function selectLambda<R extends LambdaRun>(
  candidates: readonly number[],
  train: (lambda: number) => Promise<R>,
  target: ImageDataset,
  options: { count?: number; onTrial?: (trial: LambdaTrial<R>) => void } = {},
): Promise<LambdaSelection<R>> {
  assertOption(candidates.length > 0, 'λ selection needs at least one candidate λ');
  const trials: LambdaTrial<R>[] = [];
  let best: LambdaTrial<R> | undefined;
  try {
    for (const lambda of candidates) {
      const run = await train(lambda);
      const snd = await density(run, target, options.count ?? 1000).catch((err: unknown) => {
        run.networks.dispose();
        throw err;
      });
      const trial = { lambda, snd, run };
      trials.push(trial);
      options.onTrial?.(trial);
      if (!best || trial.snd > best.snd) {
        best?.run.networks.dispose();
        best = trial;
      } else run.networks.dispose();
    }
  } catch (err) {
    best?.run.networks.dispose();
    throw err;
  }
  return { ...best!, trials };
}

async function density(run: LambdaRun, target: ImageDataset, count: number): Promise<number> {
  const { model } = run.networks;
  const classifier = new Classifier((x) => model.apply(x) as tf.Tensor, { inputShape: [...target.shape], numClasses: target.numClasses, bounds: [0, 1], classNames: target.classNames });
  return softNeighbourhoodDensity(classifier, target, { count });
}
