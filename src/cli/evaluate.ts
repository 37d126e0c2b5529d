/** `advx evaluate`: accuracy of any TF.js model on disk on a dataset's test split. */
import { Command } from 'commander';
import { AdvxError } from '../core/errors.ts';
import { accuracy, labelAccuracy } from '../eval/accuracy.ts';
import { isRemoteModel, RemoteModel } from '../models/remote.ts';
import { DATA_HELP, checkRemoteFlags, loadModelAndData, loadRemoteAndData, withRemote, type RemoteFlags, positiveInt, printJson, startBackend, withBackend, type BackendFlags } from './common.ts';

interface EvaluateFlags extends BackendFlags, RemoteFlags {
  model: string;
  data: string;
  split: string;
  limit?: number;
  json?: boolean;
}

export function evaluateCommand(): Command {
  return withRemote(withBackend(new Command('evaluate')))
    .description('accuracy of a TF.js model (model.json folder) or a served one on a dataset')
    .requiredOption('--model <path|url>', 'folder with model.json (LayersModel or GraphModel), or an http(s) endpoint with --protocol')
    .option('--data <name|path>', DATA_HELP, 'mnist')
    .option('--split <name>', 'train or test', 'test')
    .option('--limit <n>', 'evaluate the first n images only', positiveInt('--limit'))
    .option('--json', 'print {"accuracy":…} as the last line')
    .action((flags: EvaluateFlags) => evaluate(flags));
}

async function evaluate(flags: EvaluateFlags): Promise<void> {
  if (flags.split !== 'train' && flags.split !== 'test') throw new AdvxError(`--split must be train or test, got "${flags.split}"`);
  checkRemoteFlags(flags.model, flags, flags.data);
  await startBackend(flags);
  const remote = isRemoteModel(flags.model);
  const { classifier, data, labelsNote } = remote ? await loadRemoteAndData(flags.model, flags, flags.data, flags.split, flags.limit) : await loadModelAndData(flags.model, flags.data, flags.split, flags.limit);
  const start = performance.now();
  const acc = classifier instanceof RemoteModel ? await labelAccuracy(classifier, data, 256) : await accuracy(classifier, data);
  const seconds = (performance.now() - start) / 1000;
  if (flags.json) printJson({ accuracy: acc, count: data.count, seconds, ...labelsNote });
  else process.stdout.write(`accuracy ${(acc * 100).toFixed(2)}% on ${data.count} ${flags.data} ${flags.split} images (${seconds.toFixed(1)} s)\n`);
}
