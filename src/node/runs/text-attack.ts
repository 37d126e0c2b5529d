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
import { escapeHtml, HIGHLIGHT_CSS, highlightHtml, originalHtml } from '../../text/highlight.ts';
import { isWord, tokenize } from '../../text/tokenize.ts';
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
  /** Messages attacked (TextAttack's succeeded + failed). */
  count: number;
  succeeded: number;
  failed: number;
  /**
   * Messages of --class the model already got wrong, passed over on the way to the --limit it
   * gets right: not attacked (the run's figure, in every shard's summary too).
   */
  skipped: number;
  /** succeeded / count. */
  success_rate: number;
  mean_edits: number | null;
  /** TextAttack's "average perturbed word %": over the successes, perturbed words / words of the original × 100. */
  mean_perturbed_pct: number | null;
  mean_queries: number;
  /** Words (tokens that are not punctuation, src/text/tokenize.ts) of the originals attacked, on average. */
  mean_words: number;
  seconds: number;
  shard?: Shard;
}

/**
 * The run's figures from its records (in index order): the one summary of the unsharded run and
 * of merge, so they agree by construction. `seconds` is the time spent (merge: the shards' sum).
 */
export function summarizeTextAttack(records: readonly TextAttackResult[], o: Pick<TextAttackRunOptions, 'model' | 'attack' | 'budget'>, goal: TextGoal, skipped: number, seconds: number): TextAttackSummary {
  const wins = records.filter((r) => r.success);
  const mean = (rs: readonly TextAttackResult[], f: (r: TextAttackResult) => number) => rs.reduce((s, r) => s + f(r), 0) / rs.length;
  return {
    model: o.model,
    attack: o.attack,
    budget: o.budget,
    goal,
    count: records.length,
    succeeded: wins.length,
    failed: records.length - wins.length,
    skipped,
    success_rate: records.length ? wins.length / records.length : 0,
    mean_edits: wins.length ? mean(wins, (r) => r.edits.length) : null,
    mean_perturbed_pct: wins.length ? mean(wins, (r) => (100 * perturbedWords(r)) / Math.max(1, wordCount(r.original))) : null,
    mean_queries: records.length ? mean(records, (r) => r.queries) : 0,
    mean_words: records.length ? mean(records, (r) => wordCount(r.original)) : 0,
    seconds,
  };
}

/** Words of a text: its tokens that are not punctuation marks. */
export function wordCount(text: string): number {
  return tokenize(text).filter(isWord).length;
}

/** Words an attack perturbed: the original tokens it changed or deleted (each once), and the words it inserted. */
export function perturbedWords(r: Pick<TextAttackResult, 'edits'>): number {
  const changed = new Set<number>();
  let inserted = 0;
  for (const e of r.edits) {
    if (e.kind === 'insert') inserted++;
    else changed.add(e.position);
  }
  return changed.size + inserted;
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
  // The first --limit messages it gets right; the ones it gets wrong on the way are skipped.
  const texts: string[] = [];
  let skipped = 0;
  for (let i = 0; i < pool.length && texts.length < o.limit; i++) {
    if (pred[i] === source) texts.push(pool[i].text);
    else skipped++;
  }
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
  const summary = { ...summarizeTextAttack(records, o, goal, skipped, (performance.now() - start) / 1000), ...(o.shard ? { shard: o.shard } : {}) };
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
  const summary = summarizeTextAttack(examples, o, first.summary.goal as TextGoal, (first.summary.skipped as number | undefined) ?? 0, seconds);
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
  writeFileAtomic(run.path('report.html'), textAttackReport(o, summary, results, classNames));
}

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;

/** The summary as TextAttack prints it: rows of [label, value]. */
export function summaryRows(s: TextAttackSummary): [string, string][] {
  const total = s.count + s.skipped;
  return [
    ['Number of successful attacks', String(s.succeeded)],
    ['Number of failed attacks', String(s.failed)],
    ['Number of skipped attacks', String(s.skipped)],
    ['Original accuracy', total ? pct(s.count / total) : '–'],
    ['Accuracy under attack', total ? pct(s.failed / total) : '–'],
    ['Attack success rate', pct(s.success_rate)],
    ['Average perturbed word %', s.mean_perturbed_pct === null ? '–' : `${s.mean_perturbed_pct.toFixed(2)}%`],
    ['Average edits (successes)', s.mean_edits === null ? '–' : s.mean_edits.toFixed(2)],
    ['Average num. words per input', s.mean_words.toFixed(1)],
    ['Avg num queries', s.mean_queries.toFixed(1)],
  ];
}

/**
 * report.html: the TextAttack-style summary table, then each message before → after: the original
 * with the words the attack removed or changed marked, the adversarial text with its new words
 * marked, and the model's class and probability on each.
 */
export function textAttackReport(o: Pick<TextAttackRunOptions, 'attack' | 'model' | 'budget' | 'class' | 'target'>, summary: TextAttackSummary, results: readonly TextAttackResult[], classNames: readonly string[]): string {
  const { goal } = summary;
  const verdict = (p: number[]) => {
    const k = p.indexOf(Math.max(...p));
    return `${escapeHtml(classNames[k] ?? String(k))} ${pct(p[k])}`;
  };
  const rows = summaryRows(summary).map(([k, v]) => `<tr><th>${escapeHtml(k)}</th><td>${escapeHtml(v)}</td></tr>`).join('');
  const blocks = results.map((r, i) => {
    const status = r.success ? '<span class="ok">success</span>' : '<span class="ko">failed</span>';
    const head = `<h3>#${i + 1}: ${status}, ${r.edits.length} edits (${perturbedWords(r)} of ${wordCount(r.original)} words perturbed), ${r.queries} queries, p(${escapeHtml(classNames[goal.label])}) ${r.before[goal.label].toFixed(3)} → ${r.after[goal.label].toFixed(3)}</h3>`;
    return `<section class="example">${head}<div class="pair"><div><h4>original: ${verdict(r.before)}</h4>${originalHtml(r.original, r.edits)}</div><div class="arrow">→</div><div><h4>adversarial: ${verdict(r.after)}</h4>${highlightHtml(r.segments)}</div></div></section>`;
  });
  const goalText = goal.targeted ? `targeted: ${escapeHtml(o.class)} → ${escapeHtml(o.target ?? classNames[goal.label])}` : `untargeted, messages of ${escapeHtml(o.class)}`;
  const css = `body{font-family:sans-serif;max-width:80rem;margin:auto;padding:0 1rem}table.summary{border-collapse:collapse}table.summary th,table.summary td{border:1px solid #ccc;padding:.2rem .6rem;text-align:left}table.summary td{text-align:right;font-variant-numeric:tabular-nums}.pair{display:grid;grid-template-columns:1fr auto 1fr;gap:.8rem}.pair .arrow{align-self:center;font-size:1.5rem}.pair .adv-text{max-height:24rem;overflow:auto;border:1px solid #ddd;padding:.4rem}h4{margin:.3rem 0}.ok{color:#070}.ko{color:#b00}${HIGHLIGHT_CSS}`;
  return `<!doctype html><meta charset="utf-8"><title>advx text-attack</title><style>${css}</style><h1>${escapeHtml(o.attack)} on ${escapeHtml(o.model)}</h1><p>${goalText}, budget ${o.budget} edits</p><table class="summary">${rows}</table>\n${blocks.join('\n')}`;
}
