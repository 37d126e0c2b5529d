/**
 * `advx text-attack`: text adversarial examples against a spam classifier (models/spam-word,
 * models/spam-char) on advx's SpamAssassin test split. Attacks the first --limit test messages
 * of --class the model gets right; untargeted, or targeted with --target. Prints each example
 * with its edits highlighted (unless --json), writes results.json and report.html with --out, and
 * with --json prints {"success_rate":…, "mean_edits":…, …} as the last line.
 */
import { Command, Option } from 'commander';
import pc from 'picocolors';
import { AdvxError } from '../core/errors.ts';
import { writeFileAtomic } from '../node/io/files.ts';
import { writeResults as writeRunResults } from '../node/runs/results.ts';
import { openRunFolder } from '../node/runs/folder.ts';
import { parseBackend } from '../backend/index.ts';
import { loadSpam } from '../node/datasets/spam.ts';
import { loadTextClassifier } from '../node/io/text-model.ts';
import { loadWordNet } from '../node/datasets/wordnet.ts';
import { parseTextAttack, runTextAttack, TEXT_ATTACKS } from '../text/attacks/index.ts';
import type { TextAttackResult, TextGoal } from '../text/attacks/types.ts';
import { escapeHtml, HIGHLIGHT_CSS, highlightAnsi, highlightHtml } from '../text/highlight.ts';
import { nonNegativeInt, seedInt, positiveInt, printJson, startBackend, withBackend, type BackendFlags } from './common.ts';
import { COMMANDS } from './commands.ts';

interface TextAttackFlags extends BackendFlags {
  model: string;
  attack: string;
  limit: number;
  budget: number;
  class: string;
  target?: string;
  seed: number;
  show: number;
  out?: string;
  json?: boolean;
}

export function textAttackCommand(): Command {
  return withBackend(new Command('text-attack'))
    .description(COMMANDS['text-attack'].summary)
    .requiredOption('--model <dir>', 'text model folder (model.json + text.json), e.g. models/spam-word, models/spam-word-adv (adversarially trained)')
    .addOption(new Option('--attack <name>', `attack: ${Object.keys(TEXT_ATTACKS).join(', ')}`).default('liang'))
    .option('--limit <n>', 'attack the first n test messages of --class that the model gets right', positiveInt('--limit'), 100)
    .option('--budget <n>', 'most edits per message', nonNegativeInt('--budget'), 5)
    .option('--class <name>', 'true class of the messages to attack', 'spam')
    .option('--target <name>', 'target class (targeted attack); default untargeted')
    .option('--seed <n>', 'seed', seedInt('--seed'), 0)
    .option('--show <n>', 'print the first n adversarial texts, edits highlighted', nonNegativeInt('--show'), 3)
    .option('--out <dir>', 'folder for results.json and report.html')
    .option('--json', 'print {"success_rate":…, "mean_edits":…} as the last line')
    .action((flags: TextAttackFlags) => textAttack(flags));
}

async function textAttack(flags: TextAttackFlags): Promise<void> {
  const attack = parseTextAttack(flags.attack);
  parseBackend(flags.backend);
  const run = flags.out !== undefined ? openRunFolder(flags.out, { command: 'text-attack' }) : undefined;
  await startBackend(flags);
  const classifier = await loadTextClassifier(flags.model);
  const classIndex = (name: string, flag: string) => {
    const k = classifier.classNames.indexOf(name);
    if (k < 0) throw new AdvxError(`${flag} "${name}" is not a class of ${flags.model} (${classifier.classNames.join(', ')})`);
    return k;
  };
  const source = classIndex(flags.class, '--class');
  const goal: TextGoal = flags.target === undefined ? { label: source } : { label: classIndex(flags.target, '--target'), targeted: true };
  if (goal.targeted && goal.label === source) throw new AdvxError('--target must differ from --class');
  const pool = loadSpam().test.filter((e) => e.label === source);
  const pred = await classifier.predict(pool.map((e) => e.text));
  const texts = pool.filter((_, i) => pred[i] === source).slice(0, flags.limit).map((e) => e.text);
  const synonyms = attack === 'synonyms' ? loadWordNet().synonyms : undefined;
  const results: TextAttackResult[] = [];
  const start = performance.now();
  for (const text of texts) {
    const r = await runTextAttack(attack, classifier, text, goal, { budget: flags.budget, seed: flags.seed, synonyms });
    results.push(r);
    if (!flags.json && results.length <= flags.show) {
      const p = (q: number[]) => `${classifier.classNames[goal.label]} ${(q[goal.label] * 100).toFixed(1)}%`;
      process.stdout.write(`${pc.bold(`#${results.length}`)} ${r.success ? pc.green('success') : pc.red('failed')}, ${r.edits.length} edits, ${r.queries} queries, ${p(r.before)} → ${p(r.after)}\n`);
      process.stdout.write(`${highlightAnsi(r.segments).slice(0, 800)}\n\n`);
    }
  }
  const seconds = (performance.now() - start) / 1000;
  const wins = results.filter((r) => r.success);
  const summary = {
    model: flags.model,
    attack,
    budget: flags.budget,
    goal,
    count: results.length,
    success_rate: results.length ? wins.length / results.length : 0,
    mean_edits: wins.length ? wins.reduce((s, r) => s + r.edits.length, 0) / wins.length : null,
    mean_queries: results.length ? results.reduce((s, r) => s + r.queries, 0) / results.length : 0,
    seconds,
  };
  if (run) {
    writeRunResults(run.dir, 'text-attack', summary, { examples: results }, 1);
    const blocks = results.map((r, i) => `<h3>#${i + 1}: ${r.success ? 'success' : 'failed'}, ${r.edits.length} edits, ${r.queries} queries, p(${escapeHtml(classifier.classNames[goal.label])}) ${r.before[goal.label].toFixed(3)} → ${r.after[goal.label].toFixed(3)}</h3>${highlightHtml(r.segments)}`);
    writeFileAtomic(run.path('report.html'), `<!doctype html><meta charset="utf-8"><title>advx text-attack</title><style>body{font-family:sans-serif;max-width:60rem;margin:auto}${HIGHLIGHT_CSS}</style><h1>${escapeHtml(attack)} on ${escapeHtml(flags.model)}</h1><p>success rate ${(summary.success_rate * 100).toFixed(1)}%, mean edits ${summary.mean_edits?.toFixed(2) ?? '–'}</p>${blocks.join('\n')}`);
  }
  if (flags.json) printJson(summary);
  else process.stdout.write(`${attack}: success ${(summary.success_rate * 100).toFixed(1)}% of ${results.length}, mean edits ${summary.mean_edits?.toFixed(2) ?? '–'}, mean queries ${summary.mean_queries.toFixed(0)} (${seconds.toFixed(1)} s)\n`);
}
