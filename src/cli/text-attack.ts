/**
 * `advx text-attack`: text adversarial examples against a spam classifier (models/spam-word,
 * models/spam-char) on advx's SpamAssassin test split. Attacks the first --limit test messages
 * of --class the model gets right; untargeted, or targeted with --target. Prints each example
 * with its edits highlighted (unless --json), writes config.json, examples.jsonl, results.json and
 * report.html with --out (a shard, --shard i/N: all but the report), and with --json prints
 * {"success_rate":…, "mean_edits":…, …} as the last line. The report is TextAttack's summary (attacked,
 * succeeded, failed, skipped, perturbed words, queries) and each message before → after. The run itself: node/runs/text-attack.ts.
 */
import { Command, Option } from 'commander';
import pc from 'picocolors';
import { AdvxError } from '../core/errors.ts';
import { runTextAttackRun } from '../node/runs/text-attack.ts';
import { parseBackend } from '../backend/index.ts';
import { parseTextAttack, TEXT_ATTACKS } from '../text/attacks/index.ts';
import { highlightAnsi } from '../text/highlight.ts';
import { progressCounter } from '../node/io/progress.ts';
import { quietOption, nonNegativeInt, seedInt, positiveInt, printJson, startBackend, withBackend, type BackendFlags } from './common.ts';
import { COMMANDS } from './commands.ts';
import { runHere, withDistribution, type DistributionFlags } from './distribute.ts';

interface TextAttackFlags extends DistributionFlags, BackendFlags {
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
  quiet?: boolean;
}

export function textAttackCommand(): Command {
  return withDistribution(withBackend(new Command('text-attack')))
    .description(COMMANDS['text-attack'].summary)
    .requiredOption('--model <dir>', 'text model folder (model.json + text.json), e.g. models/spam-word, models/spam-word-adv (adversarially trained)')
    .addOption(new Option('--attack <name>', `attack: ${Object.keys(TEXT_ATTACKS).join(', ')}`).default('liang'))
    .option('--limit <n>', 'attack the first n test messages of --class that the model gets right', positiveInt('--limit'), 100)
    .option('--budget <n>', 'most edits per message', nonNegativeInt('--budget'), 5)
    .option('--class <name>', 'true class of the messages to attack', 'spam')
    .option('--target <name>', 'target class (targeted attack); default untargeted')
    .option('--seed <n>', 'seed', seedInt('--seed'), 0)
    .option('--show <n>', 'print the first n adversarial texts, edits highlighted', nonNegativeInt('--show'), 3)
    .option('--out <dir>', 'folder for config.json, examples.jsonl (one record per message), results.json and report.html')
    .option('--shard <i/N>', 'attack only shard i of N (i from 0; messages dealt round-robin) into --out; `advx merge` joins the N shards into the unsharded run\'s results')
    .option('--json', 'print {"success_rate":…, "mean_edits":…} as the last line')
    .addOption(quietOption())
    .action((flags: TextAttackFlags) => textAttack(flags));
}

async function textAttack(flags: TextAttackFlags): Promise<void> {
  const attack = parseTextAttack(flags.attack);
  parseBackend(flags.backend);
  const here = await runHere('text-attack', flags, [flags.model]);
  if (!here) return;
  const { run, shard } = here;
  await startBackend(flags);
  let shown = 0;
  // Progress on stderr, also with --json: messages done. The examples shown go to stdout, so
  // without --json on a terminal the bar is left out (it would be torn by them); piped, its lines
  // are on stderr and do not mix.
  const bar = progressCounter(`${attack}: messages`, flags.quiet || (!flags.json && flags.show > 0 && !!process.stdout.isTTY && !!process.stderr.isTTY));
  const { summary } = await runTextAttackRun({ ...flags, attack, shard }, run, (r, classNames) => {
    if (flags.json || shown >= flags.show) return;
    shown++;
    const p = (q: number[]) => `${classNames[r.goal.label]} ${(q[r.goal.label] * 100).toFixed(1)}%`;
    process.stdout.write(`${pc.bold(`#${r.index + 1}`)} ${r.success ? pc.green('success') : pc.red('failed')}, ${r.edits.length} edits, ${r.queries} queries, ${p(r.before)} → ${p(r.after)}\n`);
    process.stdout.write(`${highlightAnsi(r.segments).slice(0, 800)}\n\n`);
  }, bar.update).finally(() => bar.stop());
  if (flags.json) printJson(summary);
  else {
    if (shard) process.stdout.write(`shard ${shard.index}/${shard.count} of the run: ${summary.count} of its messages; advx merge joins the shards\n`);
    process.stdout.write(`${attack}: success ${(summary.success_rate * 100).toFixed(1)}% of ${summary.count} (${summary.succeeded} succeeded, ${summary.failed} failed, ${summary.skipped} skipped: already misclassified), mean edits ${summary.mean_edits?.toFixed(2) ?? '–'}, mean queries ${summary.mean_queries.toFixed(0)} (${summary.seconds.toFixed(1)} s)\n`);
  }
}
