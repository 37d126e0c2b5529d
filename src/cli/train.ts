/** `advx train`: train a zoo model on a dataset, with checkpoints, resume and metrics.jsonl. */
import { Command, Option } from 'commander';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { AdvxError } from '../core/errors.ts';
import { MODELS, parseModelName } from '../models/zoo.ts';
import { TRADES_DEFAULTS } from '../defenses/trades.ts';
import { parseDatasetName } from '../node/datasets/index.ts';
import { hasCheckpoint } from '../node/io/checkpoint.ts';
import { legacyConfig, openRunFolder } from '../node/runs/folder.ts';
import { hasRunConfig, resumeOptions, type RunOptionsSpec } from '../node/runs/options.ts';
import { ADV_CHOICES, runTrain, type TrainRunOptions } from '../node/runs/train.ts';
import { parseBackend } from '../backend/index.ts';
import { precheckModel } from '../node/runs/inputs.ts';
import { MAX_BATCH, MAX_EPOCHS, MAX_STEPS, pathList, nonNegativeInt, seedInt, nonNegativeNumber, positiveInt, positiveNumber, printJson, startBackend, withBackend, type BackendFlags } from './common.ts';
import { COMMANDS } from './commands.ts';

/** The flags: a training run's options as commander gives them (lists as typed), and how to print. */
interface TrainFlags extends BackendFlags, Omit<TrainRunOptions, 'adv' | 'staticModels'> {
  adv?: string;
  staticModels?: string;
  json?: boolean;
}


/** Translations past this many pixels move a 28-pixel image out of its frame. */
const MAX_SHIFT = 27;

/** The options that make a training run; --epochs may grow when it is resumed. */
const RUN_OPTIONS: RunOptionsSpec = {
  identity: ['model', 'data', 'batch', 'lr', 'lrDecay', 'shift', 'seed', 'limit', 'adv', 'advEps', 'advSteps', 'advAlpha', 'staticModels', 'temperature', 'distillFrom', 'init', 'dropout', 'advRamp', 'tradesBeta'],
  mutable: ['epochs'],
  legacy: legacyConfig(['model', 'data'], hasCheckpoint),
};

export function trainCommand(): Command {
  return withBackend(new Command('train'))
    .description(COMMANDS.train.summary)
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
    .action((flags: TrainFlags, cmd: Command) => train(flags, cmd));
}

async function train(flags: TrainFlags, cmd: Command): Promise<void> {
  resumeOptions(cmd, flags, RUN_OPTIONS); // a resumed run's options are its own, from config.json
  parseModelName(flags.model); // before the backend starts and the data loads
  checkTradesFlags(flags);
  checkTrainFlags(flags); // every option, before anything starts or is written
  await precheckHelperModels(flags);
  parseBackend(flags.backend);
  // A new, empty or own run folder, locked; a started run continues only with --resume.
  openRunFolder(flags.out, { command: 'train', started: hasRunConfig, legacy: RUN_OPTIONS.legacy, runName: 'a training run', resume: flags.resume });
  const backend = await startBackend(flags);
  const staticModels = flags.staticModels === undefined ? undefined : pathList('--static-models', flags.staticModels);
  const summary = await runTrain({ ...flags, staticModels, adv: flags.adv as TrainRunOptions['adv'] }, flags, { backend });
  if (flags.json) printJson(summary);
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
