/**
 * Models for the explorer: the shipped ones (served by `advx lab` under /models/) and uploaded
 * ones: a TF.js LayersModel or GraphModel (model.json + weight files, advx.json optional) or an
 * ONNX file (NAME.advx.json optional), of any image input shape. They become advx Classifiers
 * through the same isomorphic loaders and advx.json checks as the CLI's (src/models/load.ts); an
 * ONNX file with an op the importer lacks (or any, when asked) runs in ONNX Runtime Web as a black
 * box (onnx-runtime.ts), as `--runtime onnxruntime` runs it in the CLI.
 */
import * as tf from '@tensorflow/tfjs-core';
import { Classifier, type ClassifierInfo } from '../../src/index.ts';
import { imageTarget } from '../../src/data/image-folder.ts';
import { INFO_FILE, parseInfo, parseInfoText, type SavedInfo } from '../../src/models/advx-info.ts';
import { onnxContents, tfjsClassifier, type ModelContents } from '../../src/models/load.ts';
import type { OnnxSessionModel } from '../../src/models/onnx-runtime.ts';
import { UnsupportedOnnxOp } from '../../src/models/onnx/ops.ts';

export interface ModelEntry {
  name: string;
  url: string;
  info: Partial<ClassifierInfo> | null;
  training?: Record<string, unknown> | null;
  warning?: string;
}

export interface LabModel {
  id: string;
  label: string;
  classifier: Classifier;
  /** H×W×C, C 1 or 3: the images the model takes. */
  shape: [number, number, number];
  dispose(): void;
}

/** An ONNX file in ONNX Runtime Web: scores and labels, no gradients (the folder card only). */
export interface LabBlackBox {
  id: string;
  label: string;
  blackBox: OnnxSessionModel;
  shape: [number, number, number];
  /** Why it runs as a black box: the importer's refusal, or the user's choice. */
  why: string;
  dispose(): void;
}

/** What an uploaded file becomes: a white-box classifier, or a black box. */
export type UploadedModel = LabModel | LabBlackBox;

/** Which runs an uploaded ONNX file: the importer (ONNX Runtime Web only for an op it lacks), or ONNX Runtime Web. */
export type OnnxRuntimeChoice = 'importer' | 'onnxruntime';

/** The model as attacks and predictions take it. */
export const anyModel = (m: UploadedModel): Classifier | OnnxSessionModel => ('classifier' in m ? m.classifier : m.blackBox);

/** The explorer's panels draw and attack 28×28 images, grey (×1) or RGB (×3). */
export const PANEL_SIZE = 28;

/** Whether an input shape is one the panels take: 28×28×1 or 28×28×3. */
export const fitsPanels = (shape: readonly number[] | undefined): boolean => shape?.length === 3 && shape[0] === PANEL_SIZE && shape[1] === PANEL_SIZE && (shape[2] === 1 || shape[2] === 3);

/**
 * Whether a shipped model is an image classifier the lab can attack, as its advx.json states it:
 * an H×W×1 or H×W×3 input and at least two classes. A model folder without advx.json (the GAN
 * generators, the text models, which keep their own config.json / text.json) states no such thing
 * and is not offered as a target; a classifier of the user's without one can still be uploaded.
 */
export function isImageClassifier(entry: ModelEntry): boolean {
  const s = entry.info?.inputShape;
  return s?.length === 3 && s[0] > 0 && s[1] > 0 && (s[2] === 1 || s[2] === 3) && (entry.info?.numClasses ?? entry.info?.classNames?.length ?? 0) >= 2;
}

/** Whether the explorer's panels attack the model: an image classifier on 28×28×1 or ×3 inputs. */
export function fitsExplorer(entry: ModelEntry | LabModel): boolean {
  return 'classifier' in entry ? fitsPanels(entry.shape) : isImageClassifier(entry) && fitsPanels(entry.info?.inputShape);
}

/** A class's name for a bar or a menu: the name where it says more than the index (T-shirt/top, but 7 for MNIST's 7). */
export const classLabel = (names: readonly string[] | undefined, k: number): string => (names?.[k] && names[k] !== String(k) ? names[k] : String(k));

/** The dataset a model says it was trained on, by the name the lab's data files use ('fashion' is 'fashion-mnist'). */
export function datasetOf(entry: ModelEntry | LabModel): string | null {
  const d = 'classifier' in entry ? entry.classifier.info.dataset : entry.info?.dataset;
  return d === 'fashion' ? 'fashion-mnist' : (d ?? null);
}

/**
 * The model as the lab uses it: image inputs only, and outputs that are finite numbers (weights
 * that load but hold NaN or ∞ make every prediction meaningless: said now, not later).
 */
async function labModel(id: string, label: string, contents: ModelContents): Promise<LabModel> {
  const { classifier } = contents;
  const dispose = () => (contents.layers?.dispose(), contents.graph?.dispose(), contents.onnx?.dispose());
  try {
    const shape = imageTarget(classifier.info.inputShape, label, 'the lab needs');
    const probe = tf.tidy(() => tf.all(tf.isFinite(classifier.probabilities(tf.zeros([1, ...shape])))));
    const finite = (await probe.data())[0] === 1;
    probe.dispose();
    if (!finite) throw new Error(`${label}: the model's outputs are not finite numbers (NaN or ∞ in its weights?)`);
    return { id, label, classifier, shape, dispose };
  } catch (e) {
    dispose();
    throw e;
  }
}

export async function loadShipped(entry: ModelEntry): Promise<LabModel> {
  const infoPath = `${entry.name}/${INFO_FILE}`;
  const saved = entry.info ? parseInfo(entry.info, infoPath) : {};
  let artifacts: tf.io.ModelArtifacts;
  try {
    artifacts = await tf.io.http(entry.url).load!();
  } catch (e) {
    throw new Error(`could not load ${entry.name}: ${e instanceof Error ? e.message : String(e)}`);
  }
  const contents = await tfjsClassifier(artifacts, saved, {}, { where: entry.name, infoPath, infoFound: entry.info !== null });
  return labModel(`shipped:${entry.name}`, entry.name, contents);
}

/** Reads a File as text (File.text() is missing in some older engines). */
function readText(file: File): Promise<string> {
  return new Promise((resolve, reject) => {
    const r = new FileReader();
    r.onload = () => resolve(String(r.result));
    r.onerror = () => reject(r.error ?? new Error(`cannot read ${file.name}`));
    r.readAsText(file);
  });
}

const lower = (f: File) => f.name.toLowerCase();

/**
 * An uploaded model: one .onnx file (+ NAME.advx.json or advx.json), or one model.json (any name
 * ending in .json other than *advx.json) with its weight files (+ advx.json). Every problem
 * becomes one readable Error.
 */
export async function loadUploaded(files: File[], serial: number, runtime: OnnxRuntimeChoice = 'importer'): Promise<UploadedModel> {
  const onnxFiles = files.filter((f) => lower(f).endsWith('.onnx'));
  const jsons = files.filter((f) => lower(f).endsWith('.json'));
  const advxFiles = jsons.filter((f) => lower(f) === INFO_FILE || lower(f).endsWith(`.${INFO_FILE}`));
  const modelFiles = jsons.filter((f) => !advxFiles.includes(f));
  if (advxFiles.length > 1) throw new Error(`upload one advx.json with the model (got ${advxFiles.map((f) => f.name).join(', ')})`);
  const advx = advxFiles[0];
  const saved: SavedInfo = advx ? parseInfoText(await readText(advx), advx.name) : {};
  if (saved.labelsFile !== undefined) throw new Error(`${advx.name}: labelsFile cannot be read in the lab; give classNames in ${advx.name} instead`);
  const origin = { infoPath: advx?.name ?? INFO_FILE, infoFound: advx !== undefined };
  if (onnxFiles.length > 0) {
    if (onnxFiles.length > 1 || modelFiles.length > 0) throw new Error(`upload one model: one .onnx file (+ NAME.advx.json), or one model.json with its weight files (got ${[...onnxFiles, ...modelFiles].map((f) => f.name).join(', ')})`);
    const file = onnxFiles[0];
    const bytes = new Uint8Array(await file.arrayBuffer());
    const [id, label] = [`upload:${serial}`, `uploaded ${file.name} #${serial}`];
    if (runtime === 'onnxruntime') return onnxBlackBox(id, label, bytes, saved, file.name, origin.infoPath, 'ONNX Runtime Web chosen');
    let contents: ModelContents;
    try {
      contents = onnxContents(bytes, () => saved, {}, { ...origin, where: file.name });
    } catch (e) {
      if (!(e instanceof UnsupportedOnnxOp)) throw e;
      try {
        return await onnxBlackBox(id, label, bytes, saved, file.name, origin.infoPath, e.message);
      } catch (ort) {
        throw new Error(`${e.message}, and ONNX Runtime Web cannot run the file either: ${firstLine(ort)}`);
      }
    }
    return labModel(id, label, contents);
  }
  if (modelFiles.length !== 1) throw new Error(`upload one model.json with its weight files, or one .onnx file (got ${modelFiles.length} model JSON files)`);
  const modelJson = modelFiles[0];
  let topology: { modelTopology?: unknown; weightsManifest?: Array<{ paths?: string[] }>; format?: string };
  try {
    topology = JSON.parse(await readText(modelJson));
  } catch (e) {
    throw new Error(`${modelJson.name} is not valid JSON: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (!topology || typeof topology !== 'object' || !topology.modelTopology) throw new Error(`${modelJson.name} is not a TF.js model.json (no modelTopology)`);
  const manifest: unknown = topology.weightsManifest ?? [];
  if (!Array.isArray(manifest) || manifest.some((g) => !g || typeof g !== 'object' || !Array.isArray((g as { paths?: unknown }).paths) || (g as { paths: unknown[] }).paths.some((p) => typeof p !== 'string'))) {
    throw new Error(`${modelJson.name}: weightsManifest must be a list of groups, each with a list of weight file paths`);
  }
  const wanted = (manifest as Array<{ paths: string[] }>).flatMap((g) => g.paths);
  const weightFiles = files.filter((f) => !lower(f).endsWith('.json'));
  const missing = wanted.filter((p) => !weightFiles.some((f) => f.name === p.split('/').pop()));
  if (missing.length) throw new Error(`${modelJson.name} needs weight files that were not uploaded: ${missing.join(', ')}`);
  let artifacts: tf.io.ModelArtifacts;
  try {
    artifacts = await tf.io.browserFiles([modelJson, ...weightFiles]).load!();
  } catch (e) {
    throw new Error(`could not load ${modelJson.name}: ${e instanceof Error ? e.message : String(e)}`);
  }
  const contents = await tfjsClassifier(artifacts, saved, {}, { ...origin, where: modelJson.name });
  return labModel(`upload:${serial}`, `uploaded ${modelJson.name} #${serial}`, contents);
}

const firstLine = (e: unknown) => (e instanceof Error ? e.message : String(e)).split('\n')[0];

/** An ONNX file in ONNX Runtime Web (loaded now, on first use), checked as labModel checks a classifier. */
async function onnxBlackBox(id: string, label: string, bytes: Uint8Array, saved: SavedInfo, where: string, infoPath: string, why: string): Promise<LabBlackBox> {
  const { openOnnxWeb } = await import('./onnx-runtime.ts');
  const blackBox = await openOnnxWeb(bytes, saved, where, infoPath);
  const dispose = () => void blackBox.dispose();
  try {
    const shape = imageTarget(blackBox.info.inputShape, label, 'the lab needs');
    const zeros = tf.zeros([1, ...shape]);
    const p = await blackBox.scores(zeros).finally(() => zeros.dispose());
    const finite = (await p.data()).every(Number.isFinite);
    p.dispose();
    // That check was the lab's, not the user's: it is no query.
    blackBox.queries = 0;
    if (!finite) throw new Error(`${label}: the model's outputs are not finite numbers (NaN or ∞ in its weights?)`);
    return { id, label, blackBox, shape, why, dispose };
  } catch (e) {
    dispose();
    throw e;
  }
}

/** The largest image file the explorer decodes. */
const MAX_IMAGE_BYTES = 20 * 1024 * 1024;

/**
 * An uploaded picture as a 28×28 grey image in [0, 1], white digit on black as in MNIST (a
 * picture that is mostly light is inverted). Readable Errors for files that are not images.
 */
export async function loadImageFile(file: File, size = 28): Promise<Float32Array> {
  if (file.size === 0) throw new Error(`${file.name} is empty`);
  if (file.size > MAX_IMAGE_BYTES) throw new Error(`${file.name} is ${(file.size / 1048576).toFixed(1)} MB; the explorer takes images up to ${MAX_IMAGE_BYTES / 1048576} MB`);
  let bitmap: ImageBitmap;
  try {
    bitmap = await createImageBitmap(file);
  } catch (e) {
    throw new Error(`${file.name} is not an image the browser can decode (PNG, JPEG, GIF, WebP, BMP): ${e instanceof Error ? e.message : String(e)}`);
  }
  try {
    if (!(bitmap.width > 0 && bitmap.height > 0)) throw new Error(`${file.name} has no pixels`);
    const canvas = document.createElement('canvas');
    canvas.width = canvas.height = size;
    const ctx = canvas.getContext('2d', { willReadFrequently: true })!;
    ctx.fillStyle = '#fff';
    ctx.fillRect(0, 0, size, size);
    // Fit the whole picture, centred, keeping its aspect ratio.
    const scale = Math.min(size / bitmap.width, size / bitmap.height);
    const [w, h] = [bitmap.width * scale, bitmap.height * scale];
    ctx.drawImage(bitmap, (size - w) / 2, (size - h) / 2, w, h);
    const rgba = ctx.getImageData(0, 0, size, size).data;
    const grey = new Float32Array(size * size);
    let mean = 0;
    for (let i = 0; i < grey.length; i++) {
      grey[i] = (0.299 * rgba[4 * i] + 0.587 * rgba[4 * i + 1] + 0.114 * rgba[4 * i + 2]) / 255;
      mean += grey[i] / grey.length;
    }
    if (mean > 0.5) for (let i = 0; i < grey.length; i++) grey[i] = 1 - grey[i];
    return grey;
  } finally {
    bitmap.close();
  }
}
