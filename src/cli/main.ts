/** The advx command line. */
import { Command, CommanderError } from 'commander';
import pc from 'picocolors';
import { AdvxError, EXIT_TRY_LATER, FinishedShard, FolderInUse, ServiceError } from '../core/errors.ts';
import { systemErrorLine } from '../node/io/files.ts';
import { PACKAGE_VERSION } from '../node/io/packages.ts';
import { COMMANDS, isCommandName, type CommandName } from './commands.ts';
import { enableRelaxedSimd } from './relaxed-simd.ts';

// Before any command loads TF.js and compiles a kernel.
enableRelaxedSimd();

/** Each command's module, loaded only when that command runs (TF.js and the attacks take a second to load). */
const LOADERS: Record<CommandName, () => Promise<Command>> = {
  train: async () => (await import('./train.ts')).trainCommand(),
  evaluate: async () => (await import('./evaluate.ts')).evaluateCommand(),
  attack: async () => (await import('./attack.ts')).attackCommand(),
  robustness: async () => (await import('./robustness.ts')).robustnessCommand(),
  merge: async () => (await import('./merge.ts')).mergeCommand(),
  worker: async () => (await import('./worker.ts')).workerCommand(),
  sweep: async () => (await import('./sweep.ts')).sweepCommand(),
  transfer: async () => (await import('./transfer.ts')).transferCommand(),
  adapt: async () => (await import('./adapt.ts')).adaptCommand(),
  'text-attack': async () => (await import('./text-attack.ts')).textAttackCommand(),
  demo: async () => (await import('./demo.ts')).demoCommand(),
  lab: async () => (await import('./lab.ts')).labCommand(),
  gan: async () => (await import('./gan.ts')).ganCommand(),
  inspect: async () => (await import('./inspect.ts')).inspectCommand(),
};

const program = new Command('advx')
  .description('adversarial machine learning on TensorFlow.js: attacks, defences, domain adaptation, GANs')
  .version(PACKAGE_VERSION)
  .showHelpAfterError()
  .exitOverride()
  .configureHelp({ subcommandTerm: (command) => (isCommandName(command.name()) ? COMMANDS[command.name() as CommandName].term : command.name()) });

/**
 * The command named on the command line (`advx train …`, `advx help train`) is loaded whole; with
 * none (`advx --help`) or an unknown one, each command is listed by its summary only, which is all
 * the top-level help and commander's "did you mean" need.
 */
async function addCommands(argv: string[]): Promise<void> {
  const words = argv.filter((a) => !a.startsWith('-'));
  const named = words[0] === 'help' ? words[1] : words[0];
  if (isCommandName(named)) {
    program.addCommand(await LOADERS[named]());
    return;
  }
  for (const [name, { summary }] of Object.entries(COMMANDS)) program.command(name).description(summary);
}

/**
 * `advx --version` (or -V): the version, then the wasm backend's kernels as this process gets them
 * (native SIMD kernels, threads, relaxed SIMD), which takes starting the backend (about a second).
 */
async function printVersion(): Promise<void> {
  const [{ useBackend, kernelInfo }, { kernelText }] = await Promise.all([import('../backend/index.ts'), import('../node/io/describe-model.ts')]);
  process.stdout.write(`${PACKAGE_VERSION}\n`);
  try {
    await useBackend('wasm');
    process.stdout.write(`kernels ${kernelText(await kernelInfo())}\n`);
  } catch (e) {
    process.stdout.write(`kernels wasm did not start: ${(e as Error).message}\n`);
  }
}

try {
  const args = process.argv.slice(2);
  if (args.length === 1 && (args[0] === '--version' || args[0] === '-V')) {
    await printVersion();
    process.exit(0);
  }
  await addCommands(args);
  await program.parseAsync(process.argv);
  // The WASM backend's pthread workers would keep the process alive.
  process.exit(0);
} catch (e) {
  if (e instanceof CommanderError) {
    process.exit(e.exitCode);
  }
  // A shard finished by an earlier run of the same shard: kept, as if it had run now.
  if (e instanceof FinishedShard) {
    process.stderr.write(`advx: ${e.message}\n`);
    if (process.argv.includes('--json')) process.stdout.write(JSON.stringify(e.results.summary) + '\n');
    process.exit(0);
  }
  // A served model that stopped answering: one line, exit 1 (the input was fine; the server was
  // not). What was finished before it has been written, marked partial.
  if (e instanceof ServiceError) {
    process.stderr.write(pc.red(`advx: ${e.message}`) + '\n');
    process.exit(1);
  }
  if (e instanceof AdvxError) {
    process.stderr.write(pc.red(`advx: ${e.message}`) + '\n');
    process.exit(e instanceof FolderInUse ? EXIT_TRY_LATER : 2);
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
