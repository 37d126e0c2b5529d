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
import { dirname, join, resolve } from 'node:path';
import { z } from 'zod';
import { AdvxError } from '../core/errors.ts';
import { Classifier, headOfLastOp, isBinaryHead, outputIndex, type ClassifierInfo } from '../models/classifier.ts';
import { importOnnx, nhwcForward, nhwcShape, onnxClassifierInfo, onnxInputShape, onnxLastOp, onnxProbe, type OnnxGraphInfo, type OnnxModel, type OutputProbe } from '../models/onnx.ts';
import { decodeModel } from '../models/onnx/proto.ts';
import { fileSystemHandler, readModelArtifacts } from './model-io.ts';

export const INFO_FILE = 'advx.json';

/** Where a setting the classifier uses came from. */
export type InfoSource = 'override' | 'advx.json' | 'labels file' | 'detected' | 'model' | 'default';
export type InfoKey = 'inputShape' | 'numClasses' | 'bounds' | 'preprocessing' | 'output' | 'classNames';

/** A model input or output as the file declares it: batch included, -1 for a free dimension. */
export interface TensorSummary {
  name: string;
  shape: number[];
}

/** What the loader found in the file, beside the classifier: for `advx inspect` and error lines. */
export interface ModelSummary {
  format: 'layers' | 'graph' | 'onnx';
  opset?: number;
  inputs: TensorSummary[];
  outputs: TensorSummary[];
  /** The output used as the class vector. */
  outputName: string;
  /** The op type (graph, ONNX) or activation (layers) that ends that output, when known. */
  lastOp?: string;
  sources: Record<InfoKey, InfoSource>;
  /** The advx.json that applies to the model, and whether it exists. */
  infoPath: string;
  infoFound: boolean;
  /** The labels file the class names came from, when they did. */
  labelsFile?: string;
  parameters: number;
}

export interface LoadedModel {
  classifier: Classifier;
  /** The LayersModel, when the file holds one (trainable, savable). */
  layers?: tfl.LayersModel;
  graph?: tfc.GraphModel;
  /** The imported graph, for an .onnx file (its weights are freed by `onnx.dispose()`). */
  onnx?: OnnxModel;
  dir: string;
  summary: ModelSummary;
}

/** advx.json as read: `labelsFile` is the resolved path of the file the class names were read from. */
export type SavedInfo = Partial<ClassifierInfo> & { labelsFile?: string };

const freeDim = (d: number | null | undefined): number => (typeof d === 'number' && d > 0 ? d : -1);
const isSingleUnit = (shape: number[] | undefined): boolean => shape !== undefined && (shape.length === 1 || (shape.length === 2 && shape[1] === 1));

/** The activation (or advanced-activation class) that ends a Layers model's output, looking into nested models. */
function layersLastOp(output: tfl.SymbolicTensor): string | undefined {
  let layer = output.sourceLayer as tfl.layers.Layer;
  for (let hops = 0; layer instanceof tfl.LayersModel && hops < 100; hops++) layer = layer.outputs[0].sourceLayer as tfl.layers.Layer;
  const cls = layer.getClassName();
  if (cls === 'Softmax' || cls === 'Sigmoid') return cls.toLowerCase();
  const activation = (layer.getConfig() as { activation?: unknown }).activation;
  return typeof activation === 'string' ? activation : undefined;
}

/** GraphDef nodes of a TF.js graph model's topology. */
interface GraphNode {
  name: string;
  op: string;
  input?: string[];
}

export function graphNodes(artifacts: tf.io.ModelArtifacts): GraphNode[] {
  const t = artifacts.modelTopology as { node?: GraphNode[]; library?: { function?: Array<{ nodeDef?: GraphNode[] }> } } | undefined;
  return [...(t?.node ?? []), ...(t?.library?.function ?? []).flatMap((f) => f.nodeDef ?? [])];
}

const GRAPH_PASS_THROUGH = new Set(['Identity', 'IdentityN', 'Reshape', 'Squeeze', 'StopGradient', 'Snapshot']);

/** The op that produces a graph model's output, looking through Identity and reshapes. */
function graphLastOp(nodes: GraphNode[], outputName: string): string | undefined {
  const byName = new Map(nodes.map((n) => [n.name, n]));
  const strip = (name: string) => name.replace(/^\^/, '').replace(/:\d+$/, '');
  let node = byName.get(strip(outputName));
  for (let hops = 0; node && GRAPH_PASS_THROUGH.has(node.op) && node.input?.[0] && hops < 100; hops++) node = byName.get(strip(node.input[0]));
  return node?.op;
}

export async function loadClassifier(path: string, override: Partial<ClassifierInfo> = {}): Promise<LoadedModel> {
  if (path.endsWith('.onnx')) return loadOnnx(path, override);
  const dir = path.endsWith('.json') ? dirname(path) : path;
  const artifacts = await readModelArtifacts(path);
  const infoPath = join(dir, INFO_FILE);
  const infoFound = existsSync(infoPath);
  const saved: SavedInfo = infoFound ? readInfo(infoPath) : {};
  const isGraph = artifacts.format === 'graph-model' || Array.isArray((artifacts.modelTopology as { node?: unknown })?.node);
  const wantedOutput = override.outputName ?? saved.outputName;

  let forward: (x: tf.Tensor) => tf.Tensor;
  let inputShape: number[] | undefined;
  let outShape: number[] | undefined;
  let layers: tfl.LayersModel | undefined;
  let graph: tfc.GraphModel | undefined;
  let inputs: TensorSummary[];
  let outputs: TensorSummary[];
  let index: number;
  let lastOp: string | undefined;
  let parameters: number;
  try {
    if (isGraph) {
      graph = await tfc.loadGraphModel(tf.io.fromMemory(artifacts));
      const g = graph;
      inputs = g.inputs.map((i) => ({ name: i.name, shape: (i.shape ?? []).map(freeDim) }));
      outputs = g.outputs.map((o) => ({ name: o.name, shape: (o.shape ?? []).map(freeDim) }));
      index = outputIndex(
        outputs.map((o) => o.name),
        wantedOutput,
        dir,
      );
      inputShape = g.inputs[0]?.shape?.slice(1);
      outShape = g.outputs[index]?.shape;
      const name = outputs[index].name;
      forward = outputs.length === 1 ? (x) => g.predict(x) as tf.Tensor : (x) => g.execute(x, name) as tf.Tensor;
      // A graph rarely declares its outputs' shapes: one forward pass on zeros tells.
      const known = override.inputShape ?? saved.inputShape ?? inputShape;
      if (!outShape?.length && known && known.length > 0 && known.every((d) => d > 0)) {
        try {
          const shape = tf.tidy(() => forward(tf.zeros([1, ...known])).shape);
          outShape = [-1, ...shape.slice(1)];
          outputs[index] = { ...outputs[index], shape: outShape };
        } catch {
          // A graph that cannot run on zeros (integer inputs, say): its shape stays unknown, as declared.
        }
      }
      lastOp = graphLastOp(graphNodes(artifacts), name);
      parameters = Object.values(g.weights).reduce((n, ts) => n + ts.reduce((m, t) => (t.dtype === 'float32' ? m + t.size : m), 0), 0);
    } else {
      layers = await tfl.loadLayersModel(fileSystemHandler(dir));
      const m = layers;
      inputs = m.inputs.map((i, k) => ({ name: m.inputNames?.[k] ?? i.sourceLayer?.name ?? i.name, shape: (i.shape as Array<number | null>).map(freeDim) }));
      outputs = m.outputs.map((o, k) => ({ name: m.outputNames?.[k] ?? o.sourceLayer?.name ?? o.name, shape: (o.shape as Array<number | null>).map(freeDim) }));
      index = outputIndex(
        outputs.map((o) => o.name),
        wantedOutput,
        dir,
      );
      inputShape = (m.inputs[0].shape as number[]).slice(1);
      outShape = outputs[index].shape;
      const k = index;
      forward = (x) => {
        const out = m.apply(x) as tf.Tensor | tf.Tensor[];
        return Array.isArray(out) ? out[k] : out;
      };
      lastOp = layersLastOp(m.outputs[index]);
      parameters = m.countParams();
    }
  } catch (e) {
    if (e instanceof AdvxError) throw e;
    throw new AdvxError(`could not load the model in ${dir}: ${(e as Error).message}`);
  }
  const single = isSingleUnit(outShape);
  const detected = headOfLastOp(lastOp, single);
  const output = override.output ?? saved.output ?? detected ?? 'logits';
  const binary = isBinaryHead(output);
  const outputDim = binary ? undefined : outShape?.at(-1);
  const info: ClassifierInfo = {
    inputShape: override.inputShape ?? saved.inputShape ?? inputShape ?? [],
    numClasses: override.numClasses ?? saved.numClasses ?? (binary ? 2 : (outputDim ?? 0)),
    bounds: override.bounds ?? saved.bounds ?? [0, 1],
    preprocessing: override.preprocessing ?? saved.preprocessing,
    output,
    outputName: outputs[index].name,
    classNames: override.classNames ?? saved.classNames,
    dataset: override.dataset ?? saved.dataset,
  };
  if (!info.numClasses || info.numClasses < 2) {
    const hint = single ? 'it has one output unit: declare "output": "sigmoid" or "logit" in advx.json for a binary classifier' : `declare numClasses in ${INFO_FILE}`;
    throw new AdvxError(`the model in ${dir} does not output a class vector (output size ${outShape?.at(-1)}); ${hint}`);
  }
  checkInfoAgainstModel(infoPath, info, inputShape, binary ? (outShape && !single ? outShape.at(-1) : undefined) : outputDim, saved.labelsFile, binary);
  const summary: ModelSummary = {
    format: isGraph ? 'graph' : 'layers',
    inputs,
    outputs,
    outputName: outputs[index].name,
    lastOp,
    sources: sourcesOf(override, saved, detected !== undefined && output === detected),
    infoPath,
    infoFound,
    labelsFile: saved.labelsFile,
    parameters,
  };
  return { classifier: new Classifier(forward, info), layers, graph, dir, summary };
}

/** Where each setting came from: the caller, advx.json (or its labels file), what the model says, the default. */
function sourcesOf(override: Partial<ClassifierInfo>, saved: SavedInfo, outputDetected: boolean): Record<InfoKey, InfoSource> {
  const from = (key: InfoKey, otherwise: InfoSource): InfoSource => {
    if (override[key] !== undefined) return 'override';
    if (saved[key] !== undefined) return key === 'classNames' && saved.labelsFile ? 'labels file' : 'advx.json';
    return otherwise;
  };
  return {
    inputShape: from('inputShape', 'model'),
    numClasses: from('numClasses', 'model'),
    bounds: from('bounds', 'default'),
    preprocessing: from('preprocessing', 'default'),
    output: from('output', outputDetected ? 'detected' : 'default'),
    classNames: from('classNames', 'default'),
  };
}

/**
 * The advx.json of an ONNX file: one per file, `net.onnx` → `net.advx.json`, so several models
 * can share a folder (an ONNX file is one file, unlike a TF.js model's folder).
 */
export function onnxInfoPath(path: string): string {
  return path.replace(/\.onnx$/, `.${INFO_FILE}`);
}

export function readOnnxFile(path: string): Uint8Array {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new AdvxError(`could not read the ONNX file ${path}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
  }
}

/** The classifier info of an ONNX file and where it came from, as onnxFileInfo decides it. */
export interface OnnxFileInfo {
  info: ClassifierInfo;
  /** The index of the output that is the class vector. */
  index: number;
  saved: SavedInfo;
  infoPath: string;
  infoFound: boolean;
}

/**
 * The classifier info of an ONNX file, for the importer and ONNX Runtime alike: its advx.json
 * (net.advx.json) under `override`, decided from the graph (onnxClassifierInfo), checked against it.
 */
export function onnxFileInfo(path: string, graph: OnnxGraphInfo, override: Partial<ClassifierInfo>, probe: OutputProbe): OnnxFileInfo {
  const infoPath = onnxInfoPath(path);
  const infoFound = existsSync(infoPath);
  const saved: SavedInfo = infoFound ? readInfo(infoPath) : {};
  const { labelsFile, ...declared } = saved;
  const info = onnxClassifierInfo(graph, { ...declared, ...definedOnly(override) }, path, probe);
  const index = graph.outputs.findIndex((o) => o.name === info.outputName);
  const outShape = graph.outputs[index]?.shape;
  const binary = isBinaryHead(info.output);
  checkInfoAgainstModel(infoPath, info, onnxInputShape(graph), binary ? (isSingleUnit(outShape) ? undefined : outShape?.at(-1)) : outShape?.at(-1), labelsFile, binary);
  return { info, index, saved, infoPath, infoFound };
}

function loadOnnx(path: string, override: Partial<ClassifierInfo>): LoadedModel {
  const onnx = importOnnx(readOnnxFile(path), path);
  try {
    const { info, index, saved, infoPath, infoFound } = onnxFileInfo(path, onnx, override, onnxProbe(onnx));
    const classifier = new Classifier(nhwcForward(onnx, index), info);
    const lastOp = onnxLastOp(onnx, index);
    const detected = headOfLastOp(lastOp, isSingleUnit(onnx.outputs[index]?.shape));
    const summary: ModelSummary = {
      format: 'onnx',
      opset: onnx.opset,
      inputs: onnx.inputs.map((i) => ({ name: i.name, shape: i.shape.map(freeDim) })),
      outputs: onnx.outputs.map((o) => ({ name: o.name, shape: o.shape.map(freeDim) })),
      outputName: info.outputName ?? onnx.outputs[0]?.name ?? '',
      lastOp,
      sources: sourcesOf(override, saved, detected !== undefined && info.output === detected),
      infoPath,
      infoFound,
      labelsFile: saved.labelsFile,
      parameters: onnx.parameters,
    };
    return { classifier, onnx, dir: dirname(path), summary };
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
  output: z.enum(['logits', 'probabilities', 'sigmoid', 'logit']).optional(),
  outputName: z.string().min(1).optional(),
  classNames: z.array(z.string()).min(2).optional(),
  labelsFile: z.string().min(1).optional(),
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
  output: 'output must be "logits", "probabilities", "sigmoid" (one unit, a probability) or "logit" (one unit, a logit)',
  outputName: "outputName must be a non-empty string naming one of the model's outputs",
  classNames: 'classNames must be a list of at least 2 strings',
  labelsFile: 'labelsFile must be a non-empty path to a text file with one class name per line, relative to advx.json',
  dataset: 'dataset must be a non-empty string naming the dataset, e.g. "mnist"',
};

/** JSON of a value for an error line, cut short. */
function shown(v: unknown): string {
  const s = v === undefined ? 'nothing' : JSON.stringify(v);
  return s.length > 60 ? `${s.slice(0, 57)}…` : s;
}

/**
 * Reads and validates advx.json; AdvxError naming the file and the first bad field. A
 * `labelsFile` (relative to advx.json) is read into `classNames`, and `labelsFile` becomes its path.
 */
export function readInfo(path: string): SavedInfo {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new AdvxError(`${path} is not valid JSON (${(e as Error).message})`);
  }
  const info = parseInfo(raw, path);
  if (info.labelsFile === undefined) return info;
  const labelsFile = resolve(dirname(path), info.labelsFile);
  return { ...info, labelsFile, classNames: readLabels(labelsFile, path) };
}

/** A labels file: one class name per line; blank lines at the end are ignored, blank lines between names are not. */
export function readLabels(file: string, infoPath: string): string[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const why = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message.split('\n')[0];
    throw new AdvxError(`${infoPath}: could not read the labels file ${file}: ${why}`);
  }
  const names = text.replace(/^\uFEFF/, '').split(/\r?\n/).map((l) => l.trim());
  while (names.length > 0 && names.at(-1) === '') names.pop();
  const blank = names.indexOf('');
  if (blank >= 0) throw new AdvxError(`${file}: line ${blank + 1} is blank; a labels file holds one class name per line`);
  if (names.length < 2) throw new AdvxError(`${file} names ${names.length} class${names.length === 1 ? '' : 'es'}; a classifier has at least 2`);
  return names;
}

/** Validates the content of an advx.json (`where` names it in errors). */
export function parseInfo(raw: unknown, where: string = INFO_FILE): SavedInfo {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new AdvxError(`${where} must hold a JSON object such as {"bounds": [0, 1], "numClasses": 10}, got ${Array.isArray(raw) ? 'an array' : shown(raw)}`);
  }
  const r = infoSchema.safeParse(raw);
  if (r.success) {
    if (r.data.classNames && r.data.labelsFile) throw new AdvxError(`${where}: give classNames or labelsFile, not both`);
    return r.data as SavedInfo;
  }
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
function checkInfoAgainstModel(infoPath: string, info: ClassifierInfo, modelShape: number[] | undefined, outputDim: number | undefined, labelsFile?: string, binary = false): void {
  const free = (d: number | null | undefined) => d === undefined || d === null || d === -1;
  if (modelShape && (modelShape.length !== info.inputShape.length || modelShape.some((d, i) => !free(d) && !free(info.inputShape[i]) && d !== info.inputShape[i]))) {
    throw new AdvxError(`${infoPath}: inputShape [${info.inputShape}] does not match the model's input [${modelShape.map((d) => (free(d) ? '?' : d))}]`);
  }
  if (binary && !free(outputDim)) {
    throw new AdvxError(`${infoPath}: output "${info.output}" is a binary head with one output unit, but the model's output has ${outputDim} units`);
  }
  if (!binary && !free(outputDim) && outputDim !== info.numClasses) {
    throw new AdvxError(`${infoPath}: numClasses ${info.numClasses} does not match the model's ${outputDim} outputs`);
  }
  if (info.classNames && info.classNames.length !== info.numClasses) {
    if (labelsFile) throw new AdvxError(`${labelsFile} names ${info.classNames.length} classes but the model has ${info.numClasses}`);
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
    const { labelsFile: _, ...info }: SavedInfo = existsSync(infoPath) ? readInfo(infoPath) : {};
    const out = outputs.find((o) => o.name === info.outputName) ?? outputs[0];
    const classes = isBinaryHead(info.output) ? 2 : out?.shape.at(-1);
    return { info: { ...info, numClasses: info.numClasses ?? (classes && classes > 1 ? classes : undefined) }, inputShape: info.inputShape ?? (inputs[0] ? nhwcShape(inputs[0].shape.slice(1)) : undefined) };
  }
  const dir = path.endsWith('.json') ? dirname(path) : path;
  const artifacts = await readModelArtifacts(path);
  const infoPath = join(dir, INFO_FILE);
  const { labelsFile, ...info }: SavedInfo = existsSync(infoPath) ? readInfo(infoPath) : {};
  if (isBinaryHead(info.output)) info.numClasses ??= 2;
  const declared = topologyInputShape(artifacts.modelTopology);
  const inputShape = info.inputShape ?? declared;
  // What can be checked of advx.json against the network without building it.
  checkInfoAgainstModel(infoPath, { ...info, inputShape: inputShape ?? [], numClasses: info.numClasses ?? info.classNames?.length ?? 0, bounds: info.bounds ?? [0, 1] }, declared, undefined, labelsFile);
  return { info, inputShape };
}
