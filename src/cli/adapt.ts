/**
 * `advx adapt`: domain adaptation from a labelled source dataset to an unlabelled target one —
 * DANN, Deep CORAL, MMD, the source-only baseline, or fine-tuning on a few labelled target images —
 * with checkpoints and resume, metrics.jsonl, the model, and a report of the features' shift.
 */
import { Command, Option } from 'commander';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { AdvxError } from '../core/errors.ts';
import { ADAPTATION_METHODS } from '../da/dann.ts';
import { readBaseline } from '../node/runs/adapt-report.ts';
import { parseDatasetName } from '../node/datasets/index.ts';
import { legacyConfig, openRunFolder } from '../node/runs/folder.ts';
import { reusesBaseline, runAdapt, SOURCE_NETWORK_OPTIONS, type AdaptRunOptions } from '../node/runs/adapt.ts';
import { readRunConfig } from '../node/io/checkpoint.ts';
import { CONFIG_FILE, hasRunConfig, resumeOptions, type RunOptionsSpec } from '../node/runs/options.ts';
import { parseBackend } from '../backend/index.ts';
import { precheckModel } from '../node/runs/inputs.ts';
import { MAX_BATCH, MAX_EPOCHS, numberList, nonNegativeInt, seedInt, nonNegativeNumber, positiveInt, positiveNumber, printJson, startBackend, withBackend, type BackendFlags } from './common.ts';
import { COMMANDS } from './commands.ts';

const METHODS = [...ADAPTATION_METHODS, 'finetune'] as const;

/** The flags: an adapt run's options as commander gives them (λ candidates as typed, the learning rate's default resolved later). */
interface AdaptFlags extends BackendFlags, Omit<AdaptRunOptions, 'lr' | 'selectLambda' | 'command'> {
  lr?: number;
  selectLambda?: string;
  json?: boolean;
}

/** The options that make an adapt run; --epochs may grow when it is resumed. */
const RUN_OPTIONS: RunOptionsSpec = {
  identity: ['method', 'source', 'target', 'batch', 'lr', 'optimizer', 'batchNorm', 'lambda', 'seed', 'limit', 'targetLimit', 'selectLambda'],
  mutable: ['epochs'],
  legacy: legacyConfig(['method', 'source', 'target']),
};
/** And those of finetune runs (other methods ignore these options). */
const FINETUNE_IDENTITY = ['targetLabels', 'headEpochs', 'finetuneEpochs', 'finetuneBatch', 'head', 'init'];

export function adaptCommand(): Command {
  return withBackend(new Command('adapt'))
    .description(COMMANDS.adapt.summary)
    .addOption(new Option('--method <name>', 'dann, cdan (DANN conditioned on the classes), coral, mmd, source-only (the baseline), or finetune (uses a few target labels)').choices([...METHODS]).default('dann'))
    .option('--source <name>', 'labelled source dataset', 'mnist-rgb')
    .option('--target <name>', 'target dataset (its labels are read only to measure accuracy)', 'mnist-m')
    .option('--epochs <n>', 'passes over the source', nonNegativeInt('--epochs', MAX_EPOCHS), 10)
    .option('--batch <n>', 'images per domain in a step', positiveInt('--batch', MAX_BATCH), 64)
    .option('--lr <x>', 'initial learning rate μ0, annealed as μ0/(1+10p)^0.75 (default 0.01 for sgd, 0.001 for adam)', positiveNumber('--lr'))
    .addOption(new Option('--optimizer <name>', 'sgd (with momentum 0.9, as the DANN paper) or adam (β1 0.9)').choices(['sgd', 'adam']).default('sgd'))
    .addOption(
      new Option('--batch-norm <where>', 'batch normalisation in the extractor: none (the paper), shared (one batch of both domains) or per-domain (each domain its own statistics)')
        .choices(['none', 'shared', 'per-domain'])
        .default('none'),
    )
    .option('--lambda <x>', 'weight of the alignment term (DANN: the gradient reversal λ, ramped up)', nonNegativeNumber('--lambda'), 1)
    .option('--select-lambda <list>', 'train with each λ of a comma-separated list and keep the one with the highest soft neighbourhood density (no target labels)')
    .option('--seed <n>', 'seed for initialisation and batches', seedInt('--seed'), 0)
    .option('--limit <n>', 'use the first n source training images', positiveInt('--limit'))
    .option('--target-limit <n>', 'use the first n target training images', positiveInt('--target-limit'))
    .option('--test-limit <n>', 'evaluate on the first n test images of each domain', positiveInt('--test-limit'))
    .option('--target-labels <k>', 'finetune: labelled target images per class', positiveInt('--target-labels', 10_000), 10)
    .option('--head-epochs <n>', 'finetune: epochs training the new head alone', nonNegativeInt('--head-epochs', MAX_EPOCHS), 20)
    .option('--finetune-epochs <n>', 'finetune: then epochs training all layers at lr/10', nonNegativeInt('--finetune-epochs', MAX_EPOCHS), 20)
    .addOption(
      new Option('--head <kind>', 'finetune: new (a fresh last layer, the ImageNet recipe), keep (the trained one, for a target with the source\'s classes), or auto (keep when the class counts match)')
        .choices(['new', 'keep', 'auto'])
        .default('auto'),
    )
    .option('--finetune-batch <n>', 'finetune: batch size of both phases (a few labelled images need small batches for enough steps)', positiveInt('--finetune-batch', MAX_BATCH), 16)
    .option('--init <path>', 'finetune: start from this trained model instead of training source-only first')
    .option('--baseline <dir>', 'an earlier adapt run to compare with in the report; finetune (without --init) reuses a source-only baseline as its pretrained network instead of training one, with the baseline\'s data and training options')
    .option('--embed <n>', 'test images per domain in the feature pictures and A-distance', positiveInt('--embed', MAX_EMBED), 500)
    .option('--no-tsne', 'draw PCA only (t-SNE takes a few seconds per thousand points)')
    .requiredOption('--out <dir>', 'run folder')
    .option('--resume', 'continue the run in --out from its last checkpoint')
    .option('--json', 'print a JSON summary as the last line')
    .option('--quiet', 'no progress output')
    .action((flags: AdaptFlags, cmd: Command) => adapt(flags, cmd));
}

/** t-SNE of 2·n points is quadratic in time and memory: 5000 per domain is already minutes. */
const MAX_EMBED = 5000;

/** --select-lambda: at least two distinct λ ≥ 0; an empty item ('0.1,1,') is refused, not read as λ = 0. */
function parseLambdas(list: string): number[] {
  return numberList('--select-lambda', list, { min: 2, distinct: true });
}

/** Checks the options before anything is written, then opens (and locks) the run folder. */
function checkFlags(flags: AdaptFlags): void {
  parseDatasetName(flags.source);
  parseDatasetName(flags.target);
  // The report's A-distance and pictures compare at least 2 test images per domain.
  if (flags.testLimit !== undefined && flags.testLimit < 2) throw new AdvxError(`--test-limit must be at least 2: the report compares at least 2 test images per domain, got ${flags.testLimit}`);
  if (flags.embed < 2) throw new AdvxError(`--embed must be at least 2: the report compares at least 2 test images per domain, got ${flags.embed}`);
  const aligns = flags.method !== 'source-only' && flags.method !== 'finetune';
  if (aligns && flags.batch < 2) throw new AdvxError(`--method ${flags.method} compares batches of features: --batch must be at least 2, got ${flags.batch}`);
  if (flags.init !== undefined && !existsSync(flags.init.endsWith('.json') ? flags.init : join(flags.init, 'model.json'))) throw new AdvxError(`--init ${flags.init}: no model there (no model.json)`);
  if (flags.method === 'finetune' && flags.selectLambda) throw new AdvxError('--select-lambda chooses the alignment weight of dann, cdan, coral or mmd, not of finetune');
  if (flags.method === 'source-only' && flags.selectLambda) throw new AdvxError('--select-lambda has nothing to choose for source-only');
  if (flags.init && flags.method !== 'finetune') throw new AdvxError('--init is used by --method finetune only');
  if (flags.selectLambda) parseLambdas(flags.selectLambda);
  if (flags.baseline) readBaseline(flags.baseline);
  parseBackend(flags.backend);
  // A new, empty or own run folder, locked; a started run continues only with --resume.
  openRunFolder(flags.out, { command: 'adapt', started: hasRunConfig, legacy: RUN_OPTIONS.legacy, runName: 'an adapt run', resume: flags.resume });
}

/**
 * finetune with a source-only --baseline reuses its network: the options that made that network
 * are the baseline's (from its config.json) unless given, and refused (one line naming them all)
 * when given with other values.
 */
function baselineOptions(cmd: Command, flags: AdaptFlags): void {
  if (!reusesBaseline(flags)) return;
  const dir = flags.baseline!;
  const file = join(dir, CONFIG_FILE);
  if (!existsSync(file)) throw new AdvxError(`--baseline ${dir}: no ${CONFIG_FILE}, so its options cannot be checked; give --init ${join(dir, 'model')} to start from its model instead`);
  const saved = readRunConfig(file);
  const values = flags as unknown as Record<string, unknown>;
  const show = (key: string, value: unknown) => `${cmd.options.find((o) => o.attributeName() === key)?.long ?? key} ${value === undefined ? '(not set)' : String(value)}`;
  const mismatches: string[] = [];
  for (const key of SOURCE_NETWORK_OPTIONS) {
    if (cmd.getOptionValueSource(key) !== 'cli') values[key] = saved[key];
    else if (values[key] !== saved[key]) mismatches.push(`${show(key, saved[key])} (given: ${show(key, values[key])})`);
  }
  if (mismatches.length) {
    throw new AdvxError(`--baseline ${dir} is a source-only run made with ${mismatches.join(', ')}: finetune reuses its network only with the same options; leave these out to take the baseline's`);
  }
}

async function adapt(flags: AdaptFlags, cmd: Command): Promise<void> {
  // A resumed run's options are its own, from config.json; fine-tuning's matter to finetune runs only.
  resumeOptions(cmd, flags, RUN_OPTIONS);
  if (flags.method === 'finetune') resumeOptions(cmd, flags, { ...RUN_OPTIONS, identity: FINETUNE_IDENTITY });
  baselineOptions(cmd, flags);
  // The default learning rate depends on the optimiser; resolved here so config.json records it.
  flags.lr ??= flags.optimizer === 'adam' ? 0.001 : 0.01;
  if (flags.init !== undefined && flags.method === 'finetune') await precheckModel(flags.init, flags.target, { flag: '--init', classes: false, shape: false }); // its files, before anything is written (grey data may become RGB: shape checked on load)
  checkFlags(flags);
  const backend = await startBackend(flags);
  const { json: _j, ...config } = flags;
  const options = { ...flags, lr: flags.lr, selectLambda: flags.selectLambda === undefined ? undefined : parseLambdas(flags.selectLambda), command: `advx ${process.argv.slice(2).join(' ')}` };
  const summary = await runAdapt(options, config, { backend });
  if (flags.json) printJson(summary);
}
