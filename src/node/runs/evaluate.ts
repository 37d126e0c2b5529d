/**
 * A run of `advx evaluate`: the model's top-1 prediction for each example, in blocks of --batch
 * (eval/accuracy.ts), and the accuracy from those records. With a run folder it writes config.json,
 * examples.jsonl (one record per example) and results.json.
 *
 * An example's prediction depends on its block only, so shard i of N predicts the blocks b with
 * b mod N = i (core/shards.ts) and `advx merge` joins the shards' records through the same summary.
 */
import type { AnyModel } from '../../attacks/index.ts';
import type { Shard } from '../../core/shards.ts';
import type { ImageDataset } from '../../data/types.ts';
import { labelRecords, type LabelRecord } from '../../eval/accuracy.ts';
import type { OnProgress } from '../io/progress.ts';
import type { RunFolder } from './folder.ts';
import type { LabelsNote } from './inputs.ts';
import { writeRunConfig } from './options.ts';
import { writeResults } from './results.ts';
import { readShards, writeExamples, writeShardConfig } from './shards.ts';

/**
 * The options that make an evaluate run what it is (its shards agree on all of them); none that
 * only says how it runs (--threads, --timeout, --retries, --request-batch, --concurrency).
 */
const IDENTITY = ['model', 'data', 'split', 'limit', 'batch', 'protocol', 'labelsOnly', 'outputs', 'runtime', 'output', 'backend'] as const;

/** config.json of an evaluate run: its options (the flags of `advx evaluate`), the model's hash and the shard. */
export function writeEvaluateConfig(dir: string, flags: { model: string; shard?: Shard; [option: string]: unknown }): void {
  writeShardConfig(dir, flags, IDENTITY);
}

/** The line --json prints (with the runtime's queries), and results.json's summary. */
export interface EvaluateSummary {
  accuracy: number;
  count: number;
  seconds: number;
  /** Set when the data had no labels and the model's own predictions stand in for them. */
  labels?: 'model predictions';
  shard?: Shard;
}

/**
 * The run's figures from its records: the one summary of the unsharded run and of merge, so they
 * agree by construction. `seconds` is the time spent (merge: the shards' sum).
 */
export function summarizeEvaluate(records: readonly LabelRecord[], seconds: number, labelsNote: LabelsNote): EvaluateSummary {
  return { accuracy: records.length ? records.filter((r) => r.correct).length / records.length : 0, count: records.length, seconds, ...labelsNote };
}

/** Predicts this shard's blocks (all without one) and, with a run folder, writes examples.jsonl and results.json. */
export async function runEvaluate(model: AnyModel, data: ImageDataset, o: { batch: number; shard?: Shard; labelsNote: LabelsNote; onProgress?: OnProgress }, run?: RunFolder): Promise<EvaluateSummary> {
  const start = performance.now();
  const records = await labelRecords(model, data, o.batch, o.shard, o.onProgress);
  const summary = { ...summarizeEvaluate(records, (performance.now() - start) / 1000, o.labelsNote), ...(o.shard ? { shard: o.shard } : {}) };
  if (run) writeRunFiles(run.dir, summary, records);
  return summary;
}

function writeRunFiles(dir: string, summary: EvaluateSummary, records: readonly LabelRecord[]): void {
  writeExamples(dir, records);
  writeResults(dir, 'evaluate', summary);
}

/**
 * `advx merge` for evaluate runs: the records of all the shards in `dirs` (checked to be the shards
 * of one run) summarised as the unsharded run does, written into the run folder `openRun` opens.
 */
export function mergeEvaluate(dirs: string[], openRun: () => RunFolder): EvaluateSummary {
  const { shards, config, examples, seconds } = readShards<LabelRecord>(dirs, 'evaluate');
  const run = openRun(); // after the checks: a refused merge leaves no folder behind
  const first = shards[0].results.summary as unknown as EvaluateSummary;
  const summary = summarizeEvaluate(examples, seconds, first.labels ? { labels: first.labels } : {});
  writeRunConfig(run.dir, config);
  writeRunFiles(run.dir, summary, examples);
  return summary;
}
