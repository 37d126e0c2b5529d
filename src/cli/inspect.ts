/** `advx inspect MODEL`: what advx sees of a model — format, inputs, outputs, head, bounds, ops, speed. */
import { Command } from 'commander';
import { describeModel, describeText } from '../node/io/describe-model.ts';
import { loadClassifier } from '../node/io/load-model.ts';
import { printJson, startBackend, withBackend, type BackendFlags } from './common.ts';
import { COMMANDS } from './commands.ts';

interface InspectFlags extends BackendFlags {
  json?: boolean;
}

export function inspectCommand(): Command {
  return withBackend(new Command('inspect'))
    .description(COMMANDS.inspect.summary)
    .argument('<model>', 'a TF.js model folder (model.json) or an .onnx file')
    .option('--json', 'print everything as one JSON line')
    .action((model: string, flags: InspectFlags) => inspect(model, flags));
}

async function inspect(model: string, flags: InspectFlags): Promise<void> {
  await startBackend(flags);
  const loaded = await loadClassifier(model);
  try {
    const description = await describeModel(model, loaded);
    if (flags.json) printJson(description);
    else process.stdout.write(describeText(description));
  } finally {
    loaded.onnx?.dispose();
  }
}
