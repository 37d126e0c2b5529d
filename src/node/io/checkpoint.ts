/**
 * Checkpoints of a training run: model weights, optimizer state and loop state, in one folder that
 * is swapped in whole (written as checkpoint.tmp, then renamed), so a kill at any moment leaves
 * either the previous checkpoint or the new one.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { existsSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { AdvxError } from '../../core/errors.ts';
import { restoreOptimizerWeights } from '../../train/optimizer-state.ts';
import { writeFileAtomic } from './files.ts';
import { fileSystemHandler } from './model-files.ts';

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

/** What to do about a damaged checkpoint file, at the end of its one-line error. */
const DAMAGED_CHECKPOINT = 'delete the run folder or resume from a whole checkpoint';

/**
 * Reads and parses a JSON file of a run folder; a file that cannot be read or is not JSON is one
 * AdvxError line naming it, ending with `remedy`.
 */
export function readRunJson(file: string, remedy = DAMAGED_CHECKPOINT): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new AdvxError(`cannot read ${file} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}): ${remedy}`);
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new AdvxError(`${file} is not valid JSON: ${remedy}`);
  }
}

const BYTES_PER_VALUE: Record<string, number> = { float32: 4, int32: 4, bool: 1 };

/** The weights `name`.json/.bin that writeWeights wrote, checked against each other before decoding. */
function readWeights(dir: string, name: string): { specs: tf.io.WeightsManifestEntry[]; tensors: tf.NamedTensorMap } {
  const jsonFile = join(dir, `${name}.json`);
  const binFile = join(dir, `${name}.bin`);
  const specs = readRunJson(jsonFile);
  const valid =
    Array.isArray(specs) &&
    specs.every((s) => typeof s?.name === 'string' && s.dtype in BYTES_PER_VALUE && Array.isArray(s.shape) && s.shape.every((d: unknown) => Number.isInteger(d) && (d as number) >= 0));
  if (!valid) throw new AdvxError(`${jsonFile} is not a list of weights (name, shape, dtype): ${DAMAGED_CHECKPOINT}`);
  const manifest = specs as tf.io.WeightsManifestEntry[];
  let buf: Buffer;
  try {
    buf = readFileSync(binFile);
  } catch (e) {
    throw new AdvxError(`cannot read ${binFile} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}): ${DAMAGED_CHECKPOINT}`);
  }
  const expected = manifest.reduce((n, s) => n + s.shape.reduce((a, b) => a * b, 1) * BYTES_PER_VALUE[s.dtype], 0);
  if (buf.byteLength !== expected) throw new AdvxError(`${binFile} holds ${buf.byteLength} bytes, expected ${expected}: ${DAMAGED_CHECKPOINT}`);
  return { specs: manifest, tensors: tf.io.decodeWeights(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer, manifest) };
}

export async function saveCheckpoint(runDir: string, model: Checkpointable, optimizer: tf.Optimizer, state: CheckpointState): Promise<void> {
  const final = join(runDir, 'checkpoint');
  const tmp = join(runDir, 'checkpoint.tmp');
  rmSync(tmp, { recursive: true, force: true });
  const optimizerWeights = await optimizer.getWeights();
  try {
    if (isLayersModel(model)) await model.save(fileSystemHandler(join(tmp, 'model')));
    else await writeWeights(tmp, 'weights', model.getWeights().map((tensor, i) => ({ name: `w${i}`, tensor })));
    await writeWeights(tmp, 'optimizer', optimizerWeights);
    writeFileAtomic(join(tmp, 'state.json'), JSON.stringify(state));
  } catch (e) {
    // A full disk, say: the last whole checkpoint stays, and no half of this one.
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  } finally {
    // getWeights makes a fresh scalar for the iteration count; the rest are the optimizer's own.
    tf.dispose(optimizerWeights.map((w) => w.tensor).filter((t) => !(t instanceof tf.Variable)));
  }
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
  // The small files first: a damaged checkpoint is refused before any weights are touched.
  const stateFile = join(dir, 'state.json');
  const state = readRunJson(stateFile) as CheckpointState;
  if (typeof state !== 'object' || state === null || !Number.isInteger(state.epoch) || state.epoch < 0) {
    throw new AdvxError(`${stateFile} holds no checkpoint state (a whole number of epochs done): ${DAMAGED_CHECKPOINT}`);
  }
  const optimizerWeights = readWeights(dir, 'optimizer');
  try {
    restoreModelWeights(dir, model, await readModelWeights(dir, model));
    // Not optimizer.setWeights: Adam's would lose the last bits of its bias correction.
    await restoreOptimizerWeights(optimizer, optimizerWeights.specs.map((s) => ({ name: s.name, tensor: optimizerWeights.tensors[s.name] })));
  } finally {
    tf.dispose(Object.values(optimizerWeights.tensors));
  }
  return state;
}

async function readModelWeights(dir: string, model: Checkpointable): Promise<{ saved: tf.Tensor[]; all: tf.NamedTensorMap }> {
  // Weights are matched by position (the saved order is the model's weights' order), since layer
  // names carry global counters that differ between processes.
  let saved: tf.Tensor[];
  let all: tf.NamedTensorMap;
  if (isLayersModel(model)) {
    const { readModelArtifacts } = await import('./model-files.ts');
    const artifacts = await readModelArtifacts(join(dir, 'model'));
    all = tf.io.decodeWeights(artifacts.weightData!, artifacts.weightSpecs!);
    saved = artifacts.weightSpecs!.map((s) => all[s.name]);
  } else {
    const { specs, tensors } = readWeights(dir, 'weights');
    all = tensors;
    saved = specs.map((s) => tensors[s.name]);
  }
  return { saved, all };
}

/** Sets the checkpoint's weights into `model` (they must have its weights' shapes) and frees them. */
function restoreModelWeights(dir: string, model: Checkpointable, { saved, all }: { saved: tf.Tensor[]; all: tf.NamedTensorMap }): void {
  try {
    const own = model.getWeights();
    if (saved.length !== own.length || saved.some((t, i) => !t || !tf.util.arraysEqual(t.shape, own[i].shape))) {
      throw new AdvxError(`the checkpoint in ${dir} belongs to another model (its weights do not match this model's shapes)`);
    }
    model.setWeights(saved);
  } finally {
    tf.dispose(Object.values(all));
  }
}

/** A run's config.json (the options it was started with), as --resume reads it to compare them. */
export function readRunConfig(file: string): Record<string, unknown> {
  const remedy = 'repair it or delete the run folder';
  const config = readRunJson(file, remedy);
  if (typeof config !== 'object' || config === null || Array.isArray(config)) throw new AdvxError(`${file} does not hold a run's options (a JSON object): ${remedy}`);
  return config as Record<string, unknown>;
}
