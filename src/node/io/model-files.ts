/**
 * Saving and loading TF.js models in their standard on-disk format (model.json + weights.bin),
 * without tfjs-node: a small IOHandler over the file system. Files are written atomically and
 * model.json last, so a folder never holds a model.json that points at missing weights.
 */
import * as tf from '@tensorflow/tfjs-core';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type * as tfl from '@tensorflow/tfjs-layers';
import { AdvxError } from '../../core/errors.ts';
import { INFO_FILE } from '../../models/advx-info.ts';
import { writeFileAtomic } from './files.ts';

const WEIGHTS_FILE = 'weights.bin';

export function fileSystemHandler(dir: string): tf.io.IOHandler {
  return {
    async save(artifacts: tf.io.ModelArtifacts): Promise<tf.io.SaveResult> {
      await mkdir(dir, { recursive: true });
      const weightData = artifacts.weightData ? tf.io.CompositeArrayBuffer.join(artifacts.weightData) : new ArrayBuffer(0);
      const manifest: tf.io.WeightsManifestConfig = [{ paths: [WEIGHTS_FILE], weights: artifacts.weightSpecs ?? [] }];
      const modelJson = {
        format: artifacts.format,
        generatedBy: artifacts.generatedBy,
        convertedBy: artifacts.convertedBy,
        modelTopology: artifacts.modelTopology,
        trainingConfig: artifacts.trainingConfig,
        userDefinedMetadata: artifacts.userDefinedMetadata,
        weightsManifest: manifest,
      };
      await writeFileAtomic(join(dir, WEIGHTS_FILE), Buffer.from(weightData));
      await writeFileAtomic(join(dir, 'model.json'), JSON.stringify(modelJson));
      return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
    },
    async load(): Promise<tf.io.ModelArtifacts> {
      return readModelArtifacts(dir);
    },
  };
}

/** Reads model.json and its weight shards from `dir` (or from a path to model.json). */
export async function readModelArtifacts(path: string): Promise<tf.io.ModelArtifacts> {
  const jsonPath = path.endsWith('.json') ? path : join(path, 'model.json');
  if (!existsSync(jsonPath)) throw new AdvxError(`no model at ${path}: ${jsonPath} does not exist`);
  let modelJson: tf.io.ModelJSON;
  try {
    modelJson = JSON.parse(readFileSync(jsonPath, 'utf8'));
  } catch (e) {
    throw new AdvxError(`${jsonPath} is not valid JSON (${(e as Error).message})`);
  }
  if (!modelJson.modelTopology || !Array.isArray(modelJson.weightsManifest)) {
    throw new AdvxError(`${jsonPath} is not a TF.js model.json (it needs modelTopology and weightsManifest)`);
  }
  const base = dirname(jsonPath);
  return tf.io.getModelArtifactsForJSON(modelJson, async (manifest) => {
    const specs: tf.io.WeightsManifestEntry[] = [];
    const buffers: ArrayBuffer[] = [];
    const files: string[] = [];
    for (const group of manifest) {
      specs.push(...group.weights);
      for (const p of group.paths) {
        const file = join(base, p);
        if (!existsSync(file)) throw new AdvxError(`weights file ${file} named in ${jsonPath} is missing`);
        const b = readFileSync(file);
        files.push(file);
        buffers.push(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer);
      }
    }
    const data = tf.io.CompositeArrayBuffer.join(buffers);
    const expected = specs.reduce((n, s) => n + s.shape.reduce((a, b) => a * b, 1) * bytesPerValue(s), 0);
    const named = files.length === 1 ? files[0] : `the weight files of ${jsonPath} (${files.join(', ')})`;
    if (data.byteLength < expected) {
      throw new AdvxError(`weights of ${jsonPath} are truncated: ${named} holds ${data.byteLength} bytes, expected ${expected}`);
    }
    // String weights have no fixed size; any other surplus means the files are not this model's.
    if (data.byteLength > expected && !specs.some((s) => s.dtype === 'string')) {
      throw new AdvxError(`${named} holds ${data.byteLength} bytes, but ${jsonPath} describes ${expected} bytes of weights: the files do not belong together`);
    }
    return [specs, data];
  });
}

function bytesPerValue(spec: tf.io.WeightsManifestEntry): number {
  const dtype = spec.quantization?.dtype ?? spec.dtype;
  return dtype === 'uint8' || dtype === 'bool' ? 1 : dtype === 'uint16' || dtype === 'float16' ? 2 : 4;
}

/** Saves a LayersModel in TF.js format, with advx.json declaring its bounds and classes (inputs in [0, 1], logits out). */
export async function saveModel(model: tfl.LayersModel, dir: string, info: { dataset: string; classNames: string[]; inputShape: number[]; numClasses: number }): Promise<void> {
  await model.save(fileSystemHandler(dir));
  writeFileAtomic(join(dir, INFO_FILE), JSON.stringify({ ...info, bounds: [0, 1], output: 'logits' }, null, 2));
}
