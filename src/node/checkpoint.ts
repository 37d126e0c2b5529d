/**
 * Checkpoints of a training run: model weights, optimizer state and loop state, in one folder that
 * is swapped in whole (written as checkpoint.tmp, then renamed), so a kill at any moment leaves
 * either the previous checkpoint or the new one.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { existsSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { AdvxError } from '../core/errors.ts';
import { writeFileAtomic } from './io.ts';
import { fileSystemHandler } from './model-io.ts';

export interface CheckpointState {
  /** Epochs completed. */
  epoch: number;
  [key: string]: unknown;
}

/**
 * What a checkpoint saves the weights of: a LayersModel (saved in TF.js format), or any set of
 * weights in a fixed order (e.g. the several networks of a domain adaptation run).
 */
export type Checkpointable = tfl.LayersModel | { getWeights(): tf.Tensor[]; setWeights(weights: tf.Tensor[]): void };

function isLayersModel(m: Checkpointable): m is tfl.LayersModel {
  return typeof (m as tfl.LayersModel).save === 'function';
}

async function writeWeights(dir: string, name: string, named: Array<{ name: string; tensor: tf.Tensor }>): Promise<void> {
  const { data, specs } = await tf.io.encodeWeights(named);
  writeFileAtomic(join(dir, `${name}.bin`), Buffer.from(data));
  writeFileAtomic(join(dir, `${name}.json`), JSON.stringify(specs));
}

function readWeights(dir: string, name: string): { specs: tf.io.WeightsManifestEntry[]; tensors: tf.NamedTensorMap } {
  const specs = JSON.parse(readFileSync(join(dir, `${name}.json`), 'utf8'));
  const buf = readFileSync(join(dir, `${name}.bin`));
  return { specs, tensors: tf.io.decodeWeights(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer, specs) };
}

export async function saveCheckpoint(runDir: string, model: Checkpointable, optimizer: tf.Optimizer, state: CheckpointState): Promise<void> {
  const final = join(runDir, 'checkpoint');
  const tmp = join(runDir, 'checkpoint.tmp');
  rmSync(tmp, { recursive: true, force: true });
  if (isLayersModel(model)) await model.save(fileSystemHandler(join(tmp, 'model')));
  else await writeWeights(tmp, 'weights', model.getWeights().map((tensor, i) => ({ name: `w${i}`, tensor })));
  const optimizerWeights = await optimizer.getWeights();
  await writeWeights(tmp, 'optimizer', optimizerWeights);
  // getWeights makes a fresh scalar for the iteration count; the rest are the optimizer's own.
  tf.dispose(optimizerWeights.map((w) => w.tensor).filter((t) => !(t instanceof tf.Variable)));
  writeFileAtomic(join(tmp, 'state.json'), JSON.stringify(state));
  const old = join(runDir, 'checkpoint.old');
  rmSync(old, { recursive: true, force: true });
  if (existsSync(final)) renameSync(final, old);
  renameSync(tmp, final);
  rmSync(old, { recursive: true, force: true });
}

export function hasCheckpoint(runDir: string): boolean {
  return existsSync(join(runDir, 'checkpoint', 'state.json')) || existsSync(join(runDir, 'checkpoint.old', 'state.json'));
}

/** Restores weights into `model` and state into `optimizer`; returns the saved loop state. */
export async function loadCheckpoint(runDir: string, model: Checkpointable, optimizer: tf.Optimizer): Promise<CheckpointState> {
  // A kill between the two renames leaves only checkpoint.old: it is still a whole checkpoint.
  let dir = join(runDir, 'checkpoint');
  if (!existsSync(join(dir, 'state.json'))) dir = join(runDir, 'checkpoint.old');
  if (!existsSync(join(dir, 'state.json'))) throw new AdvxError(`no checkpoint to resume in ${runDir}`);
  // Weights are matched by position (the saved order is the model's weights' order), since layer
  // names carry global counters that differ between processes.
  let saved: tf.Tensor[];
  let all: tf.NamedTensorMap;
  if (isLayersModel(model)) {
    const { readModelArtifacts } = await import('./model-io.ts');
    const artifacts = await readModelArtifacts(join(dir, 'model'));
    all = tf.io.decodeWeights(artifacts.weightData!, artifacts.weightSpecs!);
    saved = artifacts.weightSpecs!.map((s) => all[s.name]);
  } else {
    const { specs, tensors } = readWeights(dir, 'weights');
    all = tensors;
    saved = specs.map((s) => tensors[s.name]);
  }
  const own = model.getWeights();
  if (saved.length !== own.length || saved.some((t, i) => !tf.util.arraysEqual(t.shape, own[i].shape))) {
    tf.dispose(Object.values(all));
    throw new AdvxError(`the checkpoint in ${dir} belongs to another model (its weights do not match this model's shapes)`);
  }
  model.setWeights(saved);
  tf.dispose(Object.values(all));
  const { specs, tensors: optWeights } = readWeights(dir, 'optimizer');
  await optimizer.setWeights(specs.map((s) => ({ name: s.name, tensor: optWeights[s.name] })));
  tf.dispose(Object.values(optWeights));
  return JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8'));
}
