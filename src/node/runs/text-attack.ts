/**
 * A run of `advx text-attack`: one text attack on the first --limit test messages of a class that
 * the model gets right, with config.json, examples.jsonl (one record per message), results.json and
 * report.html in its run folder.
 *
 * Each message is attacked alone (the attacks batch only the candidate edits of one message) with
 * the run's --seed, so a message's result depends on the message, the model and the options only:
 * a message is a block of one (core/shards.ts), and shard i of N attacks the messages m with
 * m mod N = i. A shard writes config.json, examples.jsonl and its own results.json; `advx merge`
 * writes the rest from the records of all shards, through the same summary and the same writers.
 */
import { AdvxError } from '../../core/errors.ts';
import { shardBlocks, type Shard } from '../../core/shards.ts';
import { loadSpam } from '../datasets/spam.ts';
import { loadWordNet } from '../datasets/wordnet.ts';
import { writeFileAtomic } from '../io/files.ts';
import { loadTextClassifier } from '../io/text-model.ts';
import { runTextAttack, type TextAttackName } from '../../text/attacks/index.ts';
import type { TextAttackResult, TextGoal } from '../../text/attacks/types.ts';
import { escapeHtml, HIGHLIGHT_CSS, highlightHtml } from '../../text/highlight.ts';
import type { RunFolder } from './folder.ts';
import { writeRunConfig } from './options.ts';
import { writeResults } from './results.ts';
import { readShards, writeExamples, writeShardConfig } from './shards.ts';

/** What a text-attack run is made of (the options of `advx text-attack`, checked). */
export interface TextAttackRunOptions {
  model: string;
  attack: TextAttackName;
  limit: number;
  budget: number;
  /** The true class of the messages attacked, by name. */
  class: string;
  /** The target class, by name (a targeted attack). */
  target?: string;
  seed: number;
  backend?: string;
  /** Attack only this shard's messages. */
  shard?: Shard;
}

/** The options the shards of one run agree on (merge checks); none that only says how it runs (--show, --threads). */
const IDENTITY = ['model', 'attack', 'limit', 'budget', 'class', 'target', 'seed', 'backend'] as const;

/** One message's result, with its position among the messages of the unsharded run. */
export type TextAttackRecord = TextAttackResult & { index: number };

/** The line --json prints, and results.json's summary. */
export interface TextAttackSummary {
  model: string;
  attack: string;
  budget: number;
  goal: TextGoal;
  count: number;
  success_rate: number;
  mean_edits: number | null;
  mean_queries: number;
  seconds: number;
  shard?: Shard;
}

/**
 * The run's figures from its records (in index order): the one summary of the unsharded run and
 * of merge, so they agree by construction. `seconds` is the time spent (merge: the shards' sum).
 */
export function summarizeTextAttack(records: readonly TextAttackResult[], o: Pick<TextAttackRunOptions, 'model' | 'attack' | 'budget'>, goal: TextGoal, seconds: number): TextAttackSummary {
  const wins = records.filter((r) => r.success);
  return {
    model: o.model,
    attack: o.attack,
    budget: o.budget,
    goal,
    count: records.length,
    success_rate: records.length ? wins.length / records.length : 0,
    mean_edits: wins.length ? wins.reduce((s, r) => s + r.edits.length, 0) / wins.length : null,
    mean_queries: records.length ? records.reduce((s, r) => s + r.queries, 0) / records.length : 0,
    seconds,
  };
}

export interface TextAttackOutcome {
  summary: TextAttackSummary;
  records: TextAttackRecord[];
  classNames: string[];
}

/**
 * Loads the model (the backend started), picks the messages, attacks this shard's (all without a
 * shard), and writes into `run` when there is one. `onResult` sees each result as it comes, with the model's class names.
 */
export async function runTextAttackRun(o: TextAttackRunOptions, run?: RunFolder, onResult?: (r: TextAttackRecord, classNames: string[]) => void, onProgress?: (done: number, total: number) => void): Promise<TextAttackOutcome> {
  const classifier = await loadTextClassifier(o.model);
  const { classNames } = classifier;
  const classIndex = (name: string, flag: string) => {
    const k = classNames.indexOf(name);
    if (k < 0) throw new AdvxError(`${flag} "${name}" is not a class of ${o.model} (${classNames.join(', ')})`);
    return k;
  };
  const source = classIndex(o.class, '--class');
  const goal: TextGoal = o.target === undefined ? { label: source } : { label: classIndex(o.target, '--target'), targeted: true };
  if (goal.targeted && goal.label === source) throw new AdvxError('--target must differ from --class');
  if (run) writeShardConfig(run.dir, o, IDENTITY);
  // Every shard picks the same messages: the whole pool is classified, then dealt.
  const pool = loadSpam().test.filter((e) => e.label === source);
  const pred = await classifier.predict(pool.map((e) => e.text));
  const texts = pool.filter((_, i) => pred[i] === source).slice(0, o.limit).map((e) => e.text);
  const synonyms = o.attack === 'synonyms' ? loadWordNet().synonyms : undefined;
  const records: TextAttackRecord[] = [];
  const start = performance.now();
  const indices = shardBlocks(texts.length, 1, o.shard);
  onProgress?.(0, indices.length);
  for (const index of indices) {
    const r = { index, ...(await runTextAttack(o.attack, classifier, texts[index], goal, { budget: o.budget, seed: o.seed, synonyms })) };
    records.push(r);
    onResult?.(r, classNames);
    onProgress?.(records.length, indices.length);
  }
  const summary = { ...summarizeTextAttack(records, o, goal, (performance.now() - start) / 1000), ...(o.shard ? { shard: o.shard } : {}) };
  if (run) writeRunFiles(run, o, summary, records, classNames);
  return { summary, records, classNames };
}

/**
 * `advx merge` for text-attack runs: the records of all the shards in `dirs` (checked to be the
 * shards of one run) summarised as the unsharded run does, and its files written into the run
 * folder `openRun` opens; the seconds are the shards' sum (time spent, not time waited).
 */
export function mergeTextAttack(dirs: string[], openRun: () => RunFolder): TextAttackSummary {
  const { shards, config, examples, seconds } = readShards<TextAttackRecord>(dirs, 'text-attack');
  const run = openRun(); // after the checks: a refused merge leaves no folder behind
  const o = config as unknown as TextAttackRunOptions;
  const first = shards[0].results;
  const summary = summarizeTextAttack(examples, o, first.summary.goal as TextGoal, seconds);
  writeRunConfig(run.dir, config);
  writeRunFiles(run, o, summary, examples, first.classes as string[]);
  return summary;
}

/** examples.jsonl and results.json (the results without their index, in index order); unless a shard, report.html. */
function writeRunFiles(run: RunFolder, o: TextAttackRunOptions, summary: TextAttackSummary, records: TextAttackRecord[], classNames: string[]): void {
  writeExamples(run.dir, records);
  const results = records.map(({ index: _, ...r }) => r);
  writeResults(run.dir, 'text-attack', summary, { classes: classNames, examples: results }, 1);
  if (o.shard) return;
  const { goal } = summary;
  const blocks = results.map((r, i) => `<h3>#${i + 1}: ${r.success ? 'success' : 'failed'}, ${r.edits.length} edits, ${r.queries} queries, p(${escapeHtml(classNames[goal.label])}) ${r.before[goal.label].toFixed(3)} → ${r.after[goal.label].toFixed(3)}</h3>${highlightHtml(r.segments)}`);
  writeFileAtomic(run.path('report.html'), `<!doctype html><meta charset="utf-8"><title>advx text-attack</title><style>body{font-family:sans-serif;max-width:60rem;margin:auto}${HIGHLIGHT_CSS}</style><h1>${escapeHtml(o.attack)} on ${escapeHtml(o.model)}</h1><p>success rate ${(summary.success_rate * 100).toFixed(1)}%, mean edits ${summary.mean_edits?.toFixed(2) ?? '–'}</p>${blocks.join('\n')}`);
}
