/**
 * Models for the explorer: the shipped ones (served by `advx lab` under /models/) and uploaded
 * TF.js LayersModels (model.json + weight files, advx.json optional). Wrapped as advx Classifiers,
 * with bounds and preprocessing from advx.json as in src/node/load-model.ts.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { Classifier, type ClassifierInfo } from '../../src/index.ts';

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
  layers: tfl.LayersModel;
}

/** The explorer draws and attacks 28×28 grey images. */
export const INPUT_SHAPE = [28, 28, 1];

/** Whether a shipped model's advx.json says it takes 28×28×1 images (unknown counts as yes). */
export function fitsExplorer(entry: ModelEntry): boolean {
  const shape = entry.info?.inputShape;
  return !shape || shape.join(',') === INPUT_SHAPE.join(',');
}

function wrap(id: string, label: string, layers: tfl.LayersModel, saved: Partial<ClassifierInfo>): LabModel {
  const inputShape = (layers.inputs[0].shape as Array<number | null>).slice(1);
  const outputDim = layers.outputs[0].shape.at(-1) as number | null;
  if (inputShape.join(',') !== INPUT_SHAPE.join(',')) {
    layers.dispose();
    throw new Error(`${label}: the explorer attacks 28×28×1 image classifiers, but this model takes inputs of shape [${inputShape.map((d) => d ?? '?')}]`);
  }
  const numClasses = saved.numClasses ?? outputDim ?? 0;
  if (!(numClasses >= 2)) {
    layers.dispose();
    throw new Error(`${label}: the model does not output a class vector (output size ${outputDim})`);
  }
  const info: ClassifierInfo = {
    inputShape: INPUT_SHAPE,
    numClasses,
    bounds: saved.bounds ?? [0, 1],
    preprocessing: saved.preprocessing,
    output: saved.output ?? 'logits',
    classNames: saved.classNames,
    dataset: saved.dataset,
  };
  const classifier = new Classifier((x) => layers.apply(x) as tf.Tensor, info);
  return { id, label, classifier, layers };
}

export async function loadShipped(entry: ModelEntry): Promise<LabModel> {
  let layers: tfl.LayersModel;
  try {
    layers = await tfl.loadLayersModel(entry.url);
  } catch (e) {
    throw new Error(`could not load ${entry.name}: ${e instanceof Error ? e.message : String(e)}`);
  }
  return wrap(`shipped:${entry.name}`, entry.name, layers, entry.info ?? {});
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

/**
 * An uploaded model: one model.json (any name ending in .json other than advx.json), its weight
 * files, and optionally advx.json. Every problem becomes one readable Error.
 */
export async function loadUploaded(files: File[], serial: number): Promise<LabModel> {
  const jsons = files.filter((f) => f.name.toLowerCase().endsWith('.json'));
  const advx = jsons.find((f) => f.name.toLowerCase() === 'advx.json');
  const modelFiles = jsons.filter((f) => f !== advx);
  if (modelFiles.length !== 1) throw new Error(`upload one model.json with its weight files (got ${modelFiles.length} model JSON files)`);
  const modelJson = modelFiles[0];
  let topology: { modelTopology?: unknown; weightsManifest?: Array<{ paths?: string[] }>; format?: string };
  try {
    topology = JSON.parse(await readText(modelJson));
  } catch (e) {
    throw new Error(`${modelJson.name} is not valid JSON: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (!topology || typeof topology !== 'object' || !topology.modelTopology) throw new Error(`${modelJson.name} is not a TF.js model.json (no modelTopology)`);
  if (topology.format === 'graph-model' || Array.isArray((topology.modelTopology as { node?: unknown }).node)) {
    throw new Error(`${modelJson.name} is a GraphModel; the explorer needs a LayersModel (gradients through a GraphModel are not supported here)`);
  }
  const manifest: unknown = topology.weightsManifest ?? [];
  if (!Array.isArray(manifest) || manifest.some((g) => !g || typeof g !== 'object' || !Array.isArray((g as { paths?: unknown }).paths) || (g as { paths: unknown[] }).paths.some((p) => typeof p !== 'string'))) {
    throw new Error(`${modelJson.name}: weightsManifest must be a list of groups, each with a list of weight file paths`);
  }
  const wanted = (manifest as Array<{ paths: string[] }>).flatMap((g) => g.paths);
  const weightFiles = files.filter((f) => !f.name.toLowerCase().endsWith('.json'));
  const missing = wanted.filter((p) => !weightFiles.some((f) => f.name === p.split('/').pop()));
  if (missing.length) throw new Error(`${modelJson.name} needs weight files that were not uploaded: ${missing.join(', ')}`);
  let saved: Partial<ClassifierInfo> = {};
  if (advx) {
    try {
      saved = JSON.parse(await readText(advx));
    } catch (e) {
      throw new Error(`advx.json is not valid JSON: ${e instanceof Error ? e.message : String(e)}`);
    }
    if (!saved || typeof saved !== 'object' || Array.isArray(saved)) throw new Error('advx.json must hold an object (inputShape, numClasses, bounds, …)');
    const b = saved.bounds;
    if (b !== undefined && !(Array.isArray(b) && b.length === 2 && b.every(Number.isFinite) && b[0] < b[1])) throw new Error(`advx.json: bounds must be [lo, hi] with lo < hi, got ${JSON.stringify(b)}`);
  }
  let layers: tfl.LayersModel;
  try {
    layers = await tfl.loadLayersModel(tf.io.browserFiles([modelJson, ...weightFiles]));
  } catch (e) {
    throw new Error(`could not load ${modelJson.name}: ${e instanceof Error ? e.message : String(e)}`);
  }
  const model = wrap(`upload:${serial}`, `uploaded ${modelJson.name} #${serial}`, layers, saved);
  // Weights that load but are garbage (NaN, Inf) make every prediction meaningless: say so now.
  const probe = tf.tidy(() => tf.all(tf.isFinite(model.classifier.probabilities(tf.zeros([1, ...INPUT_SHAPE])))));
  const finite = (await probe.data())[0] === 1;
  probe.dispose();
  if (!finite) {
    layers.dispose();
    throw new Error(`${modelJson.name}: the model's outputs are not finite numbers (NaN or ∞ in its weights?)`);
  }
  return model;
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
