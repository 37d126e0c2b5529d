/**
 * A run of `advx transfer`: the transfer matrix (eval/transfer.ts) over the examples in blocks of
 * --batch, with config.json, examples.jsonl (one record per example: which models classify it
 * correctly, which targets each source's adversarial example fools), results.json and report.html
 * in its run folder.
 *
 * Each block is attacked on each source with the run's --seed, so a block's records depend on its
 * images only: shard i of N runs the blocks b with b mod N = i (core/shards.ts) and writes all but
 * the report; `advx merge` joins the shards' records through the same summary and writers.
 */
import { shardBlocks, type Shard } from '../../core/shards.ts';
import { gatherBatch } from '../../data/batch.ts';
import type { ImageDataset } from '../../data/types.ts';
import type { AnyModel } from '../../attacks/index.ts';
import { summarizeTransfer, transferRecords, transferSources, type TransferMatrix, type TransferRecord } from '../../eval/transfer.ts';
import { RemoteModel } from '../../models/remote.ts';
import type { RunFolder } from './folder.ts';
import type { LabelsNote } from './inputs.ts';
import { writeRunConfig } from './options.ts';
import { writeTransferReport } from './reports.ts';
import { writeResults } from './results.ts';
import { readShards, writeExamples, writeShardConfig } from './shards.ts';

/** What a transfer run is made of (the options of `advx transfer`, checked). */
export interface TransferRunOptions {
  models: string[];
  attack: string;
  eps: number;
  norm: 'linf' | 'l2';
  steps?: number;
  stepSize?: number;
  seed: number;
  data: string;
  limit: number;
  batch: number;
  /** Run only this shard's blocks. */
  shard?: Shard;
}

/** The options the shards of one run agree on (merge checks); none that only says how it runs (--threads, --timeout, --retries, --request-batch, --concurrency). */
const IDENTITY = ['models', 'attack', 'eps', 'norm', 'steps', 'stepSize', 'seed', 'data', 'limit', 'batch', 'protocol', 'labelsOnly', 'outputs', 'backend'] as const;

/** config.json of a transfer run: its options, each model's hash and the shard. */
export function writeTransferConfig(dir: string, o: TransferRunOptions & Record<string, unknown>): void {
  writeShardConfig(dir, o, IDENTITY);
}

/** What each served model answered: the clean images and every source's adversarial examples. */
type Endpoints = Record<string, { queries: number; requests: number }>;

/** results.json's summary and the line --json prints (which leaves out the options). */
export type TransferSummary = TransferMatrix & {
  data: string;
  count: number;
  attack: string;
  eps: number;
  norm: string;
  steps?: number;
  stepSize?: number;
  seed: number;
  batch: number;
  endpoints?: Endpoints;
  labels?: 'model predictions';
  seconds: number;
  shard?: Shard;
};

/**
 * The run's summary from its records (in index order): the one summary of the unsharded run and
 * of merge, so they agree by construction. The seconds and the endpoints' use are the run's
 * (merge: the shards' sums).
 */
function summarize(o: TransferRunOptions, sources: number[], records: TransferRecord[], use: { seconds: number; endpoints?: Endpoints; labels?: 'model predictions' }): TransferSummary {
  const { data, attack, eps, norm, steps, stepSize, seed, batch } = o;
  const m = summarizeTransfer(o.models, sources, records);
  return { data, count: records.length, attack, eps, norm, steps, stepSize, seed, batch, ...m, ...(use.endpoints ? { endpoints: use.endpoints } : {}), ...(use.labels ? { labels: use.labels } : {}), seconds: use.seconds };
}

/** Runs this shard's blocks (all without one) and, with a run folder, writes its files. `models` in the order of o.models. */
export async function runTransfer(models: AnyModel[], data: ImageDataset, o: TransferRunOptions, labelsNote: LabelsNote, run?: RunFolder, onProgress?: (done: number, total: number) => void): Promise<TransferSummary> {
  const named = models.map((classifier, i) => ({ name: o.models[i], classifier }));
  const sources = transferSources(named);
  const attack = { name: o.attack, options: { eps: o.eps, norm: o.norm, steps: o.steps, stepSize: o.stepSize, seed: o.seed } };
  const records: TransferRecord[] = [];
  const start = performance.now();
  const blocks = shardBlocks(data.count, o.batch, o.shard);
  const total = blocks.reduce((n, block) => n + Math.min(o.batch, data.count - block * o.batch), 0);
  onProgress?.(0, total);
  for (const block of blocks) {
    const first = block * o.batch;
    const { x, y } = gatherBatch(data, Array.from({ length: Math.min(o.batch, data.count - first) }, (_, i) => first + i));
    try {
      records.push(...(await transferRecords(named, x, y, attack, first)));
    } finally {
      x.dispose();
      y.dispose();
    }
    onProgress?.(records.length, total);
  }
  const served = models.flatMap((m, i) => (m instanceof RemoteModel ? [[o.models[i], { queries: m.queries, requests: m.requests }] as const] : []));
  const use = { seconds: (performance.now() - start) / 1000, ...(served.length ? { endpoints: Object.fromEntries(served) } : {}), ...labelsNote };
  const summary = { ...summarize(o, sources, records, use), ...(o.shard ? { shard: o.shard } : {}) };
  if (run) writeRunFiles(run, o, summary, records);
  return summary;
}

/**
 * `advx merge` for transfer runs: the records of all the shards in `dirs` (checked to be the shards
 * of one run) summarised as the unsharded run does, written into the run folder `openRun` opens.
 */
export function mergeTransfer(dirs: string[], openRun: () => RunFolder): TransferSummary {
  const { shards, config, examples, seconds } = readShards<TransferRecord>(dirs, 'transfer');
  const run = openRun(); // after the checks: a refused merge leaves no folder behind
  const o = config as unknown as TransferRunOptions;
  const summaries = shards.map((s) => s.results.summary as unknown as TransferSummary);
  const endpoints: Endpoints = {};
  for (const [url, q] of summaries.flatMap((s) => Object.entries(s.endpoints ?? {}))) {
    const sum = (endpoints[url] ??= { queries: 0, requests: 0 });
    sum.queries += q.queries;
    sum.requests += q.requests;
  }
  const use = { seconds, ...(Object.keys(endpoints).length ? { endpoints } : {}), ...(summaries[0].labels ? { labels: summaries[0].labels } : {}) };
  const summary = summarize(o, summaries[0].sources, examples, use);
  writeRunConfig(run.dir, config);
  writeRunFiles(run, o, summary, examples);
  return summary;
}

/** examples.jsonl and results.json; unless a shard, report.html. */
function writeRunFiles(run: RunFolder, o: TransferRunOptions, summary: TransferSummary, records: TransferRecord[]): void {
  writeExamples(run.dir, records);
  writeResults(run.dir, 'transfer', summary);
  if (!o.shard) writeTransferReport(run.dir, summary, { data: o.data, count: summary.count, attack: o.attack, eps: o.eps, norm: o.norm });
}
