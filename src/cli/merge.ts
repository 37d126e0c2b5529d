/** `advx merge`: the shards of a sharded run (`--shard i/N`) joined into the unsharded run's results. */
import { Command } from 'commander';
import * as path from 'node:path';
import { AdvxError } from '../core/errors.ts';
import { openRunFolder } from '../node/runs/folder.ts';
import { mergeRobustness } from '../node/runs/robustness.ts';
import { printJson } from './common.ts';
import { COMMANDS } from './commands.ts';

export function mergeCommand(): Command {
  return new Command('merge')
    .description(COMMANDS.merge.summary)
    .argument('<runs...>', 'the run folders of the shards: all N shards of one run, each once, in any order')
    .requiredOption('--out <dir>', 'folder for the merged run: config.json, examples.jsonl, results.json, curves and report.html, as the unsharded run writes them')
    .option('--json', 'print the merged summary as the last line, as the unsharded run\'s --json does')
    .action((runs: string[], flags: { out: string; json?: boolean }) => merge(runs, flags));
}

function merge(runs: string[], flags: { out: string; json?: boolean }): void {
  const out = path.resolve(flags.out);
  const inside = runs.find((r) => path.resolve(r) === out);
  if (inside) throw new AdvxError(`--out ${flags.out} is one of the shards: merge into a new folder`);
  // Only robustness runs have shards so far; the folders' markers say which command made them.
  const summary = mergeRobustness(runs, () => openRunFolder(flags.out, { command: 'robustness' }));
  if (flags.json) printJson(summary);
  else process.stdout.write(`merged ${runs.length} shards: ${summary.count} images, clean accuracy ${(summary.clean_accuracy * 100).toFixed(2)}%, worst-case robust accuracy ${Object.entries(summary.robust_accuracy).map(([e, v]) => `${(v * 100).toFixed(1)}% at ε=${e}`).join(', ')}; ${flags.out}/results.json\n`);
}
