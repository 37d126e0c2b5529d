/**
 * `advx adapt`: domain adaptation from a labelled source dataset to an unlabelled target one —
 * DANN, Deep CORAL, MMD, the source-only baseline, or fine-tuning on a few labelled target images —
 * with checkpoints and resume, metrics.jsonl, the model, and a report of the features' shift.
 */
import { Command, Option } from 'commander';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { AdvxError } from '../core/errors.ts';
import { ADAPTATION_METHODS, buildDannNetworks, checkDomains, dannFeatures, dannFeaturesBatchNorm, disposeOptimizer, trainDann, type AdaptationMethod, type DannNetworks } from '../da/dann.ts';
import { calibrateOn, domainAccuracies as accuracies, evaluateEachDomain } from '../da/evaluate.ts';
import { fineTune, headInputModel, keepHead, labelledPerClass, replaceHead } from '../da/finetune.ts';
import { selectLambda } from '../da/select-lambda.ts';
import type { DatasetSplits, ImageDataset } from '../data/types.ts';
import { toRgb } from '../data/mnistm.ts';
import { accuracy } from '../eval/accuracy.ts';
import { Classifier } from '../models/classifier.ts';
import { measureFeatures, readBaseline, writeAdaptReport, type AdaptSummary, type EpochRecord } from '../node/adapt-report.ts';
import { hasCheckpoint, loadCheckpoint, readRunConfig, saveCheckpoint } from '../node/checkpoint.ts';
import { loadDataset, parseDatasetName } from '../node/datasets.ts';
import { writeFileAtomic } from '../node/io.ts';
import { loadClassifier } from '../node/load-model.ts';
import { progress } from '../node/progress.ts';
import { legacyConfig, openRunFolder } from '../node/run-folder.ts';
import { parseBackend } from '../backend/index.ts';
import { MAX_BATCH, MAX_EPOCHS, numberList, precheckModel, nonNegativeInt, seedInt, nonNegativeNumber, positiveInt, positiveNumber, printJson, startBackend, withBackend, type BackendFlags } from './common.ts';
import { saveModel } from './train.ts';

const METHODS = [...ADAPTATION_METHODS, 'finetune'] as const;

interface AdaptFlags extends BackendFlags {
  method: (typeof METHODS)[number];
  source: string;
  target: string;
  epochs: number;
  batch: number;
  lr?: number;
  optimizer: 'sgd' | 'adam';
  batchNorm: 'none' | 'shared' | 'per-domain';
  lambda: number;
  seed: number;
  limit?: number;
  targetLimit?: number;
  testLimit?: number;
  targetLabels: number;
  headEpochs: number;
  finetuneEpochs: number;
  finetuneBatch: number;
  head: 'new' | 'keep' | 'auto';
  init?: string;
  selectLambda?: string;
  baseline?: string;
  embed: number;
  tsne: boolean;
  out: string;
  resume?: boolean;
  json?: boolean;
  quiet?: boolean;
}

/** What must match for --resume to continue a run rather than start another. */
const RUN_IDENTITY = ['method', 'source', 'target', 'batch', 'lr', 'optimizer', 'batchNorm', 'lambda', 'seed', 'limit', 'targetLimit', 'selectLambda'] as const;
/** And for finetune runs (other methods ignore these options). */
const FINETUNE_IDENTITY = ['targetLabels', 'headEpochs', 'finetuneEpochs', 'finetuneBatch', 'head', 'init'] as const;

export function adaptCommand(): Command {
  return withBackend(new Command('adapt'))
    .description('domain adaptation: train on labelled source images so the model works on unlabelled target images')
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
    .option('--baseline <dir>', 'an earlier adapt run to compare with in the report (e.g. the source-only one)')
    .option('--embed <n>', 'test images per domain in the feature pictures and A-distance', positiveInt('--embed', MAX_EMBED), 500)
    .option('--no-tsne', 'draw PCA only (t-SNE takes a few seconds per thousand points)')
    .requiredOption('--out <dir>', 'run folder')
    .option('--resume', 'continue the run in --out from its last checkpoint')
    .option('--json', 'print a JSON summary as the last line')
    .option('--quiet', 'no progress output')
    .action((flags: AdaptFlags) => adapt(flags));
}

/** t-SNE of 2·n points is quadratic in time and memory: 5000 per domain is already minutes. */
const MAX_EMBED = 5000;

/** --select-lambda: at least two distinct λ ≥ 0; an empty item ('0.1,1,') is refused, not read as λ = 0. */
function parseLambdas(list: string): number[] {
  return numberList('--select-lambda', list, { min: 2, distinct: true });
}

/** Checks the options, and the run folder's config when resuming. */
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
  const started = (dir: string) => existsSync(join(dir, 'config.json'));
  openRunFolder(flags.out, { command: 'adapt', started, legacy: legacyConfig(['method', 'source', 'target']), runName: 'an adapt run', resume: flags.resume });
  const configPath = join(flags.out, 'config.json');
  if (flags.resume && existsSync(configPath)) {
    const previous = readRunConfig(configPath);
    for (const key of [...RUN_IDENTITY, ...(flags.method === 'finetune' ? FINETUNE_IDENTITY : [])]) {
      if (previous[key] !== flags[key]) throw new AdvxError(`cannot resume ${flags.out}: it was started with --${key} ${previous[key]}, not ${flags[key]}`);
    }
  }
}

/** Grey images meet colour ones as grey copied to 3 channels (e.g. --source mnist --target mnist-m). */
function matchChannels(source: DatasetSplits, target: DatasetSplits, log: (line: string) => void): [DatasetSplits, DatasetSplits] {
  const rgb = (d: DatasetSplits): DatasetSplits => {
    log(`${d.train.name}: grey images copied to 3 channels to match the other domain`);
    return { train: toRgb(d.train, d.train.name), test: toRgb(d.test, d.test.name) };
  };
  const [cs, ct] = [source.train.shape[2], target.train.shape[2]];
  if (cs === 1 && ct === 3) return [rgb(source), target];
  if (cs === 3 && ct === 1) return [source, rgb(target)];
  return [source, target];
}

function classifierOf(model: tfl.LayersModel, data: ImageDataset): Classifier {
  return new Classifier((x) => model.apply(x) as tf.Tensor, { inputShape: [...data.shape], numClasses: data.numClasses, bounds: [0, 1], classNames: data.classNames });
}

async function adapt(flags: AdaptFlags): Promise<void> {
  // The default learning rate depends on the optimiser; resolved here so config.json records it.
  flags.lr ??= flags.optimizer === 'adam' ? 0.001 : 0.01;
  if (flags.init !== undefined && flags.method === 'finetune') await precheckModel(flags.init, flags.target, { flag: '--init', classes: false, shape: false }); // its files, before anything is written (grey data may become RGB: shape checked on load)
  checkFlags(flags);
  const backend = await startBackend(flags);
  const log = (line: string) => void (flags.quiet || process.stderr.write(line + '\n'));
  const limits = (train?: number) => ({ limit: { train, test: flags.testLimit } });
  const [source, target] = matchChannels(loadDataset(flags.source, limits(flags.limit)), loadDataset(flags.target, limits(flags.targetLimit)), log);
  checkDomains(source.train, target.train);
  // --target-labels beyond what a class holds would fail only after the source-only training.
  if (flags.method === 'finetune') labelledPerClass(target.train, flags.targetLabels, flags.seed);
  const { epochs: _e, resume: _r, json: _j, quiet: _q, ...config } = flags;
  writeFileAtomic(join(flags.out, 'config.json'), JSON.stringify({ ...config, backend }, null, 2));
  const command = `advx ${process.argv.slice(2).join(' ')}`;

  let summaryExtra: Partial<AdaptSummary> = {};
  let history: EpochRecord[];
  let model: tfl.LayersModel;
  let features: (x: tf.Tensor) => tf.Tensor;
  let networks: DannNetworks | undefined;
  if (flags.method === 'finetune') {
    ({ history, model, features, networks } = await runFineTune(flags, source, target, log));
  } else if (flags.selectLambda) {
    const method = flags.method;
    const train = (lambda: number) => runTraining(flags, method, lambda, join(flags.out, `lambda-${lambda}`), source, target, log);
    const best = await selectLambda(parseLambdas(flags.selectLambda), train, target.train, { onTrial: (t) => log(`λ = ${t.lambda}: SND ${t.snd.toFixed(4)}`) });
    log(`chose λ = ${best.lambda}`);
    ({ history, networks } = best.run);
    const tried = best.trials.map((t) => ({ lambda: t.lambda, snd: t.snd, target_accuracy: (t.run.history.at(-1)?.target_accuracy as number) ?? NaN }));
    summaryExtra = { lambda: best.lambda, lambda_selection: tried };
    model = networks.model;
    features = (x) => networks!.features.apply(x) as tf.Tensor;
  } else {
    ({ history, networks } = await runTraining(flags, flags.method, flags.lambda, flags.out, source, target, log));
    model = networks.model;
    features = (x) => networks!.features.apply(x) as tf.Tensor;
    if (flags.method !== 'source-only') summaryExtra = { lambda: flags.lambda };
  }

  const classifier = classifierOf(model, source.train);
  const info = { dataset: flags.target, classNames: target.train.classNames, inputShape: [...target.train.shape], numClasses: target.train.numClasses };
  await saveModel(model, join(flags.out, 'model'), info);
  const evaluated = networks
    ? await evaluateDomains(flags, networks, features, classifier, source, target)
    : {
        source_accuracy: await accuracy(classifier, source.test),
        target_accuracy: await accuracy(classifier, target.test),
        measured: await measureFeatures(features, source.test, target.test, { count: flags.embed, seed: flags.seed, tsne: flags.tsne }),
      };
  const { measured, ...accuracies } = evaluated;
  const summary: AdaptSummary = {
    method: flags.method,
    source: flags.source,
    target: flags.target,
    ...summaryExtra,
    ...accuracies,
    a_distance: measured.aDistance,
    domain_classifier_accuracy: measured.domainAccuracy,
  };
  const baseline = flags.baseline ? { dir: flags.baseline, ...readBaseline(flags.baseline) } : undefined;
  writeAdaptReport(flags.out, { summary, embedding: measured.embedding, history, command }, baseline);
  log(`source ${summary.source_accuracy.toFixed(4)}, target ${summary.target_accuracy.toFixed(4)}, A-distance ${summary.a_distance.toFixed(3)}; report: ${join(flags.out, 'report.html')}`);
  if (flags.json) printJson(summary);
  if (networks) networks.dispose();
  else model.dispose();
}

/**
 * Source and target test accuracy, A-distance and embeddings. With per-domain batch norm each domain
 * is evaluated, and its features taken, with its own statistics (da/evaluate.ts).
 */
async function evaluateDomains(
  flags: AdaptFlags,
  networks: DannNetworks,
  extract: (x: tf.Tensor) => tf.Tensor,
  classifier: Classifier,
  source: DatasetSplits,
  target: DatasetSplits,
) {
  const options = { count: flags.embed, seed: flags.seed, tsne: flags.tsne };
  if (flags.batchNorm !== 'per-domain') {
    return { ...(await domainAccuracies(flags, networks, classifier, source, target)), measured: await measureFeatures(extract, source.test, target.test, options) };
  }
  const n = Math.min(flags.embed, source.test.count, target.test.count);
  const { source: s, target: t } = await evaluateEachDomain(classifier, networks.features, extract, { source, target }, n);
  // The features are computed already: the measurement reads them as they are.
  const measured = await measureFeatures((f) => f, s.features, t.features, options);
  return { source_accuracy: s.accuracy, target_accuracy: t.accuracy, measured };
}

/** Source and target test accuracy, each domain under its own statistics when batch norm is per domain. */
async function domainAccuracies(flags: AdaptFlags, networks: DannNetworks, classifier: Classifier, source: DatasetSplits, target: DatasetSplits) {
  const a = await accuracies(classifier, source, target, flags.batchNorm === 'per-domain' ? networks.features : undefined);
  return { source_accuracy: a.source, target_accuracy: a.target };
}

/** Trains (or resumes, or reloads when finished) one DANN/CORAL/MMD/source-only run in `dir`. */
async function runTraining(
  flags: AdaptFlags,
  method: AdaptationMethod,
  lambda: number,
  dir: string,
  source: DatasetSplits,
  target: DatasetSplits,
  log: (line: string) => void,
): Promise<{ networks: DannNetworks; history: EpochRecord[] }> {
  const features = flags.batchNorm === 'none' ? dannFeatures : dannFeaturesBatchNorm;
  const networks = buildDannNetworks([...source.train.shape], source.train.numClasses, { method, seed: flags.seed, features });
  const learningRate = flags.lr!;
  const optimizer = flags.optimizer === 'adam' ? tf.train.adam(learningRate, 0.9, 0.999) : tf.train.momentum(learningRate, 0.9);
  let history: EpochRecord[] = [];
  let startEpoch = 0;
  if (flags.resume && hasCheckpoint(dir)) {
    const state = await loadCheckpoint(dir, networks.all, optimizer);
    startEpoch = state.epoch;
    history = (state.history as EpochRecord[]) ?? [];
    log(`resuming ${dir} after epoch ${startEpoch}`);
  }
  const classifier = classifierOf(networks.model, source.train);
  const stepsPerEpoch = Math.ceil(source.train.count / flags.batch);
  let bar: ReturnType<typeof progress> | undefined;
  try {
    await trainDann(source.train, target.train, {
      method,
      epochs: flags.epochs,
      batchSize: flags.batch,
      learningRate,
      perDomainBatchNorm: flags.batchNorm === 'per-domain',
      lambda,
      seed: flags.seed,
      networks,
      optimizer,
      startEpoch,
      onBatch: (b) => {
        bar ??= progress(`${method} epoch ${b.epoch + 1}/${flags.epochs}`, stepsPerEpoch, flags.quiet);
        bar.update(b.step, { loss: b.labelLoss, acc: b.labelAccuracy, ...(Number.isNaN(b.domainAccuracy) ? {} : { dacc: b.domainAccuracy }) });
        if (b.step === b.stepsPerEpoch) {
          bar.stop();
          bar = undefined;
        }
      },
      onEpoch: async (e) => {
        const record: EpochRecord = {
          epoch: e.epoch,
          phase: 'train',
          label_loss: e.labelLoss,
          label_accuracy: e.labelAccuracy,
          domain_loss: Number.isFinite(e.domainLoss) ? e.domainLoss : null,
          domain_accuracy: Number.isFinite(e.domainAccuracy) ? e.domainAccuracy : null,
          lambda: e.lambda,
          learning_rate: e.learningRate,
          seconds: e.seconds,
          ...(await domainAccuracies(flags, networks, classifier, source, target)),
        };
        history.push(record);
        // Checkpoint first, then metrics: resume rewrites the metrics from the checkpoint's history.
        await saveCheckpoint(dir, networks.all, optimizer, { epoch: e.epoch, history });
        writeFileAtomic(join(dir, 'metrics.jsonl'), history.map((h) => JSON.stringify(h)).join('\n') + '\n');
        log(`epoch ${e.epoch}: source acc ${(record.source_accuracy as number).toFixed(4)}, target acc ${(record.target_accuracy as number).toFixed(4)} (${e.seconds.toFixed(1)} s)`);
      },
    });
  } catch (err) {
    networks.dispose();
    throw err;
  } finally {
    disposeOptimizer(optimizer);
  }
  return { networks, history };
}

/**
 * Fine-tuning: a pretrained model (--init, or a source-only run trained here first, with its own
 * checkpoints) gets a new head and is fine-tuned on --target-labels labelled images per class.
 * The fine-tuning itself is short and is redone on resume.
 */
async function runFineTune(
  flags: AdaptFlags,
  source: DatasetSplits,
  target: DatasetSplits,
  log: (line: string) => void,
): Promise<{ history: EpochRecord[]; model: tfl.LayersModel; features: (x: tf.Tensor) => tf.Tensor; networks?: DannNetworks }> {
  let pretrained: tfl.LayersModel;
  let networks: DannNetworks | undefined;
  let history: EpochRecord[] = [];
  if (flags.init) {
    const loaded = await loadClassifier(flags.init);
    if (!loaded.layers) throw new AdvxError(`--init ${flags.init}: not a LayersModel (a GraphModel cannot be fine-tuned)`);
    const want = target.train.shape.join('×');
    if (loaded.classifier.info.inputShape.join('×') !== want) {
      loaded.layers.dispose();
      throw new AdvxError(`--init ${flags.init} expects inputs of shape ${loaded.classifier.info.inputShape.join('×')}, but ${flags.target} images are ${want}`);
    }
    pretrained = loaded.layers;
  } else {
    ({ networks, history } = await runTraining(flags, 'source-only', 0, join(flags.out, 'source-only'), source, target, log));
    pretrained = networks.model;
    // The body normalises with the target's statistics while the head learns (fineTune keeps
    // batch norm in inference mode); evaluateDomains later gives each domain its own.
    if (flags.batchNorm === 'per-domain') calibrateOn(networks.features, target.train);
  }
  // With the source's classes, the trained head is worth keeping: on MNIST → MNIST-M with 10
  // labels per class, a new head learnt from them is no better than the source-only model, the
  // kept one gains (RESULTS.md, domain adaptation).
  const outputs = pretrained.outputs[0].shape[1];
  const keep = flags.head === 'keep' || (flags.head === 'auto' && outputs === target.train.numClasses);
  const model = keep ? keepHead(pretrained) : replaceHead(pretrained, target.train.numClasses, flags.seed + 1);
  const labelled = labelledPerClass(target.train, flags.targetLabels, flags.seed);
  log(`fine-tuning ${keep ? 'the trained head' : 'a new head'} on ${labelled.count} labelled ${flags.target} images`);
  const tuned = await fineTune(model, labelled, {
    headEpochs: flags.headEpochs,
    epochs: flags.finetuneEpochs,
    batchSize: Math.min(flags.finetuneBatch, labelled.count),
    seed: flags.seed,
  });
  const offset = history.length;
  for (const t of tuned) history.push({ epoch: offset + t.epoch, phase: `finetune-${t.phase}`, loss: t.loss, label_accuracy: t.accuracy, seconds: t.seconds });
  writeFileAtomic(join(flags.out, 'metrics.jsonl'), history.map((h) => JSON.stringify(h)).join('\n') + '\n');
  // The features the report compares: what the head reads.
  const body = headInputModel(model);
  return { history, model, features: (x) => body.apply(x) as tf.Tensor, networks };
}
