/**
 * `advx attack --shard i/N` and its merge (the contract: shards.ts, core/shards.ts). A shard
 * attacks its blocks of --batch images (attack.ts) and writes config.json, examples.jsonl, its own
 * results.json and the PNGs of its examples among the first --images; merge joins the records
 * through summarizeAttack, copies the shards' PNGs, composes the grid from them as the unsharded
 * run does, and writes the report.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../io/files.ts';
import { exampleFiles, perturbationScale, summarizeAttack, writeAttackGrid, writeAttackResultsFile, type AttackRunSummary, type ExampleResult } from './attack.ts';
import type { RunFolder } from './folder.ts';
import { writeRunConfig } from './options.ts';
import { writeAttackReport } from './reports.ts';
import { readShards, writeExamples, writeShardConfig, type Shard } from './shards.ts';

/**
 * The options that make an attack run what it is (the shards of one run agree on all of them);
 * none that only says how it runs (--threads, --timeout, --retries, --request-batch, --concurrency).
 */
const IDENTITY = ['model', 'attack', 'eps', 'norm', 'steps', 'stepSize', 'queries', 'restarts', 'confidence', 'c', 'target', 'samples', 'data', 'limit', 'batch', 'images', 'printScale', 'seed', 'protocol', 'labelsOnly', 'outputs', 'runtime', 'output', 'backend'] as const;

/** config.json of an attack run: its options (the flags of `advx attack`), the model's hash and the shard. */
export function writeAttackConfig(dir: string, flags: { model: string; shard?: Shard; [option: string]: unknown }): void {
  writeShardConfig(dir, flags, IDENTITY);
}

interface AttackConfig {
  model: string;
  data: string;
  attack: string;
  eps: number;
  norm: 'linf' | 'l2';
  target?: number;
  images: number;
  printScale?: number;
}

/**
 * `advx merge` for attack runs: the records of all the shards in `dirs` (checked to be the shards
 * of one run) summarised as the unsharded run does, and its files written into the run folder
 * `openRun` opens. The seconds are the shards' sum (time spent); the iterations, the most any
 * shard's blocks took, as the unsharded run's are the most of its blocks'.
 */
export function mergeAttack(dirs: string[], openRun: () => RunFolder): AttackRunSummary {
  const { shards, config, examples, seconds } = readShards<ExampleResult>(dirs, 'attack');
  const run = openRun(); // after the checks: a refused merge leaves no folder behind
  const o = config as unknown as AttackConfig;
  const summaries = shards.map((s) => s.results.summary as unknown as AttackRunSummary);
  const summary = summarizeAttack(examples, o, Math.max(...summaries.map((s) => s.iterations)), seconds);
  const classNames = shards[0].results.classes as string[];
  // The PNGs: each example's from the shard that attacked it.
  const home = new Map(shards.flatMap((s) => s.examples.map((e) => [e.index, s.dir] as const)));
  const kept = examples.filter((e) => e.index < o.images);
  const files = kept.map((e) => exampleFiles(e, classNames, o.printScale));
  const names = files.map((f) => Object.values(f).filter((x): x is string => x !== undefined));
  run.record(names.flat());
  kept.forEach((e, k) => {
    for (const name of names[k]) writeFileAtomic(run.path(name), readFileSync(join(home.get(e.index)!, name)));
  });
  writeAttackGrid(run, files, kept, (e) => perturbationScale(e, o.attack, o.eps), classNames);
  writeRunConfig(run.dir, config);
  writeExamples(run.dir, examples);
  writeAttackResultsFile(run.dir, summary, classNames);
  writeAttackReport(run.dir, summary, { model: o.model, data: o.data, classNames, grid: files.length ? readFileSync(run.path('grid.png')) : undefined });
  return summary;
}
