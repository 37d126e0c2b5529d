/**
 * The model and data a command works on: a model on disk, run by TF.js or ONNX Runtime, or served
 * over HTTP, and the images of a built-in dataset or of the user's own files, checked to fit
 * together. The prechecks refuse a mismatch before any work, backend or file.
 */
import * as tf from '@tensorflow/tfjs-core';
import { AdvxError } from '../../core/errors.ts';
import type { Classifier, ClassifierInfo } from '../../models/classifier.ts';
import { subset, type ImageDataset } from '../../data/types.ts';
import { FASHION_MNIST_CLASSES, loadDataset, MNIST_CLASSES, parseDatasetName } from '../datasets/index.ts';
import { imageTarget, isDataPath, loadUserData, resolveLabels, scanUserData, userDataShape } from '../datasets/image-folder.ts';
import { inspectModel, loadClassifier } from '../io/load-model.ts';
import { isRemoteModel, REMOTE_PROTOCOLS, RemoteModel, type RemoteOutputs, type RemoteProtocol } from '../../models/remote.ts';
import { UnsupportedOnnxOp } from '../../models/onnx/ops.ts';
import { OnnxRuntimeModel, requireOnnxRuntime } from '../io/onnx-runtime.ts';

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
  const data = loadDataset(dataName, limit ? { limit: { [split]: limit } } : {})[split];
  const want = classifier.info.inputShape.join('×');
  if (want !== data.shape.join('×')) {
    throw new AdvxError(`${modelPath} expects inputs of shape ${want}, but ${dataName} images are ${data.shape.join('×')}`);
  }
  return { classifier, data, labelsNote: {} };
}

/** What runs an .onnx --model: advx's importer (TF.js ops, gradients) or ONNX Runtime (forward passes only). */
export const RUNTIMES = ['tfjs', 'onnxruntime'] as const;
export type Runtime = (typeof RUNTIMES)[number];

/** --runtime and --output, as the command line gives them. */
export interface ModelFlags {
  runtime: Runtime;
  output?: string;
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

/** --protocol, --labels-only and the request options of a served model, as the command line gives them. */
export interface RemoteFlags {
  protocol?: string;
  labelsOnly?: boolean;
  outputs: string;
  timeout: number;
  requestBatch: number;
  concurrency: number;
  retries: number;
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
