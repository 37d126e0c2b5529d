/**
 * A training run of `advx train`: a zoo model on a dataset, with the defences that change its
 * batches or loss (adversarial training, TRADES, distillation), evaluated on the test set after
 * each epoch, checkpointed and resumable, ending with the model, metrics.jsonl, results.json and
 * report.html in the run folder.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { join } from 'node:path';
import { AdvxError } from '../../core/errors.ts';
import { subset } from '../../data/types.ts';
import { ADVERSARIAL_METHODS, adversarialPerturbation, type AdversarialMethod } from '../../defenses/adversarial-training.ts';
import { distillationLoss, temperatureCrossEntropy } from '../../defenses/distillation.ts';
import { tradesTraining } from '../../defenses/trades.ts';
import { accuracy } from '../../eval/accuracy.ts';
import { Classifier } from '../../models/classifier.ts';
import { buildModel } from '../../models/zoo.ts';
import { createOptimizer, fitClassifier, type EpochInfo, type FitOptions } from '../../train/fit.ts';
import { writeTrainReport } from './reports.ts';
import { loadDataset } from '../datasets/index.ts';
import { loadClassifier } from '../io/load-model.ts';
import { saveModel } from '../io/model-files.ts';
import { progress } from '../io/progress.ts';
import { writeResults } from './results.ts';
import { TrainingRun } from './training-run.ts';
import { writeRunConfig } from './options.ts';

/** --adv: the batch-replacing methods of adversarial-training.ts, and TRADES, which changes the loss. */
export const ADV_CHOICES = [...ADVERSARIAL_METHODS, 'trades'] as const;

/** What a training run is made of (the options of `advx train`, checked). */
export interface TrainRunOptions {
  model: string;
  data: string;
  epochs: number;
  out: string;
  batch: number;
  lr: number;
  lrDecay: number;
  shift: number;
  seed: number;
  limit?: number;
  resume?: boolean;
  quiet?: boolean;
  adv?: (typeof ADV_CHOICES)[number];
  advEps?: number;
  advSteps?: number;
  advAlpha?: number;
  staticModels?: string[];
  temperature?: number;
  distillFrom?: string;
  init?: string;
  dropout: boolean;
  advRamp?: number;
  tradesBeta?: number;
}

export type TrainRow = EpochInfo & { test_accuracy: number };

export interface TrainRunSummary {
  epochs: number;
  test_accuracy: number | null;
  seconds_per_epoch: number | null;
}

/**
 * Trains in `o.out` (a run folder the caller opened and locked) and returns the summary. `config`
 * is what config.json records (the command's options), `extra` facts added to it (the backend).
 */
export async function runTrain(o: TrainRunOptions, config: object, extra: Record<string, unknown>): Promise<TrainRunSummary> {
  const dir = o.out;
  const splits = loadDataset(o.data);
  const trainSet = o.limit ? subset(splits.train, 0, Math.min(o.limit, splits.train.count)) : splits.train;
  const spec = { inputShape: [...splits.train.shape], numClasses: splits.train.numClasses, seed: o.seed, dropout: o.dropout };
  const helpers = await loadHelperModels(o, spec);
  const model = buildModel(o.model, spec);
  const optimizer = createOptimizer(o.lr);
  const run = new TrainingRun<TrainRow>(dir);
  try {
    const resumed = o.resume ? await run.restore(model, optimizer) : undefined;
    if (o.init && !resumed) await initialiseFrom(model, o.init);
    const history = resumed?.history ?? [];
    if (resumed) process.stderr.write(`resuming ${dir} after epoch ${resumed.position}\n`);
    const recorded = writeRunConfig(dir, config, { ...extra, inputShape: spec.inputShape, numClasses: spec.numClasses });
    writeTrainReport(dir, history, recorded);

    const classifier = new Classifier((x) => model.apply(x) as tf.Tensor, { inputShape: spec.inputShape, numClasses: spec.numClasses, bounds: [0, 1] });
    const stepsPerEpoch = Math.ceil(trainSet.count / o.batch);
    let bar: ReturnType<typeof progress> | undefined;
    await fitClassifier(model, trainSet, {
      epochs: o.epochs,
      batchSize: o.batch,
      learningRate: o.lr,
      lrDecay: o.lrDecay,
      shift: o.shift,
      seed: o.seed,
      startEpoch: resumed?.position ?? 0,
      optimizer,
      ...defenceHooks(o, classifier, helpers),
      onBatch: (b) => {
        bar ??= progress(`epoch ${b.epoch + 1}/${o.epochs}`, stepsPerEpoch, o.quiet);
        bar.update(b.step, { loss: b.loss, acc: b.accuracy });
        if (b.step === b.stepsPerEpoch) {
          bar.stop();
          bar = undefined;
        }
      },
      onEpoch: async (info, opt) => {
        const testAccuracy = await accuracy(classifier, splits.test);
        history.push({ ...info, test_accuracy: testAccuracy });
        // The model is an output, written before the checkpoint that a resume would continue from.
        await saveModel(model, join(dir, 'model'), { dataset: o.data, classNames: splits.train.classNames, inputShape: spec.inputShape, numClasses: spec.numClasses });
        await run.checkpoint(model, opt, info.epoch, history);
        writeTrainReport(dir, history, recorded);
        if (!o.quiet) {
          process.stderr.write(`epoch ${info.epoch}: loss ${info.loss.toFixed(4)} train acc ${info.accuracy.toFixed(4)} test acc ${testAccuracy.toFixed(4)} (${info.seconds.toFixed(1)} s)\n`);
        }
      },
    });
    const summary: TrainRunSummary = { epochs: history.length, test_accuracy: history.at(-1)?.test_accuracy ?? null, seconds_per_epoch: mean(history.map((h) => h.seconds)) };
    writeResults(dir, 'train', summary);
    return summary;
  } finally {
    model.dispose();
    optimizer.dispose();
  }
}

interface HelperModels {
  teacher?: Classifier;
  staticModels?: Classifier[];
}

/** The --distill-from teacher and --static-models, checked against the data: a misfit names its path. */
async function loadHelperModels(o: TrainRunOptions, spec: { inputShape: number[]; numClasses: number }): Promise<HelperModels> {
  const load = async (flag: string, path: string): Promise<Classifier> => {
    const { classifier } = await loadClassifier(path);
    const { inputShape, numClasses } = classifier.info;
    if (inputShape.join('×') !== spec.inputShape.join('×')) {
      throw new AdvxError(`${flag} ${path} expects inputs of shape ${inputShape.join('×')}, but ${o.data} images are ${spec.inputShape.join('×')}`);
    }
    if (numClasses !== spec.numClasses) throw new AdvxError(`${flag} ${path} has ${numClasses} classes, but ${o.data} has ${spec.numClasses}`);
    return classifier;
  };
  const helpers: HelperModels = {};
  if (o.distillFrom) helpers.teacher = await load('--distill-from', o.distillFrom);
  if (o.staticModels && o.adv === 'ensemble') {
    helpers.staticModels = [];
    for (const p of o.staticModels) helpers.staticModels.push(await load('--static-models', p));
  }
  return helpers;
}

/** The fitClassifier hooks for --adv, --temperature and --distill-from (options checked by the CLI). */
function defenceHooks(o: TrainRunOptions, current: Classifier, helpers: HelperModels): Pick<FitOptions, 'perturb' | 'companion' | 'loss'> {
  const hooks: Pick<FitOptions, 'perturb' | 'companion' | 'loss'> = {};
  if (o.adv === 'trades') {
    Object.assign(hooks, tradesTraining(current, { eps: o.advEps ?? 0.3, beta: o.tradesBeta, steps: o.advSteps, alpha: o.advAlpha, rampEpochs: o.advRamp }));
  } else if (o.adv) {
    hooks.perturb = adversarialPerturbation(current, { method: o.adv as AdversarialMethod, eps: o.advEps ?? 0.3, steps: o.advSteps, alpha: o.advAlpha, staticModels: helpers.staticModels, rampEpochs: o.advRamp });
  }
  if (o.distillFrom) {
    hooks.loss = distillationLoss(helpers.teacher!, o.temperature!);
  } else if (o.temperature) {
    hooks.loss = temperatureCrossEntropy(o.temperature);
  }
  return hooks;
}

/** Copies the weights of a trained model (model.json) into `model`, which must have the same architecture. */
async function initialiseFrom(model: tfl.LayersModel, path: string): Promise<void> {
  const loaded = await loadClassifier(path);
  if (!loaded.layers) throw new AdvxError(`--init ${path}: not a LayersModel (a GraphModel cannot be trained)`);
  const source = loaded.layers.getWeights();
  const own = model.getWeights();
  const shapes = (ws: tf.Tensor[]) => ws.map((w) => `[${w.shape}]`).join(' ');
  try {
    if (source.length !== own.length || source.some((w, i) => !tf.util.arraysEqual(w.shape, own[i].shape))) {
      throw new AdvxError(`--init ${path}: its weights (${shapes(source)}) do not fit --model's (${shapes(own)})`);
    }
    model.setWeights(source);
  } finally {
    loaded.layers.dispose();
  }
}

function mean(xs: number[]): number | null {
  return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null;
}
