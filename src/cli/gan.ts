/**
 * `advx gan`: image GANs on MNIST / Fashion-MNIST.
 *   train     DCGAN or class-conditional DCGAN, with checkpoints and exact resume, metrics.jsonl,
 *             sample grids, the generator as a TF.js model and report.html
 *   sample    a grid of samples (or latent interpolation strips) from a saved generator
 *   evaluate  FID, KID, precision/recall and class coverage on a classifier's features
 */
import { Command, Option } from 'commander';
import { AdvxError } from '../core/errors.ts';
import { GAN_ARCHS, parseGanArch } from '../gan/dcgan.ts';
import { GAN_LOSSES, LOSS_DEFAULTS, parseGanLoss, type GanLoss } from '../gan/losses.ts';
import { AUGMENTATIONS, type Augmentation } from '../gan/train-images.ts';
import { parseDatasetName } from '../node/datasets/index.ts';
import { checkOutFile, legacyConfig, openRunFolder } from '../node/runs/folder.ts';
import { runGanEvaluate, runGanSample, type GanEvaluateOptions, type GanSampleOptions } from '../node/runs/gan.ts';
import { runGanTrain, type GanTrainRunOptions } from '../node/runs/gan-train.ts';
import { hasRunConfig, resumeOptions, type RunOptionsSpec } from '../node/runs/options.ts';
import { parseBackend } from '../backend/index.ts';
import { nonNegativeInt, quietOption, seedInt, nonNegativeNumber, positiveInt, positiveNumber, printJson, startBackend, withBackend, type BackendFlags } from './common.ts';
import { COMMANDS } from './commands.ts';
import { progressCounter } from '../node/io/progress.ts';

/** --loss also takes "ls" for the least-squares GAN. */
function parseLoss(name: string): GanLoss {
  const key = name.trim().toLowerCase();
  if (key === 'ls') return 'lsgan';
  try {
    return parseGanLoss(key);
  } catch {
    throw new AdvxError(`unknown GAN loss "${name}": choose one of ns, minimax, hinge, ls (or lsgan), wgan-gp`);
  }
}

/** A per-loss default as help text, e.g. "10 for wgan-gp, else 0". */
function lossDefault(key: 'gpWeight' | 'dSteps'): string {
  const usual = LOSS_DEFAULTS.ns[key];
  const others = GAN_LOSSES.filter((l) => LOSS_DEFAULTS[l][key] !== usual).map((l) => `${LOSS_DEFAULTS[l][key]} for ${l}`);
  return [...others, `else ${usual}`].join(', ');
}

function parseAugment(list: string): Augmentation[] {
  if (list === 'none' || list === '') return [];
  const out = list.split(',').map((s) => s.trim());
  for (const a of out) if (!(AUGMENTATIONS as readonly string[]).includes(a)) throw new AdvxError(`--augment: unknown augmentation "${a}": use none, or a comma-separated list of ${AUGMENTATIONS.join(', ')}`);
  return out as Augmentation[];
}

function fraction(flag: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < 0 || n >= 1) throw new AdvxError(`${flag} must be a number in [0, 1), got "${v}"`);
    return n;
  };
}

/** The flags: a GAN run's options as commander gives them (names and lists as typed). */
interface TrainFlags extends BackendFlags, Omit<GanTrainRunOptions, 'arch' | 'loss' | 'augment' | 'command'> {
  arch: string;
  loss: string;
  augment: string;
  json?: boolean;
}

/**
 * The options that make a GAN run. --steps may grow, --lr / --d-lr may change (e.g. lowered to get
 * past a divergence), and how often it samples, checkpoints and logs.
 */
const RUN_OPTIONS: RunOptionsSpec = {
  identity: ['arch', 'loss', 'data', 'batch', 'width', 'latent', 'limit', 'seed', 'ema', 'r1', 'gp', 'dSteps', 'beta1', 'beta2', 'augment'],
  mutable: ['steps', 'lr', 'dLr', 'sampleEvery', 'checkpointEvery', 'logEvery'],
  command: 'gan train',
  legacy: legacyConfig(['arch', 'loss', 'data']),
};

function trainCommand(): Command {
  return withBackend(new Command('train'))
    .description('train a DCGAN (or a class-conditional one) on 28×28 images')
    .addOption(new Option('--arch <name>', `architecture: ${GAN_ARCHS.join(', ')} (cgan: class-conditional DCGAN, projection discriminator)`).default('dcgan'))
    .option('--loss <name>', 'ns, minimax, hinge, ls (least squares) or wgan-gp', 'ns')
    .option('--data <name>', 'training images: mnist or fashion', 'mnist')
    .requiredOption('--out <dir>', 'run folder')
    .option('--steps <n>', 'generator updates in all (a resumed run continues up to this)', nonNegativeInt('--steps'), 5000)
    .option('--batch <n>', 'images per batch', positiveInt('--batch'), 64)
    .option('--width <n>', 'base width: 64 is the DCGAN of WORKLOADS.md, 32 a faster one', positiveInt('--width'), 64)
    .option('--latent <n>', 'latent size', positiveInt('--latent'), 100)
    .option('--limit <n>', 'train on the first n training images', positiveInt('--limit'))
    .option('--seed <n>', 'seed for weights, batches, z and augmentation', seedInt('--seed'), 0)
    .option('--ema <beta>', "decay of the EMA of the generator's weights (the saved generator); 0: none", fraction('--ema'), 0.999)
    .option('--r1 <gamma>', 'R1 penalty γ on real images (0: off)', nonNegativeNumber('--r1'), 0)
    .option('--gp <lambda>', `gradient penalty λ (default ${lossDefault('gpWeight')})`, nonNegativeNumber('--gp'))
    .option('--d-steps <n>', `discriminator updates per generator update (default ${lossDefault('dSteps')})`, positiveInt('--d-steps'))
    .option('--lr <x>', 'Adam learning rate', positiveNumber('--lr'), 2e-4)
    .option('--d-lr <x>', "the discriminator's learning rate (default --lr)", positiveNumber('--d-lr'))
    .option('--beta1 <x>', 'Adam β1', fraction('--beta1'), 0.5)
    .option('--beta2 <x>', 'Adam β2', fraction('--beta2'), 0.999)
    .option('--augment <list>', `DiffAugment on all images D sees: none, or a comma-separated list of ${AUGMENTATIONS.join(', ')}`, 'none')
    .option('--sample-every <n>', 'write a sample grid every n steps', positiveInt('--sample-every'), 500)
    .option('--checkpoint-every <n>', 'checkpoint every n steps', positiveInt('--checkpoint-every'), 500)
    .option('--log-every <n>', 'rewrite metrics.jsonl every n steps (it has one line per step)', positiveInt('--log-every'), 50)
    .option('--resume', 'continue the run in --out from its last checkpoint')
    .option('--json', 'print a JSON summary as the last line')
    .option('--quiet', 'no progress output')
    .action((flags: TrainFlags, cmd: Command) => train(flags, cmd));
}

async function train(flags: TrainFlags, cmd: Command): Promise<void> {
  resumeOptions(cmd, flags, RUN_OPTIONS); // a resumed run's options are its own, from config.json
  const arch = parseGanArch(flags.arch);
  const loss = parseLoss(flags.loss);
  const augment = parseAugment(flags.augment);
  parseDatasetName(flags.data);
  parseBackend(flags.backend);
  // A new, empty or own run folder, locked; a started run continues only with --resume.
  openRunFolder(flags.out, { command: 'gan train', started: hasRunConfig, legacy: RUN_OPTIONS.legacy, runName: 'a GAN run', resume: flags.resume });
  const backend = await startBackend(flags);
  const command = `advx ${process.argv.slice(2).join(' ')}`;
  const summary = await runGanTrain({ ...flags, arch, loss, augment, command }, flags, { backend });
  if (flags.json) printJson(summary);
}

interface SampleFlags extends BackendFlags, GanSampleOptions {
  json?: boolean;
}

function sampleCommand(): Command {
  return withBackend(new Command('sample'))
    .description('write a grid of samples (or latent interpolation strips) from a generator saved by `advx gan train`')
    .requiredOption('--model <dir>', 'the model/ folder of a gan train run')
    .option('--n <n>', 'images (with --interpolate: rows of --cols images)', positiveInt('--n'), 64)
    .option('--class <k>', 'class of every image (conditional generators; default: k mod classes)', nonNegativeInt('--class'))
    .option('--seed <n>', 'seed of z', seedInt('--seed'), 0)
    .option('--cols <n>', 'images per row (default √n, or 10 for --interpolate)', positiveInt('--cols'))
    .option('--interpolate', 'latent interpolation: --n rows, each a slerp between two random z')
    .requiredOption('--out <file>', 'PNG file to write')
    .option('--json', 'print a JSON summary as the last line')
    .action((flags: SampleFlags) => sample(flags));
}

async function sample(flags: SampleFlags): Promise<void> {
  parseBackend(flags.backend);
  checkOutFile(flags.out); // a PNG file, not a run folder
  await startBackend(flags);
  const { images, arch } = await runGanSample(flags);
  process.stderr.write(`wrote ${images} images to ${flags.out}\n`);
  if (flags.json) printJson({ out: flags.out, images, arch });
}

interface EvaluateFlags extends BackendFlags, GanEvaluateOptions {
  json?: boolean;
  quiet?: boolean;
}

function evaluateCommand(): Command {
  return withBackend(new Command('evaluate'))
    .description("FID, KID, precision/recall and class coverage of a generator's samples, on a classifier's penultimate features")
    .requiredOption('--model <dir>', 'the model/ folder of a gan train run')
    .option('--data <name>', 'real images to compare with (test split; default: the dataset it was trained on)')
    .option('--n <n>', 'generated and real images', positiveInt('--n'), 2000)
    .option('--classifier <dir>', 'classifier whose features are compared (default models/mnist-cnn or models/fashion-cnn)')
    .option('--seed <n>', 'seed of z', seedInt('--seed'), 0)
    .option('--json', 'print the metrics as JSON on the last line')
    .addOption(quietOption())
    .action((flags: EvaluateFlags) => evaluate(flags));
}

async function evaluate(flags: EvaluateFlags): Promise<void> {
  await startBackend(flags);
  const bar = progressCounter(`gan evaluate (${flags.n} images): phases`, flags.quiet);
  const { quiet: _quiet, ...options } = flags;
  const result = await runGanEvaluate({ ...options, onProgress: bar.update }).finally(() => bar.stop());
  if (flags.json) printJson(result);
  else process.stdout.write(`FID ${result.fid.toFixed(3)}  KID ${kidText(result.kid, result.kid_std, result.n)}  precision ${result.precision.toFixed(3)}  recall ${result.recall.toFixed(3)}  classes covered ${result.classes_covered}/${result.histogram.length}\n`);
}

/** KID ± its spread over subsets; with n ≤ 1000 the only subset is all the samples, and no spread is claimed. */
function kidText(kid: number, std: number | null, n: number): string {
  return std === null ? `${kid.toFixed(4)} (all ${n} samples in one subset: no spread)` : `${kid.toFixed(4)} ± ${std.toFixed(4)}`;
}

export function ganCommand(): Command {
  return new Command('gan')
    .description(COMMANDS.gan.summary)
    .addCommand(trainCommand())
    .addCommand(sampleCommand())
    .addCommand(evaluateCommand());
}
