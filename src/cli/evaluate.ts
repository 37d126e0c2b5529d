/** `advx evaluate`: accuracy of any TF.js model on disk on a dataset's test split. The run itself: node/runs/evaluate.ts. */
import { Command } from 'commander';
import { AdvxError } from '../core/errors.ts';
import { isRemoteModel } from '../models/remote.ts';
import { OnnxRuntimeModel } from '../node/io/onnx-runtime.ts';
import { runEvaluate, writeEvaluateConfig } from '../node/runs/evaluate.ts';
import { checkRemoteFlags, loadRemoteAndData, type RemoteFlags, checkRuntimeFlags, loadForwardModelAndData, type ModelFlags } from '../node/runs/inputs.ts';
import { parseBackend } from '../backend/index.ts';
import { progressCounter } from '../node/io/progress.ts';
import { DATA_HELP, quietOption, MAX_BATCH, withRemote, withRuntime, positiveInt, printJson, startBackend, withBackend, type BackendFlags } from './common.ts';
import { COMMANDS } from './commands.ts';
import { runHere, withDistribution, type DistributionFlags } from './distribute.ts';

interface EvaluateFlags extends DistributionFlags, BackendFlags, RemoteFlags, ModelFlags {
  model: string;
  data: string;
  split: string;
  limit?: number;
  batch: number;
  out?: string;
  json?: boolean;
  quiet?: boolean;
}

export function evaluateCommand(): Command {
  return withDistribution(withRuntime(withRemote(withBackend(new Command('evaluate')))))
    .description(COMMANDS.evaluate.summary)
    .requiredOption('--model <path|url>', 'folder with model.json (LayersModel or GraphModel), an .onnx file, or an http(s) endpoint with --protocol')
    .option('--data <name|path>', DATA_HELP, 'mnist')
    .option('--split <name>', 'train or test', 'test')
    .option('--limit <n>', 'evaluate the first n images only', positiveInt('--limit'))
    .option('--batch <n>', 'images per forward pass', positiveInt('--batch', MAX_BATCH), 256)
    .option('--out <dir>', 'folder for config.json, examples.jsonl (each image\'s label and prediction) and results.json')
    .option('--shard <i/N>', 'evaluate only shard i of N (i from 0; blocks of --batch images dealt round-robin) into --out; `advx merge` joins the N shards into the unsharded run\'s results')
    .option('--json', 'print {"accuracy":…} as the last line')
    .addOption(quietOption())
    .action((flags: EvaluateFlags) => evaluate(flags));
}

async function evaluate(flags: EvaluateFlags): Promise<void> {
  if (flags.split !== 'train' && flags.split !== 'test') throw new AdvxError(`--split must be train or test, got "${flags.split}"`);
  checkRemoteFlags(flags.model, flags, flags.data);
  await checkRuntimeFlags(flags.model, flags);
  parseBackend(flags.backend);
  const here = await runHere('evaluate', flags, [flags.model]);
  if (!here) return;
  const { run, shard } = here;
  await startBackend(flags);
  if (run) writeEvaluateConfig(run.dir, { ...flags, shard });
  const remote = isRemoteModel(flags.model);
  const { classifier, data, labelsNote } = remote ? await loadRemoteAndData(flags.model, flags, flags.data, flags.split, flags.limit) : await loadForwardModelAndData(flags.model, flags, flags.data, flags.split, flags.limit);
  // Progress on stderr, also with --json: images done, per block of --batch.
  const bar = progressCounter('evaluate: images', flags.quiet);
  const s = await runEvaluate(classifier, data, { batch: flags.batch, shard, labelsNote, onProgress: bar.update }, run).finally(() => bar.stop());
  const runtime = classifier instanceof OnnxRuntimeModel ? { runtime: 'onnxruntime', queries: classifier.queries } : {};
  if (flags.json) printJson({ ...s, ...runtime });
  else {
    if (shard) process.stdout.write(`shard ${shard.index}/${shard.count} of the run: ${s.count} of its images; advx merge joins the shards\n`);
    process.stdout.write(`accuracy ${(s.accuracy * 100).toFixed(2)}% on ${s.count} ${flags.data} ${flags.split} images (${s.seconds.toFixed(1)} s)\n`);
    if (flags.out) process.stdout.write(`wrote ${flags.out}/results.json and examples.jsonl\n`);
  }
}
