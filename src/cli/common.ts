/** Options and helpers shared by the CLI's commands. */
import { Command, Option } from 'commander';
import { AdvxError } from '../core/errors.ts';
import { BACKENDS, parseBackend, useBackend, type BackendName } from '../backend/index.ts';
import { REMOTE_PROTOCOLS } from '../models/remote.ts';
import { RUNTIMES, type Runtime } from '../node/runs/inputs.ts';

export interface BackendFlags {
  backend: string;
  threads?: number;
}

/** Adds --backend and --threads to a command. */
export function withBackend(cmd: Command): Command {
  return cmd
    .addOption(new Option('--backend <name>', `TF.js backend: ${BACKENDS.join(', ')}`).default('wasm'))
    .addOption(new Option('--threads <n>', 'threads for the wasm backend (default: all cores)').argParser(positiveInt('--threads', MAX_THREADS)));
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

/**
 * Upper bounds of size options (counts, batches, steps, scales): a value past them is a typo or a
 * request no machine can serve, and would otherwise end in a RangeError or out of memory hours in.
 */
export const MAX_SIZE = 1_000_000; // counts, images: more than any dataset here holds
export const MAX_THREADS = 256;
export const MAX_BATCH = 65_536;
/** Iterations of an attack, restarts, EOT samples. */
export const MAX_STEPS = 100_000;
export const MAX_EPOCHS = 100_000;

function atMost(flag: string, max: number, n: number, v: string): number {
  if (n > max) throw new AdvxError(`${flag} must be at most ${max}, got ${JSON.stringify(v)}`);
  return n;
}

/** A positive integer, at most `max`. */
export function positiveInt(flag: string, max = MAX_SIZE) {
  return (v: string): number => {
    const n = numberOf(v);
    if (!Number.isSafeInteger(n) || n <= 0) throw new AdvxError(`${flag} must be a positive integer, got ${JSON.stringify(v)}`);
    return atMost(flag, max, n, v);
  };
}

/** A non-negative integer, at most `max` (seeds: seedInt). */
export function nonNegativeInt(flag: string, max = MAX_SIZE) {
  return (v: string): number => {
    const n = numberOf(v);
    if (!Number.isSafeInteger(n) || n < 0) throw new AdvxError(`${flag} must be a non-negative integer, got ${JSON.stringify(v)}`);
    return atMost(flag, max, n, v);
  };
}

/** The items of a comma-separated list, trimmed; an empty item ('0.1,', 'a,,b') is refused, not skipped. */
export function listItems(flag: string, list: string): string[] {
  const items = list.split(',').map((s) => s.trim());
  const empty = items.findIndex((s) => s === '');
  if (empty >= 0) throw new AdvxError(`${flag}: item ${empty + 1} of ${JSON.stringify(list)} is empty`);
  return items;
}

const COUNT_WORDS = ['no', 'one', 'two', 'three', 'four'];

/**
 * A comma-separated list of non-negative numbers ('0,0.1,0.3'): an empty item is refused, not read
 * as 0; with `distinct`, so is a value listed twice.
 */
export function numberList(flag: string, list: string, options: { min?: number; distinct?: boolean } = {}): number[] {
  const items = listItems(flag, list);
  const values = items.map((s) => numberOf(s));
  const bad = values.findIndex((v) => !Number.isFinite(v) || v < 0);
  if (bad >= 0) throw new AdvxError(`${flag}: ${JSON.stringify(items[bad])} is not a non-negative number`);
  const twice = values.findIndex((v, i) => values.indexOf(v) !== i);
  if (options.distinct && twice >= 0) throw new AdvxError(`${flag}: ${JSON.stringify(items[twice])} is listed twice`);
  if (options.min !== undefined && values.length < options.min) {
    throw new AdvxError(`${flag} must list at least ${COUNT_WORDS[options.min] ?? options.min} numbers ≥ 0, e.g. 0.1,0.3,1; got ${JSON.stringify(list)}`);
  }
  return values;
}

/** A comma-separated list of paths (models): empty items and repeats refused. */
export function pathList(flag: string, list: string, options: { min?: number } = {}): string[] {
  const items = listItems(flag, list);
  const twice = items.findIndex((v, i) => items.indexOf(v) !== i);
  if (twice >= 0) throw new AdvxError(`${flag}: ${items[twice]} is listed twice`);
  if (options.min !== undefined && items.length < options.min) throw new AdvxError(`${flag} needs at least ${options.min} comma-separated models, got ${items.length}`);
  return items;
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

/** Help of every --data option that takes a built-in name or the user's own files. */
export const DATA_HELP = 'dataset: a built-in name (mnist, fashion-mnist, mnist-m, mnist-rgb, synth-digits) or a PATH: a folder of class folders of .png/.jpg images, a flat folder of images (labelled by the model\'s predictions), a CSV of path,label rows, or a folder with x.npy and y.npy';

/** --quiet's help: the one wording of every command that reports progress. */
export const QUIET_HELP = 'no progress output on stderr (without it: a bar with ETA on a terminal, a line every ~10% when stderr is not one; with or without --json)';

/** --quiet, for a command that reports progress on stderr: `.addOption(quietOption())`. */
export function quietOption(): Option {
  return new Option('--quiet', QUIET_HELP);
}

/** Prints the final JSON line of a command run with --json. */
export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value) + '\n');
}

export function parseNorm(norm: string): 'linf' | 'l2' {
  if (norm !== 'linf' && norm !== 'l2') throw new AdvxError(`--norm must be linf or l2, got "${norm}"`);
  return norm;
}

function parseRuntime(v: string): Runtime {
  if (!(RUNTIMES as readonly string[]).includes(v)) throw new AdvxError(`--runtime must be ${RUNTIMES.join(' or ')}, got ${JSON.stringify(v)}`);
  return v as Runtime;
}

/** Adds --runtime and --output, for a command that needs only a model's forward pass. */
export function withRuntime(cmd: Command): Command {
  return cmd
    .addOption(new Option('--runtime <name>', "what runs an .onnx --model: tfjs (advx's importer: gradients, every attack) or onnxruntime (onnxruntime-node: forward passes, any op; score- and decision-based attacks)").argParser(parseRuntime).default('tfjs'))
    .option('--output <name>', "which output of a model with several is the class vector (overrides advx.json's outputName)");
}

/** Adds the options of a model served over HTTP (--model http://…). */
export function withRemote(cmd: Command): Command {
  return cmd
    .addOption(new Option('--protocol <name>', `protocol of an http(s) --model: ${REMOTE_PROTOCOLS.join(', ')}`))
    .option('--labels-only', 'use only the top-1 label of an http(s) --model (decision-based attacks)')
    .addOption(new Option('--outputs <kind>', 'what an http(s) --model answers: auto (rows summing to 1 are probabilities), logits, probabilities').default('auto'))
    .option('--timeout <s>', 'seconds per request to an http(s) --model', positiveNumber('--timeout'), 30)
    .option('--request-batch <n>', 'most images per request to an http(s) --model', positiveInt('--request-batch', MAX_BATCH), 64)
    .option('--concurrency <n>', 'requests in flight to an http(s) --model', positiveInt('--concurrency', 64), 4)
    .option('--retries <n>', 'retries of a request after a network error, 429 or 5xx', nonNegativeInt('--retries', 10), 3);
}
