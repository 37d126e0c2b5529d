/** `advx merge`: the shards of a sharded run (`--shard i/N`) joined into the unsharded run's results. */
import { Command } from 'commander';
import * as path from 'node:path';
import { AdvxError } from '../core/errors.ts';
import { markedCommand, openRunFolder, type RunFolder } from '../node/runs/folder.ts';
import { mergeAttack } from '../node/runs/attack-shards.ts';
import type { AttackRunSummary } from '../node/runs/attack.ts';
import { mergeEvaluate, type EvaluateSummary } from '../node/runs/evaluate.ts';
import { mergeRobustness, type RobustnessSummary } from '../node/runs/robustness.ts';
import { mergeTextAttack, type TextAttackSummary } from '../node/runs/text-attack.ts';
import { mergeTransfer, type TransferSummary } from '../node/runs/transfer.ts';
import { printJson } from './common.ts';
import { COMMANDS } from './commands.ts';

const pct = (v: number, digits = 1) => `${(v * 100).toFixed(digits)}%`;

/** Each command whose runs shard: its merge, and the line that says what the merged run found. */
export const MERGES: Record<string, { merge: (dirs: string[], openRun: () => RunFolder) => object; found: (summary: never) => string }> = {
  evaluate: { merge: mergeEvaluate, found: (s: EvaluateSummary) => `accuracy ${pct(s.accuracy, 2)} on ${s.count} images` },
  robustness: {
    merge: mergeRobustness,
    found: (s: RobustnessSummary) => `${s.count} images, clean accuracy ${pct(s.clean_accuracy, 2)}, worst-case robust accuracy ${Object.entries(s.robust_accuracy).map(([e, v]) => `${pct(v)} at ε=${e}`).join(', ')}`,
  },
  attack: {
    // The merged run's examples are in examples.jsonl; the summary is the numbers.
    merge: (dirs, openRun) => (({ examples: _, ...numbers }) => numbers)(mergeAttack(dirs, openRun)),
    found: (s: Omit<AttackRunSummary, 'examples'>) => `${s.attack} ε=${s.eps} on ${s.count} images, clean accuracy ${pct(s.clean_accuracy)}, adversarial accuracy ${pct(s.adversarial_accuracy)}, success ${pct(s.success_rate)}`,
  },
  'text-attack': { merge: mergeTextAttack, found: (s: TextAttackSummary) => `${s.attack} on ${s.count} messages, success ${pct(s.success_rate)}, mean edits ${s.mean_edits?.toFixed(2) ?? '–'}` },
  transfer: {
    merge: mergeTransfer,
    found: (s: TransferSummary) => `${s.attack} ε=${s.eps} on ${s.count} images, transfer rates ${s.rates.map((row) => row.map((v) => (Number.isNaN(v) ? '–' : pct(v))).join(' ')).join(' / ')}`,
  },
};

/** The line saying what a merged run of `command` found, from its summary. */
export function foundLine(command: string, summary: unknown): string {
  return (MERGES[command].found as (s: unknown) => string)(summary);
}

export function mergeCommand(): Command {
  return new Command('merge')
    .description(COMMANDS.merge.summary)
    .argument('<runs...>', `the run folders of the shards: all N shards of one run (of ${Object.keys(MERGES).join(', ')}), each once, in any order`)
    .requiredOption('--out <dir>', 'folder for the merged run: the files the unsharded run writes (config.json, examples.jsonl, results.json, its report)')
    .option('--json', 'print the merged summary as the last line, as the unsharded run\'s --json does')
    .action((runs: string[], flags: { out: string; json?: boolean }) => merge(runs, flags));
}

function merge(runs: string[], flags: { out: string; json?: boolean }): void {
  const out = path.resolve(flags.out);
  const inside = runs.find((r) => path.resolve(r) === out);
  if (inside) throw new AdvxError(`--out ${flags.out} is one of the shards: merge into a new folder`);
  // The folders' markers say which command made them; the shards of one run share it.
  const commands = runs.map((r) => markedCommand(r));
  const command = commands[0];
  if (command === undefined || !(command in MERGES)) throw new AdvxError(`${runs[0]} is not a shard of a run of advx ${Object.keys(MERGES).join(', ')}`);
  const other = commands.findIndex((c) => c !== command);
  if (other >= 0) throw new AdvxError(`${runs[other]} is ${commands[other] ? `an advx ${commands[other]} run` : 'not an advx run folder'}, ${runs[0]} an advx ${command} run: merge the shards of one run`);
  const summary = MERGES[command].merge(runs, () => openRunFolder(flags.out, { command }));
  if (flags.json) printJson(summary);
  else process.stdout.write(`merged ${runs.length} shards: ${foundLine(command, summary)}; ${flags.out}/results.json\n`);
}
