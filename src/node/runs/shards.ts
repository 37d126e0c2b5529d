/**
 * The stateless shard contract: `--shard i/N` runs the blocks b with b mod N = i of a run (see
 * shardBlocks) into a run folder of its own, with the run's options and the shard in config.json
 * and its per-example records in examples.jsonl; `advx merge` checks that the folders are all N
 * shards of one run and joins them into what the unsharded run would have written. Nothing is
 * shared while the shards run, so any scheduler that hands out an index (a Kubernetes Indexed
 * Job, a SLURM or AWS Batch array) can run them.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { AdvxError, FinishedShard } from '../../core/errors.ts';
import type { Shard } from '../../core/shards.ts';
import { isDataPath, userDataSha256 } from '../datasets/image-folder.ts';
import { writeFileAtomic } from '../io/files.ts';
import { markedCommand } from './folder.ts';
import { CONFIG_FILE, writeRunConfig } from './options.ts';
import { readResults, type Results } from './results.ts';

/** The per-example records of a run, one JSON object per line, in index order. */
export const EXAMPLES_FILE = 'examples.jsonl';

export type { Shard };

/** What every command's per-example record has: the example's position in the unsharded run. */
export interface IndexedRecord {
  index: number;
}

/** `--shard i/N`: shard i (from 0, as $JOB_COMPLETION_INDEX and $SLURM_ARRAY_TASK_ID count) of N. */
export function parseShard(text: string): Shard {
  const m = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(text);
  const [index, count] = m ? [Number(m[1]), Number(m[2])] : [NaN, NaN];
  if (!(count >= 1 && index < count)) throw new AdvxError(`--shard ${text}: want i/N with 0 ≤ i < N, e.g. --shard 0/4 for the first of 4 shards`);
  return { index, count };
}

/**
 * A hash of the model's files (sha256 over the names and contents of the files of a model folder,
 * or of one file), so that merge refuses shards of different models saved at the same path.
 * Undefined for a served model, which is known by its URL only.
 */
export function modelFingerprint(model: string): string | undefined {
  if (/^https?:\/\//.test(model)) return undefined;
  const hash = createHash('sha256');
  const st = fs.statSync(model);
  const files = st.isDirectory() ? fs.readdirSync(model).filter((f) => fs.statSync(path.join(model, f)).isFile()).sort() : [''];
  for (const f of files) hash.update(`${f}\0`).update(fs.readFileSync(path.join(model, f)));
  return hash.digest('hex');
}

/**
 * config.json of a run that may be sharded: the options in `identity` (those that make the run what
 * it is, which all its shards share; not those that only say how it runs), the hashes of the
 * model's files (of each model's, for a run of several: null for a served one) and of a --data
 * PATH's, and the shard, if any. merge compares all but the shard.
 *
 * A shard whose folder already holds a finished run (results.json, not partial) with exactly this
 * config, hashes included, is not run again: FinishedShard is thrown before anything is
 * written, and the CLI reports the shard as kept. A rerun array job, or a queue resubmitting a
 * run, so computes only the shards that did not finish.
 *
 * Returns whether the folder's config.json already said exactly this: the folder holds a run (or
 * part of one) of the same options, model and data, which a command may go on with.
 */
export function writeShardConfig(dir: string, o: ({ model: string } | { models: string[] }) & { shard?: Shard }, identity: readonly string[]): boolean {
  const values = o as unknown as Record<string, unknown>;
  const config = {
    ...Object.fromEntries(identity.filter((k) => values[k] !== undefined).map((k) => [k, values[k]])),
    ...fingerprints(o),
    ...(o.shard ? { shard: o.shard } : {}),
  };
  const same = sameConfig(dir, config);
  if (o.shard) {
    const results = readResults(dir);
    if (results && !results.summary.partial && same) throw new FinishedShard(dir, o.shard, results);
  }
  writeRunConfig(dir, config);
  return same;
}

function sameConfig(dir: string, config: object): boolean {
  try {
    return JSON.stringify(JSON.parse(fs.readFileSync(path.join(dir, CONFIG_FILE), 'utf8'))) === JSON.stringify(JSON.parse(JSON.stringify(config)));
  } catch {
    return false;
  }
}

/**
 * The hashes of what the run reads: the model's files (each model's) and a --data PATH's (see
 * userDataSha256), so that data edited since is another run. A built-in dataset's name says its
 * images (the package's own files).
 */
function fingerprints(o: ({ model: string } | { models: string[] }) & { data?: unknown }): object {
  const data = typeof o.data === 'string' && isDataPath(o.data) ? { dataSha256: userDataSha256(o.data) } : {};
  if ('models' in o) return { modelsSha256: o.models.map((m) => modelFingerprint(m) ?? null), ...data };
  const hash = modelFingerprint(o.model);
  return { ...(hash ? { modelSha256: hash } : {}), ...data };
}

export function writeExamples(dir: string, examples: readonly IndexedRecord[]): void {
  writeFileAtomic(path.join(dir, EXAMPLES_FILE), examples.map((e) => JSON.stringify(e) + '\n').join(''));
}

/** One shard's folder as merge reads it. */
export interface ShardFolder<E extends IndexedRecord = IndexedRecord> {
  dir: string;
  shard: Shard;
  /** config.json without the shard: the run's options. */
  config: Record<string, unknown>;
  results: Results;
  examples: E[];
}

function readShard<E extends IndexedRecord>(dir: string, command: string): ShardFolder<E> {
  if (markedCommand(dir) !== command) throw new AdvxError(`${dir} is not an advx ${command} run folder`);
  let config: Record<string, unknown>;
  try {
    config = JSON.parse(fs.readFileSync(path.join(dir, CONFIG_FILE), 'utf8'));
  } catch {
    throw new AdvxError(`${dir} has no readable ${CONFIG_FILE}: not a shard, or one that has not started`);
  }
  const { shard, ...rest } = config as { shard?: Shard };
  if (!shard) throw new AdvxError(`${dir} is not a shard: it was run without --shard`);
  const results = readResults(dir);
  if (!results) throw new AdvxError(`${dir} (shard ${shard.index}/${shard.count}) has no results.json: it has not finished; run it again`);
  if (results.summary.partial) throw new AdvxError(`${dir} (shard ${shard.index}/${shard.count}) is partial (${(results.summary.partial as { error: string }).error}): run it again`);
  let examples: E[];
  try {
    examples = fs.readFileSync(path.join(dir, EXAMPLES_FILE), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
  } catch {
    throw new AdvxError(`${dir} (shard ${shard.index}/${shard.count}) has no readable ${EXAMPLES_FILE}: run it again`);
  }
  return { dir, shard, config: rest, results, examples };
}

const shown = (v: unknown) => (v === undefined ? '(not set)' : JSON.stringify(v));

/**
 * Reads the shard folders `dirs` of a `command` run and checks that they are all the shards of one
 * run, each once: the same options but the shard (the model's hash among them), the same N, every
 * index from 0 to N−1; refuses anything else with one line. Returns them in shard order, with the
 * records of all of them in index order and the merged run's seconds: the sum of the shards'
 * (time spent, not time waited).
 */
export function readShards<E extends IndexedRecord>(dirs: string[], command: string): { shards: ShardFolder<E>[]; config: Record<string, unknown>; examples: E[]; seconds: number } {
  const shards = dirs.map((d) => readShard<E>(d, command));
  const [first] = shards;
  for (const s of shards.slice(1)) {
    if (s.shard.count !== first.shard.count) throw new AdvxError(`${s.dir} is shard ${s.shard.index} of ${s.shard.count}, ${first.dir} of ${first.shard.count}: merge the shards of one run`);
    const keys = [...new Set([...Object.keys(first.config), ...Object.keys(s.config)])];
    const differ = keys.filter((k) => JSON.stringify(first.config[k]) !== JSON.stringify(s.config[k]));
    if (differ.length) throw new AdvxError(`${s.dir} is a shard of another run than ${first.dir}: ${differ.map((k) => `${k} ${shown(s.config[k])} vs ${shown(first.config[k])}`).join(', ')}`);
  }
  const byIndex = new Map<number, ShardFolder<E>>();
  for (const s of shards) {
    const twin = byIndex.get(s.shard.index);
    if (twin) throw new AdvxError(`shard ${s.shard.index}/${s.shard.count} is given twice: ${twin.dir} and ${s.dir}`);
    byIndex.set(s.shard.index, s);
  }
  const missing = Array.from({ length: first.shard.count }, (_, i) => i).filter((i) => !byIndex.has(i));
  if (missing.length) throw new AdvxError(`shard${missing.length > 1 ? 's' : ''} ${missing.map((i) => `${i}/${first.shard.count}`).join(', ')} missing: merge needs all ${first.shard.count} shards of the run`);
  const ordered = [...byIndex.entries()].sort(([a], [b]) => a - b).map(([, s]) => s);
  const examples = ordered.flatMap((s) => s.examples).sort((a, b) => a.index - b.index);
  const gap = examples.findIndex((e, i) => e.index !== i);
  if (gap >= 0) throw new AdvxError(`the shards' ${EXAMPLES_FILE} do not hold examples 0 to ${examples.length - 1} once each (example ${gap} is wrong): run the shards again`);
  const seconds = ordered.reduce((t, s) => t + (s.results.summary.seconds as number), 0);
  return { shards: ordered, config: first.config, examples, seconds };
}
