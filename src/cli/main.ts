/** The advx command line. */
import { Command, CommanderError } from 'commander';
import pc from 'picocolors';
import { AdvxError, ServiceError } from '../core/errors.ts';
import { systemErrorLine } from '../node/io/files.ts';
import { trainCommand } from './train.ts';
import { evaluateCommand } from './evaluate.ts';
import { attackCommand } from './attack.ts';
import { demoCommand } from './demo.ts';
import { robustnessCommand } from './robustness.ts';
import { transferCommand } from './transfer.ts';
import { adaptCommand } from './adapt.ts';
import { textAttackCommand } from './text-attack.ts';
import { labCommand } from './lab.ts';
import { ganCommand } from './gan.ts';
import { inspectCommand } from './inspect.ts';

const program = new Command('advx')
  .description('adversarial machine learning on TensorFlow.js: attacks, defences, domain adaptation, GANs')
  .version('0.1.0')
  .showHelpAfterError()
  .exitOverride();

program.addCommand(trainCommand());
program.addCommand(evaluateCommand());
program.addCommand(attackCommand());
program.addCommand(robustnessCommand());
program.addCommand(transferCommand());
program.addCommand(adaptCommand());
program.addCommand(textAttackCommand());
program.addCommand(demoCommand());
program.addCommand(labCommand());
program.addCommand(ganCommand());
program.addCommand(inspectCommand());

try {
  await program.parseAsync(process.argv);
  // The WASM backend's pthread workers would keep the process alive.
  process.exit(0);
} catch (e) {
  if (e instanceof CommanderError) {
    process.exit(e.exitCode);
  }
  // A served model that stopped answering: one line, exit 1 (the input was fine; the server was
  // not). What was finished before it has been written, marked partial.
  if (e instanceof ServiceError) {
    process.stderr.write(pc.red(`advx: ${e.message}`) + '\n');
    process.exit(1);
  }
  if (e instanceof AdvxError) {
    process.stderr.write(pc.red(`advx: ${e.message}`) + '\n');
    process.exit(2);
  }
  // A full disk, a folder made read-only or removed mid-run: one line, exit code 1 (the input
  // was fine; the machine was not). Every write is atomic, so no file was left half-written.
  const line = systemErrorLine(e);
  if (line) {
    process.stderr.write(pc.red(`advx: ${line}`) + '\n');
    process.exit(1);
  }
  throw e;
}
