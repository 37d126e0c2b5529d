/** `advx train`: train a zoo model on a dataset, with checkpoints, resume and metrics.jsonl. */
import { Command, Option } from 'commander';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { AdvxError } from '../core/errors.ts';
import { buildModel, MODELS, parseModelName } from '../models/zoo.ts';
import { Classifier } from '../models/classifier.ts';
import { createOptimizer, fitClassifier, type EpochInfo, type FitOptions } from '../train/fit.ts';
import { ADVERSARIAL_METHODS, adversarialPerturbation, type AdversarialMethod } from '../defenses/adversarial-training.ts';
import { TRADES_DEFAULTS, tradesTraining } from '../defenses/trades.ts';
import { distillationLoss, temperatureCrossEntropy } from '../defenses/distillation.ts';
import { accuracy } from '../eval/accuracy.ts';
import { subset } from '../data/types.ts';
import { loadDataset, parseDatasetName } from '../node/datasets.ts';
import { writeFileAtomic } from '../node/io.ts';
import { writeTrainReport } from '../node/cli-reports.ts';
import { fileSystemHandler } from '../node/model-io.ts';
import { INFO_FILE, loadClassifier } from '../node/load-model.ts';
import { hasCheckpoint, loadCheckpoint, readRunConfig, saveCheckpoint } from '../node/checkpoint.ts';
import { progress } from '../node/progress.ts';
import { legacyConfig, openRunFolder } from '../node/run-folder.ts';
import { parseBackend } from '../backend/index.ts';
import { MAX_BATCH, MAX_EPOCHS, MAX_STEPS, pathList, precheckModel, nonNegativeInt, seedInt, nonNegativeNumber, positiveInt, positiveNumber, printJson, startBackend, withBackend, type BackendFlags } from './common.ts';

interface TrainFlags extends BackendFlags {
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
  json?: boolean;
  quiet?: boolean;
  adv?: string;
  advEps?: number;
  advSteps?: number;
  advAlpha?: number;
  staticModels?: string;
  temperature?: number;
  distillFrom?: string;
  init?: string;
  dropout: boolean;
  advRamp?: number;
  tradesBeta?: number;
}

/** --adv: the batch-replacing methods of adversarial-training.ts, and TRADES, which changes the loss. */
const ADV_CHOICES = [...ADVERSARIAL_METHODS, 'trades'] as const;

/** Translations past this many pixels move a 28-pixel image out of its frame. */
const MAX_SHIFT = 27;

/** What must match for --resume to continue a run rather than start another. */
const RUN_IDENTITY = ['model', 'data', 'batch', 'lr', 'lrDecay', 'shift', 'seed', 'limit', 'adv', 'advEps', 'advSteps', 'advAlpha', 'staticModels', 'temperature', 'distillFrom', 'init', 'dropout', 'advRamp', 'tradesBeta'] as const;

export function trainCommand(): Command {
  return withBackend(new Command('train'))
    .description('train a classifier from the model zoo')
    .addOption(new Option('--model <name>', `architecture: ${Object.keys(MODELS).join(', ')}`).default('cnn'))
    .option('--data <name>', 'dataset: mnist, fashion-mnist', 'mnist')
    .option('--epochs <n>', 'epochs to train in all', nonNegativeInt('--epochs', MAX_EPOCHS), 5)
    .requiredOption('--out <dir>', 'run folder (config.json, metrics.jsonl, report.html, checkpoint/, model/)')
    .option('--batch <n>', 'batch size', positiveInt('--batch', MAX_BATCH), 128)
    .option('--lr <x>', 'Adam learning rate', positiveNumber('--lr'), 1e-3)
    .option('--lr-decay <x>', 'learning rate multiplier per epoch', positiveNumber('--lr-decay'), 1)
    .option('--shift <px>', 'random translation augmentation, in pixels', nonNegativeInt('--shift', MAX_SHIFT), 0)
    .option('--seed <n>', 'seed for initialisation, shuffling and augmentation', seedInt('--seed'), 0)
    .option('--init <path>', 'start from the weights of a trained model of the same architecture (fine-tuning)')
    .option('--no-dropout', 'leave out the architecture\'s dropout layers')
    .option('--limit <n>', 'train on the first n training images only', positiveInt('--limit'))
    .option('--resume', 'continue the run in --out from its last checkpoint')
    .addOption(new Option('--adv <method>', 'adversarial training: fgsm-rs, pgd, ensemble, trades').choices([...ADV_CHOICES]))
    .option('--adv-eps <x>', 'adversarial training budget ε (L∞, default 0.3)', positiveNumber('--adv-eps'))
    .option('--adv-steps <n>', `attack steps for --adv pgd (default 7) and trades (default ${TRADES_DEFAULTS.steps})`, positiveInt('--adv-steps', MAX_STEPS))
    .option('--adv-alpha <x>', `adversarial step size (trades: default ${TRADES_DEFAULTS.alpha})`, positiveNumber('--adv-alpha'))
    .option('--adv-ramp <epochs>', 'grow ε linearly from 0 to --adv-eps over this many epochs', nonNegativeNumber('--adv-ramp'))
    .option('--trades-beta <x>', `weight β of the KL term of --adv trades (default ${TRADES_DEFAULTS.beta})`, positiveNumber('--trades-beta'))
    .option('--static-models <paths>', 'comma-separated static models for --adv ensemble')
    .option('--temperature <T>', 'softmax temperature of the training loss (defensive distillation)', positiveNumber('--temperature'))
    .option('--distill-from <path>', 'teacher model: train on its soft labels at --temperature')
    .option('--json', 'print a JSON summary as the last line')
    .option('--quiet', 'no progress output')
    .action((flags: TrainFlags) => train(flags));
}

async function train(flags: TrainFlags): Promise<void> {
  parseModelName(flags.model); // before the backend starts and the data loads
  checkTradesFlags(flags);
  checkTrainFlags(flags); // every option, before anything starts or is written
  await precheckHelperModels(flags);
  parseBackend(flags.backend);
  // A new, empty or own run folder, locked; a started run continues only with --resume.
  openRunFolder(flags.out, { command: 'train', started: hasCheckpoint, legacy: legacyConfig(['model', 'data'], hasCheckpoint), runName: 'a training run', resume: flags.resume });
  const backend = await startBackend(flags);
  const dir = flags.out;
  const configPath = join(dir, 'config.json');
  const resuming = Boolean(flags.resume) && hasCheckpoint(dir);
  if (resuming && existsSync(configPath)) {
    const previous = readRunConfig(configPath);
    for (const key of RUN_IDENTITY) {
      // A run from before an option existed was made with that option's default.
      if (!(key in previous) && (flags[key] === undefined || (key === 'dropout' && flags[key]))) continue;
      if (previous[key] !== flags[key]) {
        throw new AdvxError(`cannot resume ${dir}: it was started with --${key} ${previous[key]}, not ${flags[key]}`);
      }
    }
  }

  const splits = loadDataset(flags.data);
  const trainSet = flags.limit ? subset(splits.train, 0, Math.min(flags.limit, splits.train.count)) : splits.train;
  const spec = { inputShape: [...splits.train.shape], numClasses: splits.train.numClasses, seed: flags.seed, dropout: flags.dropout };
  const helpers = await loadHelperModels(flags, spec);
  const model = buildModel(flags.model, spec);
  const optimizer = createOptimizer(flags.lr);
  if (flags.init && !resuming) await initialiseFrom(model, flags.init);
  let startEpoch = 0;
  let history: Array<EpochInfo & { test_accuracy: number }> = [];
  if (resuming) {
    const state = await loadCheckpoint(dir, model, optimizer);
    startEpoch = state.epoch;
    history = (state.history as typeof history) ?? [];
    process.stderr.write(`resuming ${dir} after epoch ${startEpoch}\n`);
  }
  const { epochs: _e, resume: _r, json: _j, quiet: _q, ...config } = flags;
  writeFileAtomic(configPath, JSON.stringify({ ...config, backend, inputShape: spec.inputShape, numClasses: spec.numClasses }, null, 2));
  writeTrainReport(dir, history, config);

  const classifier = new Classifier((x) => model.apply(x) as tf.Tensor, { inputShape: spec.inputShape, numClasses: spec.numClasses, bounds: [0, 1] });
  const defence = defenceHooks(flags, classifier, helpers);
  const stepsPerEpoch = Math.ceil(trainSet.count / flags.batch);
  let bar: ReturnType<typeof progress> | undefined;
  await fitClassifier(model, trainSet, {
    epochs: flags.epochs,
    batchSize: flags.batch,
    learningRate: flags.lr,
    lrDecay: flags.lrDecay,
    shift: flags.shift,
    seed: flags.seed,
    startEpoch,
    optimizer,
    ...defence,
    onBatch: (b) => {
      bar ??= progress(`epoch ${b.epoch + 1}/${flags.epochs}`, stepsPerEpoch, flags.quiet);
      bar.update(b.step, { loss: b.loss, acc: b.accuracy });
      if (b.step === b.stepsPerEpoch) {
        bar.stop();
        bar = undefined;
      }
    },
    onEpoch: async (info, opt) => {
      const testAccuracy = await accuracy(classifier, splits.test);
      const entry = { ...info, test_accuracy: testAccuracy };
      history.push(entry);
      // Model first, then the checkpoint, then the metrics: a kill at any point leaves a
      // checkpoint no older than the metrics, and resume rewrites the metrics from it.
      await saveModel(model, join(dir, 'model'), { dataset: flags.data, classNames: splits.train.classNames, inputShape: spec.inputShape, numClasses: spec.numClasses });
      await saveCheckpoint(dir, model, opt, { epoch: info.epoch, history });
      writeFileAtomic(join(dir, 'metrics.jsonl'), history.map((h) => JSON.stringify(h)).join('\n') + '\n');
      writeTrainReport(dir, history, config);
      if (!flags.quiet) {
        process.stderr.write(`epoch ${info.epoch}: loss ${info.loss.toFixed(4)} train acc ${info.accuracy.toFixed(4)} test acc ${testAccuracy.toFixed(4)} (${info.seconds.toFixed(1)} s)\n`);
      }
    },
  });
  const last = history.at(-1);
  if (flags.json) printJson({ epochs: history.length, test_accuracy: last?.test_accuracy ?? null, seconds_per_epoch: mean(history.map((h) => h.seconds)) });
  model.dispose();
  optimizer.dispose();
}

/** Refuses the flags that do not go with --adv trades (or it with them), and fills in its default β. */
function checkTradesFlags(flags: TrainFlags): void {
  if (flags.adv !== 'trades') {
    if (flags.tradesBeta !== undefined) throw new AdvxError('--trades-beta is only used with --adv trades');
    return;
  }
  if (flags.staticModels) throw new AdvxError('--static-models is only used with --adv ensemble');
  // Both would set the training loss, and TRADES's would be lost without a word.
  if (flags.temperature || flags.distillFrom) throw new AdvxError('--adv trades has its own training loss: it cannot be combined with --temperature or --distill-from');
  // The β used is recorded (config.json, the resume check) even when it is the default, so that
  // `--adv trades` and `--adv trades --trades-beta 6` are the same run.
  flags.tradesBeta ??= TRADES_DEFAULTS.beta;
}

/**
 * Refuses options that would be ignored or fail later, before the backend starts, the data loads
 * or anything is written: the defence options that need another (--adv-ramp without --adv, …) and
 * model paths that hold no model.
 */
function checkTrainFlags(flags: TrainFlags): void {
  parseDatasetName(flags.data);
  if (!flags.adv) {
    for (const [flag, v] of [['--adv-ramp', flags.advRamp], ['--adv-eps', flags.advEps], ['--adv-steps', flags.advSteps], ['--adv-alpha', flags.advAlpha]] as const) {
      if (v !== undefined) throw new AdvxError(`${flag} is only used with --adv`);
    }
  }
  if (flags.staticModels !== undefined && flags.adv !== 'ensemble') throw new AdvxError('--static-models is only used with --adv ensemble');
  if (flags.adv === 'ensemble' && flags.staticModels === undefined) throw new AdvxError('--adv ensemble needs --static-models (comma-separated model folders)');
  if (flags.advSteps !== undefined && (flags.adv === 'fgsm-rs' || flags.adv === 'ensemble')) throw new AdvxError(`--adv-steps is used by --adv pgd and trades, not by ${flags.adv} (one step)`);
  if (flags.advAlpha !== undefined && flags.adv === 'ensemble') throw new AdvxError('--adv-alpha is not used by --adv ensemble (its step is ε)');
  if (flags.distillFrom !== undefined && !flags.temperature) throw new AdvxError('--distill-from needs --temperature');
  const models: Array<[string, string]> = [
    ...(flags.staticModels === undefined ? [] : pathList('--static-models', flags.staticModels).map((p): [string, string] => ['--static-models', p])),
    ...(flags.distillFrom === undefined ? [] : [['--distill-from', flags.distillFrom] as [string, string]]),
    ...(flags.init === undefined ? [] : [['--init', flags.init] as [string, string]]),
  ];
  for (const [flag, path] of models) {
    const json = path.endsWith('.json') ? path : join(path, 'model.json');
    if (!existsSync(json)) throw new AdvxError(`${flag} ${path}: no model there (${json} does not exist)`);
  }
}

/** The files, classes and input shapes of --distill-from and --static-models, and of --init all but its classes, before any work. */
async function precheckHelperModels(flags: TrainFlags): Promise<void> {
  if (flags.distillFrom !== undefined) await precheckModel(flags.distillFrom, flags.data, { flag: '--distill-from' });
  for (const p of flags.staticModels === undefined ? [] : pathList('--static-models', flags.staticModels)) await precheckModel(p, flags.data, { flag: '--static-models' });
  // Fine-tuning from a model of other classes is legitimate; the weights' fit is checked on load.
  if (flags.init !== undefined) await precheckModel(flags.init, flags.data, { flag: '--init', classes: false });
}

interface HelperModels {
  teacher?: Classifier;
  staticModels?: Classifier[];
}

/** The --distill-from teacher and --static-models, checked against the data: a misfit names its path. */
async function loadHelperModels(flags: TrainFlags, spec: { inputShape: number[]; numClasses: number }): Promise<HelperModels> {
  const load = async (flag: string, path: string): Promise<Classifier> => {
    const { classifier } = await loadClassifier(path);
    const { inputShape, numClasses } = classifier.info;
    if (inputShape.join('×') !== spec.inputShape.join('×')) {
      throw new AdvxError(`${flag} ${path} expects inputs of shape ${inputShape.join('×')}, but ${flags.data} images are ${spec.inputShape.join('×')}`);
    }
    if (numClasses !== spec.numClasses) throw new AdvxError(`${flag} ${path} has ${numClasses} classes, but ${flags.data} has ${spec.numClasses}`);
    return classifier;
  };
  const helpers: HelperModels = {};
  if (flags.distillFrom) helpers.teacher = await load('--distill-from', flags.distillFrom);
  if (flags.staticModels && flags.adv === 'ensemble') {
    helpers.staticModels = [];
    for (const p of pathList('--static-models', flags.staticModels)) helpers.staticModels.push(await load('--static-models', p));
  }
  return helpers;
}

/** The fitClassifier hooks for --adv, --temperature and --distill-from (options checked by checkTrainFlags). */
function defenceHooks(flags: TrainFlags, current: Classifier, helpers: HelperModels): Pick<FitOptions, 'perturb' | 'companion' | 'loss'> {
  const hooks: Pick<FitOptions, 'perturb' | 'companion' | 'loss'> = {};
  if (flags.adv === 'trades') {
    Object.assign(hooks, tradesTraining(current, { eps: flags.advEps ?? 0.3, beta: flags.tradesBeta, steps: flags.advSteps, alpha: flags.advAlpha, rampEpochs: flags.advRamp }));
  } else if (flags.adv) {
    hooks.perturb = adversarialPerturbation(current, { method: flags.adv as AdversarialMethod, eps: flags.advEps ?? 0.3, steps: flags.advSteps, alpha: flags.advAlpha, staticModels: helpers.staticModels, rampEpochs: flags.advRamp });
  }
  if (flags.distillFrom) {
    hooks.loss = distillationLoss(helpers.teacher!, flags.temperature!);
  } else if (flags.temperature) {
    hooks.loss = temperatureCrossEntropy(flags.temperature);
  }
  return hooks;
}

/** Copies the weights of a trained model (model.json) into `model`, which must have the same architecture. */
async function initialiseFrom(model: import('@tensorflow/tfjs-layers').LayersModel, path: string): Promise<void> {
  const loaded = await loadClassifier(path);
  if (!loaded.layers) throw new AdvxError(`--init ${path}: not a LayersModel (a GraphModel cannot be trained)`);
  const source = loaded.layers.getWeights();
  const own = model.getWeights();
  const shapes = (ws: tf.Tensor[]) => ws.map((w) => `[${w.shape}]`).join(' ');
  if (source.length !== own.length || source.some((w, i) => !tf.util.arraysEqual(w.shape, own[i].shape))) {
    const message = `--init ${path}: its weights (${shapes(source)}) do not fit --model's (${shapes(own)})`;
    loaded.layers.dispose();
    throw new AdvxError(message);
  }
  model.setWeights(source);
  loaded.layers.dispose();
}

function mean(xs: number[]): number | null {
  return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null;
}

/** Saves a LayersModel in TF.js format, with advx.json declaring its bounds and classes. */
export async function saveModel(model: import('@tensorflow/tfjs-layers').LayersModel, dir: string, info: { dataset: string; classNames: string[]; inputShape: number[]; numClasses: number }): Promise<void> {
  await model.save(fileSystemHandler(dir));
  writeFileAtomic(join(dir, INFO_FILE), JSON.stringify({ ...info, bounds: [0, 1], output: 'logits' }, null, 2));
}
