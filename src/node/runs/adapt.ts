/**
 * A domain adaptation run of `advx adapt`: from a labelled source dataset to an unlabelled target
 * one — an alignment method of src/da/strategies.ts (DANN, CDAN, Deep CORAL, MMD, source-only),
 * optionally with λ chosen by SND, or fine-tuning on a few labelled target images — checkpointed
 * and resumable, ending with the model, metrics.jsonl, results.json and a report of the features'
 * shift.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { join } from 'node:path';
import { AdvxError } from '../../core/errors.ts';
import { buildDannNetworks, checkDomains, dannFeatures, dannFeaturesBatchNorm, trainDann, type AdaptationMethod, type DannNetworks } from '../../da/dann.ts';
import { disposeOptimizer } from '../../train/core.ts';
import { calibrateOn, domainAccuracies as accuracies, evaluateEachDomain, type DomainAccuracies } from '../../da/evaluate.ts';
import { fineTune, headInputModel, keepHead, labelledPerClass, replaceHead } from '../../da/finetune.ts';
import { selectLambda } from '../../da/select-lambda.ts';
import type { DatasetSplits, ImageDataset } from '../../data/types.ts';
import { toRgb } from '../../data/mnistm.ts';
import { accuracy } from '../../eval/accuracy.ts';
import { Classifier } from '../../models/classifier.ts';
import { measureFeatures, readBaseline, writeAdaptReport, type AdaptSummary, type EpochRecord } from './adapt-report.ts';
import { loadDataset } from '../datasets/index.ts';
import { loadCheckpoint } from '../io/checkpoint.ts';
import { loadClassifier } from '../io/load-model.ts';
import { saveModel } from '../io/model-files.ts';
import { progress } from '../io/progress.ts';
import { writeRunConfig } from './options.ts';
import { TrainingRun } from './training-run.ts';

/** The alignment methods and fine-tuning. */
export type AdaptMethodName = AdaptationMethod | 'finetune';

/** What an adapt run is made of (the options of `advx adapt`, checked). */
export interface AdaptRunOptions {
  method: AdaptMethodName;
  source: string;
  target: string;
  epochs: number;
  batch: number;
  lr: number;
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
  /** λ candidates, chosen among by SND. */
  selectLambda?: number[];
  baseline?: string;
  embed: number;
  tsne: boolean;
  out: string;
  resume?: boolean;
  quiet?: boolean;
  /** The command line, shown in the report. */
  command: string;
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

export async function runAdapt(flags: AdaptRunOptions, config: object, extra: Record<string, unknown>): Promise<AdaptSummary> {
  const log = (line: string) => void (flags.quiet || process.stderr.write(line + '\n'));
  const limits = (train?: number) => ({ limit: { train, test: flags.testLimit } });
  const [source, target] = matchChannels(loadDataset(flags.source, limits(flags.limit)), loadDataset(flags.target, limits(flags.targetLimit)), log);
  checkDomains(source.train, target.train);
  // --target-labels beyond what a class holds would fail only after the source-only training.
  if (flags.method === 'finetune') labelledPerClass(target.train, flags.targetLabels, flags.seed);
  writeRunConfig(flags.out, config, extra);

  let summaryExtra: Partial<AdaptSummary> = {};
  let history: EpochRecord[];
  let model: tfl.LayersModel;
  let features: (x: tf.Tensor) => tf.Tensor;
  let networks: DannNetworks | undefined;
  if (flags.method === 'finetune') {
    let before: AdaptSummary['per_class_accuracy'];
    ({ history, model, features, networks, before } = await runFineTune(flags, source, target, log));
    if (before) summaryExtra = { per_class_accuracy_before: before };
  } else if (flags.selectLambda) {
    const method = flags.method;
    const train = (lambda: number) => runTraining(flags, method, lambda, join(flags.out, `lambda-${lambda}`), source, target, log);
    const best = await selectLambda(flags.selectLambda, train, target.train, { onTrial: (t) => log(`λ = ${t.lambda}: SND ${t.snd.toFixed(4)}`) });
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
        ...summaryAccuracies(await accuracies(classifier, source, target)),
        measured: await measureFeatures(features, source.test, target.test, { count: flags.embed, seed: flags.seed, tsne: flags.tsne }),
      };
  const { measured, per_class_accuracy, ...overall } = evaluated;
  const summary: AdaptSummary = {
    method: flags.method,
    source: flags.source,
    target: flags.target,
    ...summaryExtra,
    ...overall,
    a_distance: measured.aDistance,
    domain_classifier_accuracy: measured.domainAccuracy,
    per_class_accuracy,
  };
  const baseline = flags.baseline ? { dir: flags.baseline, ...readBaseline(flags.baseline) } : undefined;
  writeAdaptReport(flags.out, { summary, embedding: measured.embedding, history, command: flags.command, source: source.test, target: target.test }, baseline);
  log(`source ${summary.source_accuracy.toFixed(4)}, target ${summary.target_accuracy.toFixed(4)}, A-distance ${summary.a_distance.toFixed(3)}; report: ${join(flags.out, 'report.html')}`);
  if (networks) networks.dispose();
  else model.dispose();
  return summary;
}

/**
 * Source and target test accuracy, A-distance and embeddings. With per-domain batch norm each domain
 * is evaluated, and its features taken, with its own statistics (da/evaluate.ts).
 */
async function evaluateDomains(
  flags: AdaptRunOptions,
  networks: DannNetworks,
  extract: (x: tf.Tensor) => tf.Tensor,
  classifier: Classifier,
  source: DatasetSplits,
  target: DatasetSplits,
) {
  const options = { count: flags.embed, seed: flags.seed, tsne: flags.tsne };
  if (flags.batchNorm !== 'per-domain') {
    return { ...summaryAccuracies(await accuracies(classifier, source, target)), measured: await measureFeatures(extract, source.test, target.test, options) };
  }
  const n = Math.min(flags.embed, source.test.count, target.test.count);
  const { source: s, target: t } = await evaluateEachDomain(classifier, networks.features, extract, { source, target }, n);
  // The features are computed already: the measurement reads them as they are.
  const measured = await measureFeatures((f) => f, s.features, t.features, options);
  return { ...summaryAccuracies({ source: s, target: t }), measured };
}

/** The summary's fields for the accuracies of both domains. */
function summaryAccuracies(a: DomainAccuracies) {
  return { source_accuracy: a.source.accuracy, target_accuracy: a.target.accuracy, per_class_accuracy: { source: a.source.perClass, target: a.target.perClass } };
}

/** Source and target test accuracy (a metrics row's), each domain under its own statistics when batch norm is per domain. */
async function domainAccuracies(flags: AdaptRunOptions, networks: DannNetworks, classifier: Classifier, source: DatasetSplits, target: DatasetSplits) {
  const a = await accuracies(classifier, source, target, flags.batchNorm === 'per-domain' ? networks.features : undefined);
  return { source_accuracy: a.source.accuracy, target_accuracy: a.target.accuracy };
}

/** The networks of a run of `method` with these options, initialised from --seed. */
function buildNetworks(flags: AdaptRunOptions, method: AdaptationMethod, source: DatasetSplits): DannNetworks {
  const features = flags.batchNorm === 'none' ? dannFeatures : dannFeaturesBatchNorm;
  return buildDannNetworks([...source.train.shape], source.train.numClasses, { method, seed: flags.seed, features });
}

function buildOptimizer(flags: AdaptRunOptions): tf.Optimizer {
  return flags.optimizer === 'adam' ? tf.train.adam(flags.lr, 0.9, 0.999) : tf.train.momentum(flags.lr, 0.9);
}

/**
 * The options that make a source-only network: a finetune run reuses a --baseline source-only run
 * as its pretrained network only when the baseline was made with the same values of these (the
 * target's and the test limit too: the source phase's metrics rows measure them).
 */
export const SOURCE_NETWORK_OPTIONS = ['source', 'target', 'limit', 'targetLimit', 'testLimit', 'epochs', 'batch', 'lr', 'optimizer', 'batchNorm', 'seed'] as const;

/** Whether a finetune run takes its pretrained network from its --baseline: a source-only run, and no --init. */
export function reusesBaseline(flags: Pick<AdaptRunOptions, 'method' | 'init' | 'baseline'>): boolean {
  return flags.method === 'finetune' && flags.init === undefined && flags.baseline !== undefined && readBaseline(flags.baseline).summary.method === 'source-only';
}

/**
 * The source-only network of a finished --baseline run, read from its last checkpoint (weights and
 * batch-norm statistics as its training left them, before the run's evaluation recalibrated them),
 * with its metrics rows: what training it here would give, since a run with the same options and
 * seed trains the same network byte for byte. The baseline's folder is only read.
 */
async function reuseSourceOnly(flags: AdaptRunOptions, dir: string, source: DatasetSplits): Promise<{ networks: DannNetworks; history: EpochRecord[] }> {
  const networks = buildNetworks(flags, 'source-only', source);
  const optimizer = buildOptimizer(flags);
  try {
    const state = await loadCheckpoint(dir, networks.all, optimizer);
    if (state.epoch !== flags.epochs) throw new AdvxError(`--baseline ${dir}: its checkpoint is at epoch ${state.epoch}, not ${flags.epochs}: finish it with \`advx adapt --out ${dir} --resume\` first`);
    const history = Array.isArray(state.history) ? (state.history as EpochRecord[]) : new TrainingRun<EpochRecord>(dir).readMetrics(state.epoch);
    return { networks, history };
  } catch (err) {
    networks.dispose();
    throw err;
  } finally {
    disposeOptimizer(optimizer);
  }
}

/** Trains (or resumes, or reloads when finished) one DANN/CORAL/MMD/source-only run in `dir`. */
async function runTraining(
  flags: AdaptRunOptions,
  method: AdaptationMethod,
  lambda: number,
  dir: string,
  source: DatasetSplits,
  target: DatasetSplits,
  log: (line: string) => void,
): Promise<{ networks: DannNetworks; history: EpochRecord[] }> {
  const networks = buildNetworks(flags, method, source);
  const learningRate = flags.lr!;
  const optimizer = buildOptimizer(flags);
  const run = new TrainingRun<EpochRecord>(dir);
  const resumed = flags.resume ? await run.restore(networks.all, optimizer) : undefined;
  const history = resumed?.history ?? [];
  const startEpoch = resumed?.position ?? 0;
  if (resumed) log(`resuming ${dir} after epoch ${startEpoch}`);
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
        await run.checkpoint(networks.all, optimizer, e.epoch, history);
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
 * Fine-tuning: a pretrained model (--init, a --baseline source-only run's network, or a
 * source-only run trained here first, with its own checkpoints) gets a new head and is fine-tuned on --target-labels labelled images per class.
 * The fine-tuning itself is short and is redone on resume.
 */
async function runFineTune(
  flags: AdaptRunOptions,
  source: DatasetSplits,
  target: DatasetSplits,
  log: (line: string) => void,
): Promise<{ history: EpochRecord[]; model: tfl.LayersModel; features: (x: tf.Tensor) => tf.Tensor; networks?: DannNetworks; before?: AdaptSummary['per_class_accuracy'] }> {
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
    if (reusesBaseline(flags)) {
      log(`reusing the source-only network of --baseline ${flags.baseline} (not trained again)`);
      ({ networks, history } = await reuseSourceOnly(flags, flags.baseline!, source));
    } else {
      ({ networks, history } = await runTraining(flags, 'source-only', 0, join(flags.out, 'source-only'), source, target, log));
    }
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
  // Per class before fine-tuning, where the head (so the classes) is the pretrained one's.
  const before = keep ? summaryAccuracies(await accuracies(classifierOf(pretrained, source.train), source, target, flags.batchNorm === 'per-domain' ? networks?.features : undefined)).per_class_accuracy : undefined;
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
  // Redone on resume, so its rows follow the source-only run's in the run's own metrics.jsonl.
  new TrainingRun<EpochRecord>(flags.out).writeMetrics(history);
  // The features the report compares: what the head reads.
  const body = headInputModel(model);
  return { history, model, features: (x) => body.apply(x) as tf.Tensor, networks, before };
}
