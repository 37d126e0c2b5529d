/** Options and helpers shared by the CLI's commands. */
import * as tf from '@tensorflow/tfjs-core';
import { Command, Option } from 'commander';
import { AdvxError } from '../core/errors.ts';
import { BACKENDS, parseBackend, useBackend, type BackendName } from '../backend/index.ts';
import type { Classifier } from '../models/classifier.ts';
import { subset, type ImageDataset } from '../data/types.ts';
import { FASHION_MNIST_CLASSES, loadDataset, MNIST_CLASSES, parseDatasetName } from '../node/datasets/index.ts';
import { inspectModel, loadClassifier } from '../node/io/load-model.ts';
import { imageTarget, isDataPath, loadUserData, resolveLabels, scanUserData, userDataShape } from '../node/datasets/image-folder.ts';
import type { ClassifierInfo } from '../models/classifier.ts';
import { isRemoteModel, REMOTE_PROTOCOLS, RemoteModel, type RemoteOutputs, type RemoteProtocol } from '../models/remote.ts';
import { UnsupportedOnnxOp } from '../models/onnx/ops.ts';
import { OnnxRuntimeModel, requireOnnxRuntime } from '../node/io/onnx-runtime.ts';

export interface BackendFlags {
  backend: string;
  threads?: number;
}

/** Adds --backend and --threads to a command. */
export function withBackend(cmd: Command): Command {
  return cmd
    .addOption(new Option('--backend <name>', `TF.js backend: ${BACKENDS.join(', ')}`).default('wasm'))
    .addOption(new Option('--threads <n>', 'threads for the wasm backend (default: all cores)').argParser(positiveInt('--threads', MAX_THREADS)));
}

export async function startBackend(flags: BackendFlags): Promise<BackendName> {
  const name = parseBackend(flags.backend);
  await useBackend(name, { threads: flags.threads });
  return name;
}

/**
 * The number of a flag's value, or NaN for a value that is none: Number('') and Number('  ')
 * are 0, which would make `--eps ''` an ε of 0.
 */
function numberOf(v: string): number {
  return typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
}

/** Seeds are 32-bit (Rng takes seed >>> 0): 2³² would silently be seed 0. */
export const MAX_SEED = 2 ** 32 - 1;

/**
 * Upper bounds of size options (counts, batches, steps, scales): a value past them is a typo or a
 * request no machine can serve, and would otherwise end in a RangeError or out of memory hours in.
 */
export const MAX_SIZE = 1_000_000; // counts, images: more than any dataset here holds
export const MAX_THREADS = 256;
export const MAX_BATCH = 65_536;
/** Iterations of an attack, restarts, EOT samples. */
export const MAX_STEPS = 100_000;
export const MAX_EPOCHS = 100_000;

function atMost(flag: string, max: number, n: number, v: string): number {
  if (n > max) throw new AdvxError(`${flag} must be at most ${max}, got ${JSON.stringify(v)}`);
  return n;
}

/** A positive integer, at most `max`. */
export function positiveInt(flag: string, max = MAX_SIZE) {
  return (v: string): number => {
    const n = numberOf(v);
    if (!Number.isSafeInteger(n) || n <= 0) throw new AdvxError(`${flag} must be a positive integer, got ${JSON.stringify(v)}`);
    return atMost(flag, max, n, v);
  };
}

/** A non-negative integer, at most `max` (seeds: seedInt). */
export function nonNegativeInt(flag: string, max = MAX_SIZE) {
  return (v: string): number => {
    const n = numberOf(v);
    if (!Number.isSafeInteger(n) || n < 0) throw new AdvxError(`${flag} must be a non-negative integer, got ${JSON.stringify(v)}`);
    return atMost(flag, max, n, v);
  };
}

/** The items of a comma-separated list, trimmed; an empty item ('0.1,', 'a,,b') is refused, not skipped. */
export function listItems(flag: string, list: string): string[] {
  const items = list.split(',').map((s) => s.trim());
  const empty = items.findIndex((s) => s === '');
  if (empty >= 0) throw new AdvxError(`${flag}: item ${empty + 1} of ${JSON.stringify(list)} is empty`);
  return items;
}

const COUNT_WORDS = ['no', 'one', 'two', 'three', 'four'];

/**
 * A comma-separated list of non-negative numbers ('0,0.1,0.3'): an empty item is refused, not read
 * as 0; with `distinct`, so is a value listed twice.
 */
export function numberList(flag: string, list: string, options: { min?: number; distinct?: boolean } = {}): number[] {
  const items = listItems(flag, list);
  const values = items.map((s) => numberOf(s));
  const bad = values.findIndex((v) => !Number.isFinite(v) || v < 0);
  if (bad >= 0) throw new AdvxError(`${flag}: ${JSON.stringify(items[bad])} is not a non-negative number`);
  const twice = values.findIndex((v, i) => values.indexOf(v) !== i);
  if (options.distinct && twice >= 0) throw new AdvxError(`${flag}: ${JSON.stringify(items[twice])} is listed twice`);
  if (options.min !== undefined && values.length < options.min) {
    throw new AdvxError(`${flag} must list at least ${COUNT_WORDS[options.min] ?? options.min} numbers ≥ 0, e.g. 0.1,0.3,1; got ${JSON.stringify(list)}`);
  }
  return values;
}

/** A comma-separated list of paths (models): empty items and repeats refused. */
export function pathList(flag: string, list: string, options: { min?: number } = {}): string[] {
  const items = listItems(flag, list);
  const twice = items.findIndex((v, i) => items.indexOf(v) !== i);
  if (twice >= 0) throw new AdvxError(`${flag}: ${items[twice]} is listed twice`);
  if (options.min !== undefined && items.length < options.min) throw new AdvxError(`${flag} needs at least ${options.min} comma-separated models, got ${items.length}`);
  return items;
}

/** A seed: an integer in [0, 2³² − 1]. */
export function seedInt(flag = '--seed') {
  return (v: string): number => {
    const n = numberOf(v);
    if (!Number.isSafeInteger(n) || n < 0 || n > MAX_SEED) throw new AdvxError(`${flag} must be an integer in [0, ${MAX_SEED}], got ${JSON.stringify(v)}`);
    return n;
  };
}

export function positiveNumber(flag: string) {
  return (v: string): number => {
    const n = numberOf(v);
    if (!Number.isFinite(n) || n <= 0) throw new AdvxError(`${flag} must be a positive number, got ${JSON.stringify(v)}`);
    return n;
  };
}

export function nonNegativeNumber(flag: string) {
  return (v: string): number => {
    const n = numberOf(v);
    if (!Number.isFinite(n) || n < 0) throw new AdvxError(`${flag} must be a non-negative number, got ${JSON.stringify(v)}`);
    return n;
  };
}

/** Help of every --data option that takes a built-in name or the user's own files. */
export const DATA_HELP = 'dataset: a built-in name (mnist, fashion-mnist, mnist-m, mnist-rgb, synth-digits) or a PATH: a folder of class folders of .png/.jpg images, a flat folder of images (labelled by the model\'s predictions), a CSV of path,label rows, or a folder with x.npy and y.npy';

/** Prints the final JSON line of a command run with --json. */
export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value) + '\n');
}

export function parseNorm(norm: string): 'linf' | 'l2' {
  if (norm !== 'linf' && norm !== 'l2') throw new AdvxError(`--norm must be linf or l2, got "${norm}"`);
  return norm;
}

/** The class names of a dataset named in advx.json, when it is one advx knows. */
function classNamesOf(dataset: string): string[] | undefined {
  if (dataset === 'fashion' || dataset === 'fashion-mnist') return FASHION_MNIST_CLASSES;
  if (['mnist', 'mnist-m', 'mnist-rgb', 'synth-digits'].includes(dataset)) return MNIST_CLASSES;
  return undefined;
}

const canonicalDataset = (name: string) => (name === 'fashion' ? 'fashion-mnist' : name);

/**
 * Refuses a model on a dataset whose labels mean other things than the ones it was trained on
 * (a Fashion-MNIST model on MNIST digits: same shapes, meaningless accuracy); warns on a dataset of
 * the same classes from another domain (a digit model on MNIST-M), a legitimate measurement.
 */
export function checkModelDataset(modelPath: string, info: Partial<ClassifierInfo>, dataName: string, options: { warn?: boolean } = {}): void {
  const data = canonicalDataset(parseDatasetName(dataName));
  const trained = info.dataset === undefined ? undefined : canonicalDataset(info.dataset);
  const modelClasses = info.classNames ?? (trained ? classNamesOf(trained) : undefined);
  const dataClasses = classNamesOf(data);
  const short = (names: string[]) => (names.length > 4 ? `${names.slice(0, 3).join(', ')}, …` : names.join(', '));
  // Only a model that names its dataset is checked: without one, advx cannot know what its labels mean.
  if (trained && trained !== data && modelClasses && dataClasses && modelClasses.join('\n') !== dataClasses.join('\n')) {
    throw new AdvxError(
      `${modelPath} was trained on ${trained} (classes ${short(modelClasses)}), not on ${dataName} (classes ${short(dataClasses)}): its accuracy there would mean nothing; pass --data ${trained}`,
    );
  }
  if (trained && trained !== data && options.warn !== false) process.stderr.write(`warning: ${modelPath} was trained on ${trained}; on ${dataName} it is measured across a domain shift\n`);
}

/** Image shapes of the datasets advx knows (src/node/datasets/index.ts, mnistm.ts, synth-digits.ts). */
const DATASET_SHAPES: Record<string, readonly number[]> = {
  mnist: [28, 28, 1],
  'fashion-mnist': [28, 28, 1],
  'mnist-m': [28, 28, 3],
  'mnist-rgb': [28, 28, 3],
  'synth-digits': [28, 28, 3],
};

/**
 * What can be refused of a model and a dataset before any work (no backend, no data loaded, nothing
 * written): the model's files (model.json, weights' size, advx.json), classes that are not the
 * dataset's, an input shape that is not its images'. `flag` prefixes the path in messages
 * ('--distill-from'); loadModelAndData checks all again once loaded.
 */
export async function precheckModel(modelPath: string, dataName: string, options: { flag?: string; classes?: boolean; shape?: boolean } = {}): Promise<void> {
  const named = options.flag ? `${options.flag} ${modelPath}` : modelPath;
  const { info, inputShape } = await inspectModel(modelPath);
  if (isDataPath(dataName)) return precheckUserData(named, info, inputShape, dataName, options);
  if (options.classes !== false) checkModelDataset(named, info, dataName, { warn: false });
  const want = DATASET_SHAPES[canonicalDataset(parseDatasetName(dataName))];
  if (options.shape !== false && inputShape && want && inputShape.join('×') !== want.join('×')) {
    throw new AdvxError(`${named} expects inputs of shape ${inputShape.join('×')}, but ${dataName} images are ${want.join('×')}`);
  }
}

/** A --data PATH: its files listed, its classes among the model's, the model's input images. */
function precheckUserData(named: string, info: Partial<ClassifierInfo>, inputShape: number[] | undefined, dataPath: string, options: { classes?: boolean; shape?: boolean }): void {
  const source = scanUserData(dataPath);
  if (options.shape !== false) imageTarget(inputShape ?? info.inputShape, named);
  const numClasses = info.numClasses ?? info.classNames?.length;
  if (options.classes !== false && source.kind !== 'npy' && source.kind !== 'flat' && numClasses !== undefined) resolveLabels(source, { numClasses, classNames: info.classNames });
}

/** What a command's JSON says of its labels: nothing when the data has its own. */
export type LabelsNote = { labels: 'model predictions' } | Record<string, never>;

export interface ModelAndData<M = Classifier> {
  classifier: M;
  data: ImageDataset;
  /** Spread into the command's JSON: {labels: 'model predictions'} when the data had none. */
  labelsNote: LabelsNote;
}

const notedUnlabeled = new Set<string>();

/**
 * A --data PATH fitted to the model. Images without labels are labelled with the model's own
 * predictions (clean accuracy 100% by construction, robustness still measured), said on stderr.
 */
async function loadUserModelData<M extends Classifier | RemoteModel | OnnxRuntimeModel>(modelPath: string, classifier: M, dataPath: string, limit?: number): Promise<ModelAndData<M>> {
  const { inputShape, numClasses } = classifier.info;
  const classNames = classifier instanceof RemoteModel ? undefined : classifier.info.classNames;
  const shape = imageTarget(inputShape, modelPath);
  const { data, labeled } = loadUserData(dataPath, { shape, numClasses, classNames }, limit);
  if (labeled) return { classifier, data, labelsNote: {} };
  const x = tf.tensor4d(data.images, [data.count, ...shape]);
  const predicted = classifier instanceof RemoteModel ? await classifier.label(x) : await classifier.predict(x);
  x.dispose();
  // Said once per process, also when several models (transfer) load the same data.
  if (!notedUnlabeled.has(dataPath)) process.stderr.write(`note: ${dataPath} has no labels (no class folders, no y.npy): the model's own predictions are used as labels\n`);
  notedUnlabeled.add(dataPath);
  return { classifier, data: { ...data, labels: Uint8Array.from(predicted) }, labelsNote: { labels: 'model predictions' } };
}

/**
 * Loads a model and the first `limit` images of a dataset split (or of a --data PATH), checking
 * that they fit together; `override` overrides advx.json, as loadClassifier's.
 */
export async function loadModelAndData(modelPath: string, dataName: string, split: 'train' | 'test', limit?: number, override: Partial<ClassifierInfo> = {}): Promise<ModelAndData> {
  const { classifier } = await loadClassifier(modelPath, override);
  return fitModelData(modelPath, classifier, dataName, split, limit);
}

/** The first `limit` images of a dataset split (or of a --data PATH) for the model at `modelPath`, checked against it. */
async function fitModelData<M extends Classifier | OnnxRuntimeModel>(modelPath: string, classifier: M, dataName: string, split: 'train' | 'test', limit?: number): Promise<ModelAndData<M>> {
  // A PATH has no splits: its images are the test split, and the training split when asked.
  if (isDataPath(dataName)) return loadUserModelData(modelPath, classifier, dataName, limit);
  checkModelDataset(modelPath, classifier.info, dataName);
  let data = loadDataset(dataName)[split];
  if (limit) data = subset(data, 0, Math.min(limit, data.count));
  const want = classifier.info.inputShape.join('×');
  if (want !== data.shape.join('×')) {
    throw new AdvxError(`${modelPath} expects inputs of shape ${want}, but ${dataName} images are ${data.shape.join('×')}`);
  }
  return { classifier, data, labelsNote: {} };
}

/** What runs an .onnx --model: advx's importer (TF.js ops, gradients) or ONNX Runtime (forward passes only). */
export const RUNTIMES = ['tfjs', 'onnxruntime'] as const;
export type Runtime = (typeof RUNTIMES)[number];

export interface ModelFlags {
  runtime: Runtime;
  output?: string;
}

function parseRuntime(v: string): Runtime {
  if (!(RUNTIMES as readonly string[]).includes(v)) throw new AdvxError(`--runtime must be ${RUNTIMES.join(' or ')}, got ${JSON.stringify(v)}`);
  return v as Runtime;
}

/** Adds --runtime and --output, for a command that needs only a model's forward pass. */
export function withRuntime(cmd: Command): Command {
  return cmd
    .addOption(new Option('--runtime <name>', "what runs an .onnx --model: tfjs (advx's importer: gradients, every attack) or onnxruntime (onnxruntime-node: forward passes, any op; score- and decision-based attacks)").argParser(parseRuntime).default('tfjs'))
    .option('--output <name>', "which output of a model with several is the class vector (overrides advx.json's outputName)");
}

/** --runtime and --output, checked before any work: onnxruntime runs an .onnx file, and must be installed. */
export async function checkRuntimeFlags(model: string, flags: ModelFlags): Promise<void> {
  if (flags.output !== undefined && isRemoteModel(model)) throw new AdvxError(`--output names an output of a model on disk, not of ${model}`);
  if (flags.runtime !== 'onnxruntime') return;
  if (isRemoteModel(model) || !model.endsWith('.onnx')) throw new AdvxError(`--runtime onnxruntime runs an .onnx --model, not ${model}`);
  await requireOnnxRuntime();
}

/**
 * A model on disk for its forward pass only (evaluate, score- and decision-based attacks) and its
 * data: the importer's Classifier, or with --runtime onnxruntime the .onnx file run by ONNX Runtime.
 * An op the importer lacks is refused with the way around it.
 */
export async function loadForwardModelAndData(modelPath: string, flags: ModelFlags & { threads?: number }, dataName: string, split: 'train' | 'test', limit?: number): Promise<ModelAndData<Classifier | OnnxRuntimeModel>> {
  const override = { outputName: flags.output };
  if (flags.runtime === 'onnxruntime') return fitModelData(modelPath, await OnnxRuntimeModel.open(modelPath, { override, threads: flags.threads }), dataName, split, limit);
  try {
    return await loadModelAndData(modelPath, dataName, split, limit, override);
  } catch (e) {
    if (e instanceof UnsupportedOnnxOp) throw new AdvxError(`${e.message}: --runtime onnxruntime runs the file as a black box (evaluate, score- and decision-based attacks)`);
    throw e;
  }
}

export interface RemoteFlags {
  protocol?: string;
  labelsOnly?: boolean;
  outputs: string;
  timeout: number;
  requestBatch: number;
  concurrency: number;
  retries: number;
}

/** Adds the options of a model served over HTTP (--model http://…). */
export function withRemote(cmd: Command): Command {
  return cmd
    .addOption(new Option('--protocol <name>', `protocol of an http(s) --model: ${REMOTE_PROTOCOLS.join(', ')}`))
    .option('--labels-only', 'use only the top-1 label of an http(s) --model (decision-based attacks)')
    .addOption(new Option('--outputs <kind>', 'what an http(s) --model answers: auto (rows summing to 1 are probabilities), logits, probabilities').default('auto'))
    .option('--timeout <s>', 'seconds per request to an http(s) --model', positiveNumber('--timeout'), 30)
    .option('--request-batch <n>', 'most images per request to an http(s) --model', positiveInt('--request-batch', MAX_BATCH), 64)
    .option('--concurrency <n>', 'requests in flight to an http(s) --model', positiveInt('--concurrency', 64), 4)
    .option('--retries <n>', 'retries of a request after a network error, 429 or 5xx', nonNegativeInt('--retries', 10), 3);
}

/**
 * A model served over HTTP and the first `limit` images of a dataset. A built-in dataset's shape is
 * what the model must take (checked against its metadata); a --data PATH is fitted to the shape
 * the metadata gives, or where there is none, taken at its own images' size.
 */
export async function loadRemoteAndData(url: string, flags: RemoteFlags, dataName: string, split: 'train' | 'test', limit?: number): Promise<ModelAndData<RemoteModel>> {
  checkRemoteFlags(url, flags, dataName);
  const own = isDataPath(dataName);
  let data = own ? undefined : loadDataset(dataName)[split];
  if (data && limit) data = subset(data, 0, Math.min(limit, data.count));
  const classifier = await RemoteModel.connect(url, {
    protocol: flags.protocol as RemoteProtocol, labelsOnly: flags.labelsOnly, outputs: flags.outputs as RemoteOutputs,
    timeoutMs: flags.timeout * 1000, maxBatch: flags.requestBatch, concurrency: flags.concurrency, retries: flags.retries,
    ...(data ? { inputShape: data.shape } : { fallbackShape: userDataShape(scanUserData(dataName)) }),
  });
  if (!data) return loadUserModelData(url, classifier, dataName, limit);
  return { classifier, data, labelsNote: {} };
}

/**
 * The flags of a served model, checked before any work or file: --protocol and friends on a model
 * that is a path (where they would be silently ignored), a missing or unknown protocol, a --data
 * PATH that lists no images.
 */
export function checkRemoteFlags(model: string, flags: RemoteFlags, dataName: string): void {
  if (!isRemoteModel(model)) {
    if (flags.protocol !== undefined || flags.labelsOnly) throw new AdvxError(`--protocol and --labels-only are for an http(s) --model, not ${model}`);
    return;
  }
  const protocol = flags.protocol as RemoteProtocol | undefined;
  if (protocol === undefined || !REMOTE_PROTOCOLS.includes(protocol)) throw new AdvxError(`--model ${model} is an endpoint: pass --protocol ${REMOTE_PROTOCOLS.join(' or ')}${protocol === undefined ? '' : ` (got "${protocol}")`}`);
  if (!['auto', 'logits', 'probabilities'].includes(flags.outputs)) throw new AdvxError(`--outputs must be auto, logits or probabilities, got "${flags.outputs}"`);
  if (isDataPath(dataName)) scanUserData(dataName);
}
