/** `advx transfer`: the transfer matrix of an attack across models (eval/transfer.ts). */
import { Command } from 'commander';
import * as tf from '@tensorflow/tfjs-core';
import { AdvxError } from '../core/errors.ts';
import { toTensors } from '../data/types.ts';
import { getAttack } from '../attacks/index.ts';
import { isRemoteModel, RemoteModel } from '../models/remote.ts';
import { transferMatrix } from '../eval/transfer.ts';
import { writeResults as writeRunResults } from '../node/runs/results.ts';
import { openRunFolder } from '../node/runs/folder.ts';
import { parseBackend } from '../backend/index.ts';
import { writeTransferReport } from '../node/runs/reports.ts';
import { precheckModel, loadModelAndData, loadRemoteAndData, checkRemoteFlags, type RemoteFlags } from '../node/runs/inputs.ts';
import { DATA_HELP, MAX_STEPS, pathList, withRemote, seedInt, nonNegativeNumber, parseNorm, positiveInt, positiveNumber, printJson, startBackend, withBackend, type BackendFlags } from './common.ts';
import { COMMANDS } from './commands.ts';

interface TransferFlags extends BackendFlags, RemoteFlags {
  models: string;
  attack: string;
  eps: number;
  norm: string;
  steps?: number;
  stepSize?: number;
  seed: number;
  data: string;
  limit: number;
  out?: string;
  json?: boolean;
}

export function transferCommand(): Command {
  return withRemote(withBackend(new Command('transfer')))
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
    .option('--out <dir>', 'folder for results.json and report.html')
    .option('--json', 'print {"names":[…],"rates":[[…]],…} as the last line')
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
  const run = flags.out !== undefined ? openRunFolder(flags.out, { command: 'transfer' }) : undefined;
  await startBackend(flags);
  const loaded = [];
  for (const path of paths) loaded.push(isRemoteModel(path) ? await loadRemoteAndData(path, flags, flags.data, 'test', flags.limit) : await loadModelAndData(path, flags.data, 'test', flags.limit));
  // Unlabelled data is labelled by the first model's predictions.
  const { x, y } = toTensors(loaded[0].data);
  const { labelsNote } = loaded[0];
  const options = { eps: flags.eps, norm, steps: flags.steps, stepSize: flags.stepSize, seed: flags.seed };
  const m = await transferMatrix(loaded.map((l, i) => ({ name: paths[i], classifier: l.classifier })), x, y, { name: flags.attack, options });
  tf.dispose([x, y]);
  // What each endpoint answered: the clean images and every source's adversarial examples.
  const served = loaded.flatMap((l, i) => (l.classifier instanceof RemoteModel ? [[paths[i], { queries: l.classifier.queries, requests: l.classifier.requests }] as const] : []));
  const endpoints = served.length ? { endpoints: Object.fromEntries(served) } : {};
  if (run) {
    writeRunResults(run.dir, 'transfer', { data: flags.data, count: x.shape[0], attack: flags.attack, ...options, ...m, ...endpoints, ...labelsNote });
    writeTransferReport(run.dir, m, { data: flags.data, count: x.shape[0], attack: flags.attack, eps: flags.eps, norm });
  }
  if (flags.json) {
    printJson({ ...m, ...endpoints, ...labelsNote });
    return;
  }
  const cell = (v: number) => (Number.isNaN(v) ? '–' : `${(v * 100).toFixed(1)}%`).padStart(8);
  process.stdout.write(`${flags.attack} ε=${flags.eps} (${norm}) on ${x.shape[0]} ${flags.data} test images: share of the examples both models get right that the source's adversarial examples make the target misclassify\n`);
  paths.forEach((p, i) => process.stdout.write(`[${i + 1}] ${p} (clean accuracy ${(m.accuracy[i] * 100).toFixed(1)}%)\n`));
  process.stdout.write(`source \\ target ${paths.map((_, i) => `[${i + 1}]`.padStart(8)).join('')}\n`);
  m.rates.forEach((row, i) => process.stdout.write(`${`[${m.sources[i] + 1}]`.padEnd(15)} ${row.map(cell).join('')}\n`));
  for (const [url, q] of served) process.stdout.write(`${url} answered ${q.queries} images in ${q.requests} requests\n`);
}
