/** `advx transfer`: the transfer matrix of an attack across models (eval/transfer.ts). The run itself: node/runs/transfer.ts. */
import { Command } from 'commander';
import { AdvxError } from '../core/errors.ts';
import { getAttack } from '../attacks/index.ts';
import { isRemoteModel } from '../models/remote.ts';
import { runTransfer, writeTransferConfig } from '../node/runs/transfer.ts';
import { parseBackend } from '../backend/index.ts';
import { precheckModel, loadModelAndData, loadRemoteAndData, checkRemoteFlags, type RemoteFlags } from '../node/runs/inputs.ts';
import { progressCounter } from '../node/io/progress.ts';
import { DATA_HELP, quietOption, MAX_BATCH, MAX_STEPS, pathList, withRemote, seedInt, nonNegativeNumber, parseNorm, positiveInt, positiveNumber, printJson, startBackend, withBackend, type BackendFlags } from './common.ts';
import { COMMANDS } from './commands.ts';
import { runHere, withDistribution, type DistributionFlags } from './distribute.ts';

interface TransferFlags extends DistributionFlags, BackendFlags, RemoteFlags {
  models: string;
  attack: string;
  eps: number;
  norm: string;
  steps?: number;
  stepSize?: number;
  seed: number;
  data: string;
  limit: number;
  batch: number;
  out?: string;
  json?: boolean;
  quiet?: boolean;
}

export function transferCommand(): Command {
  return withDistribution(withRemote(withBackend(new Command('transfer'))))
    .description(COMMANDS.transfer.summary)
    .requiredOption('--models <paths>', 'comma-separated model folders or http(s) endpoints (with --protocol; targets only), at least two, one a folder')
    .option('--attack <name>', 'white-box attack run on each source model', 'pgd')
    .option('--eps <x>', 'perturbation budget ε', nonNegativeNumber('--eps'), 0.3)
    .option('--norm <name>', 'linf or l2', 'linf')
    .option('--steps <n>', 'iterations of iterative attacks (default per attack)', positiveInt('--steps', MAX_STEPS))
    .option('--step-size <x>', 'step size α (default per attack)', positiveNumber('--step-size'))
    .option('--seed <n>', 'seed', seedInt('--seed'), 0)
    .option('--data <name|path>', DATA_HELP, 'mnist')
    .option('--limit <n>', 'first n test images', positiveInt('--limit'), 1000)
    .option('--batch <n>', 'images per attack call: the blocks the examples are crafted in, each with --seed', positiveInt('--batch', MAX_BATCH), 128)
    .option('--out <dir>', 'folder for config.json, examples.jsonl (per example: which models it fools), results.json and report.html')
    .option('--shard <i/N>', 'run only shard i of N (i from 0; blocks of --batch images dealt round-robin) into --out; `advx merge` joins the N shards into the unsharded run\'s results')
    .option('--json', 'print {"names":[…],"rates":[[…]],…} as the last line')
    .addOption(quietOption())
    .action((flags: TransferFlags) => transfer(flags));
}

async function transfer(flags: TransferFlags): Promise<void> {
  const paths = pathList('--models', flags.models, { min: 2 });
  getAttack(flags.attack); // an unknown name fails here, before any work
  const norm = parseNorm(flags.norm);
  const remotes = paths.filter(isRemoteModel);
  // --protocol without any endpoint is refused as for one model; each endpoint's flags are checked.
  for (const model of remotes.length ? remotes : paths.slice(0, 1)) checkRemoteFlags(model, flags, flags.data);
  if (remotes.length === paths.length) throw new AdvxError('--models lists only endpoints: transfer crafts the examples white-box, on at least one model folder');
  for (const path of paths) if (!isRemoteModel(path)) await precheckModel(path, flags.data); // before anything is written
  parseBackend(flags.backend);
  const here = await runHere('transfer', flags, paths);
  if (!here) return;
  const { run, shard } = here;
  await startBackend(flags);
  const o = { ...flags, models: paths, norm, shard };
  if (run) writeTransferConfig(run.dir, o);
  const loaded = [];
  for (const path of paths) loaded.push(isRemoteModel(path) ? await loadRemoteAndData(path, flags, flags.data, 'test', flags.limit) : await loadModelAndData(path, flags.data, 'test', flags.limit));
  // Unlabelled data is labelled by the first model's predictions.
  // Progress on stderr, also with --json: images done (crafted on every source, judged by every model), per block of --batch.
  const bar = progressCounter(`transfer ${flags.attack} ε=${flags.eps}: images`, flags.quiet);
  const m = await runTransfer(loaded.map((l) => l.classifier), loaded[0].data, o, loaded[0].labelsNote, run, bar.update).finally(() => bar.stop());
  if (flags.json) {
    const { names, sources, rates, counts, accuracy, endpoints, labels, seconds } = m;
    printJson({ names, sources, rates, counts, accuracy, ...(endpoints ? { endpoints } : {}), ...(labels ? { labels } : {}), seconds, ...(shard ? { count: m.count, shard } : {}) });
    return;
  }
  const cell = (v: number) => (Number.isNaN(v) ? '–' : `${(v * 100).toFixed(1)}%`).padStart(8);
  if (shard) process.stdout.write(`shard ${shard.index}/${shard.count} of the run: ${m.count} of its images; advx merge joins the shards\n`);
  process.stdout.write(`${flags.attack} ε=${flags.eps} (${norm}) on ${m.count} ${flags.data} test images: share of the examples both models get right that the source's adversarial examples make the target misclassify\n`);
  paths.forEach((p, i) => process.stdout.write(`[${i + 1}] ${p} (clean accuracy ${(m.accuracy[i] * 100).toFixed(1)}%)\n`));
  process.stdout.write(`source \\ target ${paths.map((_, i) => `[${i + 1}]`.padStart(8)).join('')}\n`);
  m.rates.forEach((row, i) => process.stdout.write(`${`[${m.sources[i] + 1}]`.padEnd(15)} ${row.map(cell).join('')}\n`));
  for (const [url, q] of Object.entries(m.endpoints ?? {})) process.stdout.write(`${url} answered ${q.queries} images in ${q.requests} requests\n`);
}
