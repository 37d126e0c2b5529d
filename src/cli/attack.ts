/** `advx attack`: adversarial examples for a model on a dataset slice, with images and results.json. */
import { Command, Option } from 'commander';
import { existsSync, readFileSync } from 'node:fs';
import { ATTACKS, checkAccess, checkAttackRequest } from '../attacks/index.ts';
import { isRemoteModel } from '../models/remote.ts';
import { runAttack, type AttackRunSummary } from '../node/runs/attack.ts';
import { AdvxError, ServiceError } from '../core/errors.ts';
import { attackBudget, writeAttackReport } from '../node/runs/reports.ts';
import { writeAttackConfig } from '../node/runs/attack-shards.ts';
import { parseBackend } from '../backend/index.ts';
import { OnnxRuntimeModel } from '../node/io/onnx-runtime.ts';
import { precheckModel, loadModelAndData, loadRemoteAndData, checkRemoteFlags, type RemoteFlags, checkRuntimeFlags, loadForwardModelAndData, type ModelFlags } from '../node/runs/inputs.ts';
import { progressCounter } from '../node/io/progress.ts';
import { DATA_HELP, quietOption, MAX_BATCH, MAX_STEPS, withRemote, withRuntime, parseNorm, nonNegativeInt, seedInt, nonNegativeNumber, positiveInt, positiveNumber, printJson, startBackend, withBackend, type BackendFlags } from './common.ts';
import { COMMANDS } from './commands.ts';
import { poolByDefault, runHere, withDistribution, type DistributionFlags } from './distribute.ts';

interface AttackFlags extends DistributionFlags, BackendFlags, RemoteFlags, ModelFlags {
  model: string;
  attack: string;
  eps: number;
  norm: string;
  steps?: number;
  stepSize?: number;
  queries?: number;
  restarts: number;
  confidence?: number;
  c?: number;
  target?: number;
  data: string;
  limit: number;
  batch: number;
  images: number;
  printScale?: number;
  samples?: number;
  seed: number;
  out?: string;
  json?: boolean;
  quiet?: boolean;
}

/** 28 px × 64 = 1792 px, plenty for print; 3000 would be an image of 84 000² pixels. */
const MAX_PRINT_SCALE = 64;

export function attackCommand(): Command {
  return withDistribution(withRuntime(withRemote(withBackend(new Command('attack')))))
    .description(COMMANDS.attack.summary)
    .requiredOption('--model <path|url>', 'folder with model.json, an .onnx file, or an http(s) endpoint with --protocol')
    .addOption(new Option('--attack <name>', `attack: ${Object.keys(ATTACKS).join(', ')}`).default('pgd'))
    .option('--eps <x>', 'perturbation budget ε (in input units)', nonNegativeNumber('--eps'), 0.3)
    .option('--norm <name>', 'linf or l2', 'linf')
    .option('--steps <n>', 'iterations (iterative attacks)', positiveInt('--steps', MAX_STEPS))
    .option('--queries <n>', 'query budget per example (black-box attacks)', positiveInt('--queries'))
    .option('--step-size <x>', 'step size α', positiveNumber('--step-size'))
    .option('--restarts <n>', 'random restarts (pgd, apgd-ce)', positiveInt('--restarts', 1000), 1)
    .option('--confidence <k>', 'margin κ of the C&W objective', nonNegativeNumber('--confidence'))
    .option('--c <x>', 'initial trade-off constant (cw, szegedy)', positiveNumber('--c'))
    .option('--target <k>', 'target class (targeted attack)', nonNegativeInt('--target'))
    .option('--data <name|path>', DATA_HELP, 'mnist')
    .option('--limit <n>', 'attack the first n test images', positiveInt('--limit'), 100)
    .option('--batch <n>', 'inputs per attack call (a served model that stops answering keeps the batches finished)', positiveInt('--batch', MAX_BATCH), 128)
    .option('--images <n>', 'write PNGs for the first n examples', nonNegativeInt('--images', 10_000), 16)
    .option('--print-scale <k>', 'also write print-ready adversarial PNGs magnified k times (print/)', positiveInt('--print-scale', MAX_PRINT_SCALE))
    .option('--samples <n>', 'transformations per step (eot)', positiveInt('--samples', 1000))
    .option('--seed <n>', 'seed', seedInt('--seed'), 0)
    .option('--out <dir>', 'folder for config.json, examples.jsonl (per-example results), results.json, images and report.html')
    .option('--shard <i/N>', 'attack only shard i of N (i from 0; blocks of --batch inputs dealt round-robin) into --out; `advx merge` joins the N shards into the unsharded run\'s results')
    .option('--json', 'print a JSON summary as the last line')
    .addOption(quietOption())
    .action((flags: AttackFlags) => attack(flags));
}

async function attack(flags: AttackFlags): Promise<void> {
  const norm = parseNorm(flags.norm);
  const d = checkAttackRequest(flags.attack, { norm, targeted: flags.target !== undefined }); // before any work
  checkRemoteFlags(flags.model, flags, flags.data);
  const remote = isRemoteModel(flags.model);
  await checkRuntimeFlags(flags.model, flags);
  if (remote) checkAccess(d, flags.labelsOnly ? 'decision' : 'score', flags.model);
  else if (flags.runtime === 'onnxruntime') checkAccess(d, 'score', `${flags.model} under --runtime onnxruntime`);
  if (!remote) await precheckModel(flags.model, flags.data); // its files, classes and shape, before anything is written
  parseBackend(flags.backend);
  const print = (s: Omit<AttackRunSummary, 'examples'>) => printSummary(s, flags);
  const here = await runHere('attack', flags, [flags.model], { workers: poolByDefault(flags, remote || flags.runtime === 'onnxruntime'), print });
  if (!here) return;
  const { run, shard } = here;
  await startBackend(flags);
  if (run) writeAttackConfig(run.dir, { ...flags, norm, shard });
  const { classifier, data, labelsNote } = remote
    ? await loadRemoteAndData(flags.model, flags, flags.data, 'test', flags.limit)
    : d.access === 'white-box'
      ? await loadModelAndData(flags.model, flags.data, 'test', flags.limit, { outputName: flags.output })
      : await loadForwardModelAndData(flags.model, flags, flags.data, 'test', flags.limit);
  const report = (s: AttackRunSummary) => {
    if (!run || shard) return; // a shard's report is the merged run's
    const gridFile = run.path('grid.png');
    writeAttackReport(run.dir, s, { model: flags.model, data: flags.data, classNames: data.classNames, grid: existsSync(gridFile) ? readFileSync(gridFile) : undefined });
  };
  // Progress on stderr, also with --json (stdout keeps only the JSON line): examples done, per block of --batch.
  const bar = progressCounter(`${flags.attack}${d.budget === 'minimal-norm' ? '' : ` ε=${flags.eps}`}: examples`, flags.quiet);
  const s = await runAttack(classifier, data, { ...flags, batchSize: flags.batch, norm, images: run ? flags.images : 0, shard, onProgress: bar.update }, run).catch((e) => {
    bar.stop();
    // A served model that stopped answering: results.json holds the batches finished; the report says the same.
    if (e instanceof ServiceError && e.partial) report(e.partial as AttackRunSummary);
    throw e;
  });
  bar.stop();
  report(s);
  const { examples: _examples, ...summary } = s;
  // Every image ONNX Runtime answered: the attack's queries, and the clean and adversarial re-checks.
  const runtime = classifier instanceof OnnxRuntimeModel ? { runtime: 'onnxruntime', queries: classifier.queries } : {};
  if (flags.json) printJson({ ...summary, ...labelsNote, ...runtime });
  else {
    if (shard) process.stdout.write(`shard ${shard.index}/${shard.count} of the run: ${s.count} of its images; advx merge joins the shards\n`);
    print(s);
    if (classifier instanceof OnnxRuntimeModel) process.stdout.write(`ONNX Runtime answered ${classifier.queries} images (attack queries and re-checks)\n`);
    if (flags.out) process.stdout.write(`wrote ${flags.out}/results.json, ${shard ? 'examples.jsonl' : 'report.html'} and images\n`);
  }
}

function printSummary(s: Omit<AttackRunSummary, 'examples'>, flags: AttackFlags): void {
  const b = attackBudget(s); // a minimal-norm attack has no ε budget: "deepfool minimal L∞ perturbation on …"
  const target = s.targeted ? `, target ${flags.target}` : '';
  process.stdout.write(
    `${s.attack} ${b.minimal ? `${b.title}${target}` : `ε=${s.eps} (${s.norm}${target})`} on ${s.count} images: ` +
      `clean accuracy ${(s.clean_accuracy * 100).toFixed(1)}%, adversarial accuracy ${(s.adversarial_accuracy * 100).toFixed(1)}%, ` +
      `success ${(s.success_rate * 100).toFixed(1)}%, mean L∞ ${s.mean_linf.toFixed(3)}, mean L2 ${s.mean_l2.toFixed(3)} (${s.seconds.toFixed(1)} s)\n`,
  );
}
