/**
 * Loads any TF.js model on disk (LayersModel or GraphModel, a folder with model.json) as a
 * Classifier. Bounds and preprocessing come from `advx.json` beside model.json when present,
 * else from the caller, else the defaults ([0,1] pixels, no preprocessing).
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import * as tfc from '@tensorflow/tfjs-converter';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { AdvxError } from '../core/errors.ts';
import { Classifier, type ClassifierInfo } from '../models/classifier.ts';
import { fileSystemHandler, readModelArtifacts } from './model-io.ts';

export const INFO_FILE = 'advx.json';

export interface LoadedModel {
  classifier: Classifier;
  /** The LayersModel, when the file holds one (trainable, savable). */
  layers?: tfl.LayersModel;
  graph?: tfc.GraphModel;
  dir: string;
}

export async function loadClassifier(path: string, override: Partial<ClassifierInfo> = {}): Promise<LoadedModel> {
  const dir = path.endsWith('.json') ? dirname(path) : path;
  const artifacts = await readModelArtifacts(path);
  const infoPath = join(dir, INFO_FILE);
  const saved: Partial<ClassifierInfo> = existsSync(infoPath) ? JSON.parse(readFileSync(infoPath, 'utf8')) : {};
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
  return { classifier: new Classifier(forward, info), layers, graph, dir };
}
