/** Options and helpers shared by the CLI's commands. */
import { Command, Option } from 'commander';
import { AdvxError } from '../core/errors.ts';
import { BACKENDS, parseBackend, useBackend, type BackendName } from '../backend/index.ts';
import type { Classifier } from '../models/classifier.ts';
import { subset, type ImageDataset } from '../data/types.ts';
import { loadDataset } from '../node/datasets.ts';
import { loadClassifier } from '../node/load-model.ts';

export interface BackendFlags {
  backend: string;
  threads?: number;
}

/** Adds --backend and --threads to a command. */
export function withBackend(cmd: Command): Command {
  return cmd
    .addOption(new Option('--backend <name>', `TF.js backend: ${BACKENDS.join(', ')}`).default('wasm'))
    .addOption(new Option('--threads <n>', 'threads for the wasm backend (default: all cores)').argParser(positiveInt('--threads')));
}

export async function startBackend(flags: BackendFlags): Promise<BackendName> {
  const name = parseBackend(flags.backend);
  await useBackend(name, { threads: flags.threads });
  return name;
}

/**
 * The number of a flag's value, or NaN for a value that is none: Number('') and Number('  ')
 * are 0, which would make `--eps ''` an ε of 0.
 */
function numberOf(v: string): number {
  return typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
}

/** Seeds are 32-bit (Rng takes seed >>> 0): 2³² would silently be seed 0. */
export const MAX_SEED = 2 ** 32 - 1;

export function positiveInt(flag: string) {
  return (v: string): number => {
    const n = numberOf(v);
    if (!Number.isSafeInteger(n) || n <= 0) throw new AdvxError(`${flag} must be a positive integer, got ${JSON.stringify(v)}`);
    return n;
  };
}

/** A non-negative integer (seeds: seedInt). */
export function nonNegativeInt(flag: string) {
  return (v: string): number => {
    const n = numberOf(v);
    if (!Number.isSafeInteger(n) || n < 0) throw new AdvxError(`${flag} must be a non-negative integer, got ${JSON.stringify(v)}`);
    return n;
  };
}

/** A seed: an integer in [0, 2³² − 1]. */
export function seedInt(flag = '--seed') {
  return (v: string): number => {
    const n = numberOf(v);
    if (!Number.isSafeInteger(n) || n < 0 || n > MAX_SEED) throw new AdvxError(`${flag} must be an integer in [0, ${MAX_SEED}], got ${JSON.stringify(v)}`);
    return n;
  };
}

export function positiveNumber(flag: string) {
  return (v: string): number => {
    const n = numberOf(v);
    if (!Number.isFinite(n) || n <= 0) throw new AdvxError(`${flag} must be a positive number, got ${JSON.stringify(v)}`);
    return n;
  };
}

export function nonNegativeNumber(flag: string) {
  return (v: string): number => {
    const n = numberOf(v);
    if (!Number.isFinite(n) || n < 0) throw new AdvxError(`${flag} must be a non-negative number, got ${JSON.stringify(v)}`);
    return n;
  };
}

/** Prints the final JSON line of a command run with --json. */
export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value) + '\n');
}

export function parseNorm(norm: string): 'linf' | 'l2' {
  if (norm !== 'linf' && norm !== 'l2') throw new AdvxError(`--norm must be linf or l2, got "${norm}"`);
  return norm;
}

/** Loads a model and the first `limit` images of a dataset split, checking that they fit together. */
export async function loadModelAndData(modelPath: string, dataName: string, split: 'train' | 'test', limit?: number): Promise<{ classifier: Classifier; data: ImageDataset }> {
  const { classifier } = await loadClassifier(modelPath);
  let data = loadDataset(dataName)[split];
  if (limit) data = subset(data, 0, Math.min(limit, data.count));
  const want = classifier.info.inputShape.join('×');
  if (want !== data.shape.join('×')) {
    throw new AdvxError(`${modelPath} expects inputs of shape ${want}, but ${dataName} images are ${data.shape.join('×')}`);
  }
  return { classifier, data };
}
