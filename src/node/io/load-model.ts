/**
 * Loads any TF.js model on disk (LayersModel or GraphModel, a folder with model.json) or an ONNX
 * file (imported as TF.js ops, gradients included) as a Classifier. Bounds and preprocessing come
 * from `advx.json` beside model.json (for `net.onnx`: `net.advx.json` beside it) when present,
 * else from the caller, else the defaults ([0,1] pixels, no preprocessing).
 */
import type * as tfl from '@tensorflow/tfjs-layers';
import type * as tfc from '@tensorflow/tfjs-converter';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { AdvxError } from '../../core/errors.ts';
import { checkInfoAgainstModel, INFO_FILE, parseInfo, parseInfoText, parseLabels, type SavedInfo } from '../../models/advx-info.ts';
import { isBinaryHead, type Classifier, type ClassifierInfo } from '../../models/classifier.ts';
import { onnxContents, onnxInfo, tfjsClassifier, type ModelSummary } from '../../models/load.ts';
import { nhwcShape, type OnnxGraphInfo, type OnnxModel, type OutputProbe } from '../../models/onnx.ts';
import { decodeModel } from '../../models/onnx/proto.ts';
import { readModelArtifacts } from './model-files.ts';

// advx.json and the classifier over a model's contents are isomorphic (the lab uses them too).
export { INFO_FILE, infoSchema, parseInfo, type SavedInfo } from '../../models/advx-info.ts';
export { graphNodes, type InfoKey, type InfoSource, type ModelSummary, type TensorSummary } from '../../models/load.ts';

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

export async function loadClassifier(path: string, override: Partial<ClassifierInfo> = {}): Promise<LoadedModel> {
  if (path.endsWith('.onnx')) return loadOnnx(path, override);
  const dir = path.endsWith('.json') ? dirname(path) : path;
  const artifacts = await readModelArtifacts(path);
  const infoPath = join(dir, INFO_FILE);
  const infoFound = existsSync(infoPath);
  const saved: SavedInfo = infoFound ? readInfo(infoPath) : {};
  return { ...(await tfjsClassifier(artifacts, saved, override, { where: dir, infoPath, infoFound })), dir };
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
  return { ...onnxInfo(path, graph, saved, override, probe, infoPath), saved, infoPath, infoFound };
}

function loadOnnx(path: string, override: Partial<ClassifierInfo>): LoadedModel {
  const bytes = readOnnxFile(path);
  const infoPath = onnxInfoPath(path);
  const infoFound = existsSync(infoPath);
  const readSaved = (): SavedInfo => (infoFound ? readInfo(infoPath) : {});
  return { ...onnxContents(bytes, readSaved, override, { where: path, infoPath, infoFound }), dir: dirname(path) };
}

/**
 * Reads and validates advx.json; AdvxError naming the file and the first bad field. A
 * `labelsFile` (relative to advx.json) is read into `classNames`, and `labelsFile` becomes its path.
 */
export function readInfo(path: string): SavedInfo {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new AdvxError(`${path} is not valid JSON (${(e as Error).message})`);
  }
  const info = parseInfoText(text, path);
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
  return parseLabels(text, file);
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
