/** `advx evaluate`: accuracy of any TF.js model on disk on a dataset's test split. */
import { Command } from 'commander';
import { AdvxError } from '../core/errors.ts';
import { accuracy, labelAccuracy } from '../eval/accuracy.ts';
import { Classifier } from '../models/classifier.ts';
import { isRemoteModel } from '../models/remote.ts';
import { OnnxRuntimeModel } from '../node/io/onnx-runtime.ts';
import { checkRemoteFlags, loadRemoteAndData, type RemoteFlags, checkRuntimeFlags, loadForwardModelAndData, type ModelFlags } from '../node/runs/inputs.ts';
import { DATA_HELP, withRemote, withRuntime, positiveInt, printJson, startBackend, withBackend, type BackendFlags } from './common.ts';
import { COMMANDS } from './commands.ts';

interface EvaluateFlags extends BackendFlags, RemoteFlags, ModelFlags {
  model: string;
  data: string;
  split: string;
  limit?: number;
  json?: boolean;
}

export function evaluateCommand(): Command {
  return withRuntime(withRemote(withBackend(new Command('evaluate'))))
    .description(COMMANDS.evaluate.summary)
    .requiredOption('--model <path|url>', 'folder with model.json (LayersModel or GraphModel), an .onnx file, or an http(s) endpoint with --protocol')
    .option('--data <name|path>', DATA_HELP, 'mnist')
    .option('--split <name>', 'train or test', 'test')
    .option('--limit <n>', 'evaluate the first n images only', positiveInt('--limit'))
    .option('--json', 'print {"accuracy":…} as the last line')
    .action((flags: EvaluateFlags) => evaluate(flags));
}

async function evaluate(flags: EvaluateFlags): Promise<void> {
  if (flags.split !== 'train' && flags.split !== 'test') throw new AdvxError(`--split must be train or test, got "${flags.split}"`);
  checkRemoteFlags(flags.model, flags, flags.data);
  await checkRuntimeFlags(flags.model, flags);
  await startBackend(flags);
  const remote = isRemoteModel(flags.model);
  const { classifier, data, labelsNote } = remote ? await loadRemoteAndData(flags.model, flags, flags.data, flags.split, flags.limit) : await loadForwardModelAndData(flags.model, flags, flags.data, flags.split, flags.limit);
  const start = performance.now();
  const acc = classifier instanceof Classifier ? await accuracy(classifier, data) : await labelAccuracy(classifier, data, 256);
  const seconds = (performance.now() - start) / 1000;
  const runtime = classifier instanceof OnnxRuntimeModel ? { runtime: 'onnxruntime', queries: classifier.queries } : {};
  if (flags.json) printJson({ accuracy: acc, count: data.count, seconds, ...labelsNote, ...runtime });
  else process.stdout.write(`accuracy ${(acc * 100).toFixed(2)}% on ${data.count} ${flags.data} ${flags.split} images (${seconds.toFixed(1)} s)\n`);
}
