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

export async function saveCheckpoint(runDir: string, model: tfl.LayersModel, optimizer: tf.Optimizer, state: CheckpointState): Promise<void> {
  const final = join(runDir, 'checkpoint');
  const tmp = join(runDir, 'checkpoint.tmp');
  rmSync(tmp, { recursive: true, force: true });
  await model.save(fileSystemHandler(join(tmp, 'model')));
  const named = await optimizer.getWeights();
  const { data, specs } = await tf.io.encodeWeights(named);
  writeFileAtomic(join(tmp, 'optimizer.bin'), Buffer.from(data));
  writeFileAtomic(join(tmp, 'optimizer.json'), JSON.stringify(specs));
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
export async function loadCheckpoint(runDir: string, model: tfl.LayersModel, optimizer: tf.Optimizer): Promise<CheckpointState> {
  // A kill between the two renames leaves only checkpoint.old: it is still a whole checkpoint.
  let dir = join(runDir, 'checkpoint');
  if (!existsSync(join(dir, 'state.json'))) dir = join(runDir, 'checkpoint.old');
  if (!existsSync(join(dir, 'state.json'))) throw new AdvxError(`no checkpoint to resume in ${runDir}`);
  const { readModelArtifacts } = await import('./model-io.ts');
  const artifacts = await readModelArtifacts(join(dir, 'model'));
  // Weights are matched by position (the saved order is model.weights' order), since layer names
  // carry global counters that differ between processes.
  const weights = tf.io.decodeWeights(artifacts.weightData!, artifacts.weightSpecs!);
  const saved = artifacts.weightSpecs!.map((s) => weights[s.name]);
  if (saved.length !== model.weights.length || saved.some((t, i) => !tf.util.arraysEqual(t.shape, model.weights[i].shape as number[]))) {
    tf.dispose(Object.values(weights));
    throw new AdvxError(`the checkpoint in ${dir} belongs to another model (its weights do not match this model's shapes)`);
  }
  model.setWeights(saved);
  tf.dispose(Object.values(weights));
  const specs = JSON.parse(readFileSync(join(dir, 'optimizer.json'), 'utf8'));
  const buf = readFileSync(join(dir, 'optimizer.bin'));
  const optWeights = tf.io.decodeWeights(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer, specs);
  await optimizer.setWeights(specs.map((s: { name: string }) => ({ name: s.name, tensor: optWeights[s.name] })));
  tf.dispose(Object.values(optWeights));
  return JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8'));
}
