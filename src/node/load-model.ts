/**
 * Loads any TF.js model on disk (LayersModel or GraphModel, a folder with model.json) or an ONNX
 * file (imported as TF.js ops, gradients included) as a Classifier. Bounds and preprocessing come
 * from `advx.json` beside model.json (for `net.onnx`: `net.advx.json` beside it) when present,
 * else from the caller, else the defaults ([0,1] pixels, no preprocessing).
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import * as tfc from '@tensorflow/tfjs-converter';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import { AdvxError } from '../core/errors.ts';
import { Classifier, type ClassifierInfo } from '../models/classifier.ts';
import { importOnnx, nhwcShape, onnxClassifier, onnxInputShape, type OnnxModel } from '../models/onnx.ts';
import { decodeModel } from '../models/onnx/proto.ts';
import { fileSystemHandler, readModelArtifacts } from './model-io.ts';

export const INFO_FILE = 'advx.json';

export interface LoadedModel {
  classifier: Classifier;
  /** The LayersModel, when the file holds one (trainable, savable). */
  layers?: tfl.LayersModel;
  graph?: tfc.GraphModel;
  /** The imported graph, for an .onnx file (its weights are freed by `onnx.dispose()`). */
  onnx?: OnnxModel;
  dir: string;
}

export async function loadClassifier(path: string, override: Partial<ClassifierInfo> = {}): Promise<LoadedModel> {
  if (path.endsWith('.onnx')) return loadOnnx(path, override);
  const dir = path.endsWith('.json') ? dirname(path) : path;
  const artifacts = await readModelArtifacts(path);
  const infoPath = join(dir, INFO_FILE);
  const saved: Partial<ClassifierInfo> = existsSync(infoPath) ? readInfo(infoPath) : {};
  const isGraph = artifacts.format === 'graph-model' || Array.isArray((artifacts.modelTopology as { node?: unknown })?.node);

  let forward: (x: tf.Tensor) => tf.Tensor;
  let inputShape: number[] | undefined;
  let outputDim: number | undefined;
  let layers: tfl.LayersModel | undefined;
  let graph: tfc.GraphModel | undefined;
  try {
    if (isGraph) {
      graph = await tfc.loadGraphModel(tf.io.fromMemory(artifacts));
      const g = graph;
      inputShape = g.inputs[0]?.shape?.slice(1);
      outputDim = g.outputs[0]?.shape?.at(-1);
      forward = (x) => g.predict(x) as tf.Tensor;
    } else {
      layers = await tfl.loadLayersModel(fileSystemHandler(dir));
      const m = layers;
      inputShape = (m.inputs[0].shape as number[]).slice(1);
      outputDim = m.outputs[0].shape.at(-1) as number;
      forward = (x) => m.apply(x) as tf.Tensor;
    }
  } catch (e) {
    if (e instanceof AdvxError) throw e;
    throw new AdvxError(`could not load the model in ${dir}: ${(e as Error).message}`);
  }
  const info: ClassifierInfo = {
    inputShape: override.inputShape ?? saved.inputShape ?? inputShape ?? [],
    numClasses: override.numClasses ?? saved.numClasses ?? outputDim ?? 0,
    bounds: override.bounds ?? saved.bounds ?? [0, 1],
    preprocessing: override.preprocessing ?? saved.preprocessing,
    output: override.output ?? saved.output ?? 'logits',
    classNames: override.classNames ?? saved.classNames,
    dataset: override.dataset ?? saved.dataset,
  };
  if (!info.numClasses || info.numClasses < 2) {
    throw new AdvxError(`the model in ${dir} does not output a class vector (output size ${outputDim}); declare numClasses in ${INFO_FILE}`);
  }
  checkInfoAgainstModel(infoPath, info, inputShape, outputDim);
  return { classifier: new Classifier(forward, info), layers, graph, dir };
}

/**
 * The advx.json of an ONNX file: one per file, `net.onnx` → `net.advx.json`, so several models
 * can share a folder (an ONNX file is one file, unlike a TF.js model's folder).
 */
export function onnxInfoPath(path: string): string {
  return path.replace(/\.onnx$/, `.${INFO_FILE}`);
}

function readOnnxFile(path: string): Uint8Array {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new AdvxError(`could not read the ONNX file ${path}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
  }
}

function loadOnnx(path: string, override: Partial<ClassifierInfo>): LoadedModel {
  const bytes = readOnnxFile(path);
  const infoPath = onnxInfoPath(path);
  const saved = existsSync(infoPath) ? readInfo(infoPath) : {};
  const onnx = importOnnx(bytes, path);
  try {
    const classifier = onnxClassifier(onnx, { ...saved, ...definedOnly(override) }, path);
    checkInfoAgainstModel(infoPath, classifier.info, onnxInputShape(onnx), onnx.outputs[0]?.shape.at(-1));
    return { classifier, onnx, dir: dirname(path) };
  } catch (e) {
    onnx.dispose();
    throw e;
  }
}

/** The keys of `o` whose value is not undefined (so an override leaves saved values alone). */
function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

const finite = z.number().refine(Number.isFinite);
/** A dimension: a positive integer, or -1 for one the model leaves free. */
const dimension = z.number().int().refine((d) => d >= 1 || d === -1);

/** advx.json: every key optional, no other key allowed. */
export const infoSchema = z.strictObject({
  inputShape: z.array(dimension).min(1).optional(),
  numClasses: z.number().int().min(2).optional(),
  bounds: z
    .tuple([finite, finite])
    .refine((b) => b[0] < b[1])
    .optional(),
  preprocessing: z
    .strictObject({
      scale: finite.refine((v) => v !== 0).optional(),
      offset: finite.optional(),
      mean: z.array(finite).min(1).optional(),
      std: z
        .array(finite.refine((v) => v > 0))
        .min(1)
        .optional(),
    })
    .optional(),
  output: z.enum(['logits', 'probabilities']).optional(),
  classNames: z.array(z.string()).min(2).optional(),
  dataset: z.string().min(1).optional(),
});

/** What each field must be, for the one line that names a bad one. */
const FIELD_RULES: Record<string, string> = {
  inputShape: 'inputShape must be a list of positive integers without the batch, e.g. [28, 28, 1]',
  numClasses: 'numClasses must be an integer ≥ 2',
  bounds: 'bounds must be [low, high] with low < high',
  preprocessing: 'preprocessing must be an object with optional scale, offset, mean, std',
  'preprocessing.scale': 'preprocessing.scale must be a non-zero number',
  'preprocessing.offset': 'preprocessing.offset must be a number',
  'preprocessing.mean': 'preprocessing.mean must be a list of numbers (one per channel)',
  'preprocessing.std': 'preprocessing.std must be a list of positive numbers (one per channel)',
  output: 'output must be "logits" or "probabilities"',
  classNames: 'classNames must be a list of at least 2 strings',
  dataset: 'dataset must be a non-empty string naming the dataset, e.g. "mnist"',
};

/** JSON of a value for an error line, cut short. */
function shown(v: unknown): string {
  const s = v === undefined ? 'nothing' : JSON.stringify(v);
  return s.length > 60 ? `${s.slice(0, 57)}…` : s;
}

/** Reads and validates advx.json; AdvxError naming the file and the first bad field. */
export function readInfo(path: string): Partial<ClassifierInfo> {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new AdvxError(`${path} is not valid JSON (${(e as Error).message})`);
  }
  return parseInfo(raw, path);
}

/** Validates the content of an advx.json (`where` names it in errors). */
export function parseInfo(raw: unknown, where: string = INFO_FILE): Partial<ClassifierInfo> {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new AdvxError(`${where} must hold a JSON object such as {"bounds": [0, 1], "numClasses": 10}, got ${Array.isArray(raw) ? 'an array' : shown(raw)}`);
  }
  const r = infoSchema.safeParse(raw);
  if (r.success) return r.data as Partial<ClassifierInfo>;
  const issue = r.error.issues[0];
  if (issue.code === 'unrecognized_keys') {
    const at = issue.path.length ? `${issue.path.join('.')}.` : '';
    const allowed = issue.path[0] === 'preprocessing' ? 'scale, offset, mean, std' : Object.keys(infoSchema.shape).join(', ');
    throw new AdvxError(`${where}: unknown key "${at}${issue.keys[0]}" (allowed: ${allowed})`);
  }
  const [top, second] = issue.path.map(String);
  const field = top === 'preprocessing' && second && FIELD_RULES[`preprocessing.${second}`] ? `preprocessing.${second}` : top;
  let value: unknown = raw;
  for (const k of field.split('.')) value = (value as Record<string, unknown> | undefined)?.[k];
  throw new AdvxError(`${where}: ${FIELD_RULES[field] ?? `${field} is not valid`} (got ${shown(value)})`);
}

/** advx.json must agree with the network it describes. */
function checkInfoAgainstModel(infoPath: string, info: ClassifierInfo, modelShape: number[] | undefined, outputDim: number | undefined): void {
  const free = (d: number | null | undefined) => d === undefined || d === null || d === -1;
  if (modelShape && (modelShape.length !== info.inputShape.length || modelShape.some((d, i) => !free(d) && !free(info.inputShape[i]) && d !== info.inputShape[i]))) {
    throw new AdvxError(`${infoPath}: inputShape [${info.inputShape}] does not match the model's input [${modelShape.map((d) => (free(d) ? '?' : d))}]`);
  }
  if (!free(outputDim) && outputDim !== info.numClasses) {
    throw new AdvxError(`${infoPath}: numClasses ${info.numClasses} does not match the model's ${outputDim} outputs`);
  }
  if (info.classNames && info.classNames.length !== info.numClasses) {
    throw new AdvxError(`${infoPath}: classNames has ${info.classNames.length} names but the model has ${info.numClasses} classes`);
  }
  const channels = info.inputShape.at(-1);
  for (const key of ['mean', 'std'] as const) {
    const v = info.preprocessing?.[key];
    if (v && v.length !== 1 && !free(channels) && v.length !== channels) {
      throw new AdvxError(`${infoPath}: preprocessing.${key} has ${v.length} values but the input has ${channels} channels (give 1 or ${channels})`);
    }
  }
}

/** The input shape (without batch) a LayersModel's topology declares in its first layer, when fixed. */
function topologyInputShape(topology: unknown): number[] | undefined {
  const t = topology as { model_config?: { config?: unknown }; config?: unknown } | undefined;
  const config = (t?.model_config?.config ?? t?.config) as { layers?: Array<{ config?: { batch_input_shape?: unknown } }> } | undefined;
  const shape = config?.layers?.[0]?.config?.batch_input_shape;
  if (!Array.isArray(shape) || shape.length < 2) return undefined;
  const dims = shape.slice(1);
  return dims.every((d) => Number.isInteger(d) && d > 0) ? (dims as number[]) : undefined;
}

/**
 * Checks a model folder without a backend and without building the network: model.json, the size
 * of its weight files, advx.json. What a command can refuse before it starts any work or writes
 * anything; the input shape is the declared one (advx.json, else the topology's), when known.
 */
export async function inspectModel(path: string): Promise<{ info: Partial<ClassifierInfo>; inputShape?: number[] }> {
  if (path.endsWith('.onnx')) {
    // Before any backend exists: the file's declared shapes, read without making tensors.
    const { inputs, outputs } = decodeModel(readOnnxFile(path), path);
    const infoPath = onnxInfoPath(path);
    const info = existsSync(infoPath) ? readInfo(infoPath) : {};
    const classes = outputs[0]?.shape.at(-1);
    return { info: { ...info, numClasses: info.numClasses ?? (classes && classes > 0 ? classes : undefined) }, inputShape: info.inputShape ?? (inputs[0] ? nhwcShape(inputs[0].shape.slice(1)) : undefined) };
  }
  const dir = path.endsWith('.json') ? dirname(path) : path;
  const artifacts = await readModelArtifacts(path);
  const infoPath = join(dir, INFO_FILE);
  const info = existsSync(infoPath) ? readInfo(infoPath) : {};
  const declared = topologyInputShape(artifacts.modelTopology);
  const inputShape = info.inputShape ?? declared;
  // What can be checked of advx.json against the network without building it.
  checkInfoAgainstModel(infoPath, { ...info, inputShape: inputShape ?? [], numClasses: info.numClasses ?? info.classNames?.length ?? 0, bounds: info.bounds ?? [0, 1] }, declared, undefined);
  return { info, inputShape };
}
