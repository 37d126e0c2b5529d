/** `advx lab`: serves the built web lab, the run folders and the shipped models on localhost. */
import { Command } from 'commander';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { AdvxError } from '../core/errors.ts';
import { LAB_DIST_DIR, SHIPPED_MODELS_DIR } from '../node/io/packages.ts';
import { createLabServer } from '../node/server/lab-server.ts';
import { COMMANDS } from './commands.ts';

interface LabFlags {
  port: string;
  host: string;
  allowHost?: string[];
  runs: string;
  models?: string;
}


export function labCommand(): Command {
  return new Command('lab')
    .description(COMMANDS.lab.summary)
    .option('--port <n>', 'port (0: any free port)', '5173')
    .option('--host <address>', 'address to listen on (default: this machine only)', '127.0.0.1')
    .option(
      '--allow-host <names>',
      'more host names the lab answers to, comma-separated (a guard against DNS rebinding: localhost, 127.0.0.1, [::1] and the --host address always work; with --host 0.0.0.0 any IP address does too; "*": any name)',
      (value: string, previous: string[] = []) => [...previous, ...value.split(',').map((v) => v.trim()).filter((v) => v !== '')],
    )
    .option('--runs <dir>', 'folder of run folders to show', 'runs')
    .option('--models <dir>', 'folder of model folders (default: the shipped models/)')
    .action((flags: LabFlags) => lab(flags));
}

async function lab(flags: LabFlags): Promise<void> {
  const port = Number(flags.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new AdvxError(`--port must be an integer from 0 to 65535, got "${flags.port}"`);
  const webRoot = process.env.ADVX_LAB_DIST ? resolve(process.env.ADVX_LAB_DIST) : LAB_DIST_DIR;
  if (!existsSync(resolve(webRoot, 'index.html'))) throw new AdvxError(`the lab is not built (no ${resolve(webRoot, 'index.html')}): run npm run build`);
  const runsRoot = resolve(flags.runs);
  const modelsRoot = resolve(flags.models ?? SHIPPED_MODELS_DIR);
  if (!existsSync(modelsRoot)) throw new AdvxError(`--models: no folder ${modelsRoot}`);
  const server = createLabServer({ webRoot, runsRoot, modelsRoot, host: flags.host, allowHosts: flags.allowHost });
  await new Promise<void>((ok, fail) => {
    server.once('error', (e: NodeJS.ErrnoException) =>
      fail(new AdvxError(e.code === 'EADDRINUSE' ? `port ${port} on ${flags.host} is in use: choose another with --port` : `cannot listen on ${flags.host}:${port}: ${e.message}`)),
    );
    server.listen(port, flags.host, ok);
  });
  const address = server.address();
  const actual = typeof address === 'object' && address ? address.port : port;
  const shown = flags.host.includes(':') ? `[${flags.host}]` : flags.host;
  process.stdout.write(`advx lab: http://${shown}:${actual}/  (runs: ${runsRoot}${existsSync(runsRoot) ? '' : ', not there yet'}; Ctrl-C stops)\n`);
  // Serve until interrupted; the CLI exits when this promise resolves.
  await new Promise<void>((done) => {
    const stop = () => {
      server.close(() => done());
      server.closeAllConnections();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}
