/**
 * One advx command run as a child process: what the local pool and the Redis worker both do with a
 * job. The child cannot outlive the process that started it: a watchdog, a small detached process
 * holding a pipe from this one, kills the child when that pipe ends without a "done" (this process
 * died, even of SIGKILL), so a worker killed mid-job leaves no orphan writing into the job's run
 * folder while another worker takes the job over.
 */
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { AdvxError, EXIT_TRY_LATER, FolderInUse, ServiceError } from '../../core/errors.ts';
import { PACKAGE_ROOT } from '../io/packages.ts';

/** The command line of an advx run: `argv` after `advx`, run in `cwd` (jobs carry paths, resolved there). */
export interface AdvxCommandLine {
  argv: string[];
  cwd: string;
}

/** How a child advx ended when it did not succeed: exit code 2 is the input's fault, and a retry would fail again. */
export class AdvxChildError extends Error {
  constructor(
    message: string,
    readonly exitCode: number | null,
  ) {
    super(message);
    this.name = 'AdvxChildError';
  }
  get retryable(): boolean {
    return this.exitCode !== 2;
  }
  /** The error this process reports it as, with the child's exit code's meaning: refused (2), refused for now (75), or a fault (1). */
  asCliError(): AdvxError {
    if (this.exitCode === 2) return new AdvxError(this.message);
    if (this.exitCode === EXIT_TRY_LATER) return new FolderInUse(this.message);
    return new ServiceError(this.message);
  }
}

/** A child's failure as this process reports it: one line, not a stack trace (see AdvxChildError.asCliError). */
export function asCliError(e: unknown): unknown {
  return e instanceof AdvxChildError ? e.asCliError() : e;
}

const WATCHDOG = `
let done = false;
process.stdin.on('data', (d) => { if (String(d).includes('done')) done = true; });
const end = () => { if (!done) { try { process.kill(Number(process.argv[1]), 'SIGKILL'); } catch {} } process.exit(0); };
process.stdin.on('end', end);
process.stdin.on('error', end);
`;

function tieToThisProcess(pid: number): () => void {
  const watchdog = spawn(process.execPath, ['-e', WATCHDOG, String(pid)], { stdio: ['pipe', 'ignore', 'ignore'], detached: true });
  watchdog.on('error', () => {});
  watchdog.stdin.on('error', () => {});
  watchdog.unref();
  (watchdog.stdin as unknown as { unref?: () => void }).unref?.();
  return () => watchdog.stdin.end('done\n');
}

export interface RunAdvxOptions {
  /** Each line the child writes on stderr (its progress lines, its error). */
  onStderrLine?: (line: string) => void;
  /** Stops the child (SIGTERM) when aborted. */
  signal?: AbortSignal;
}

/**
 * Runs `advx …argv` in `cwd` and resolves with its last stdout line parsed as JSON (the `--json`
 * line; undefined if that line is not JSON). A non-zero exit rejects with an AdvxChildError whose
 * message is the child's own error line.
 */
export function runAdvx(job: AdvxCommandLine, options: RunAdvxOptions = {}): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(PACKAGE_ROOT, 'bin', 'advx.js'), ...job.argv], {
      cwd: job.cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
      // Plain error lines, to be read back: no colours.
      env: { ...process.env, NO_COLOR: '1' },
      signal: options.signal,
    });
    const release = child.pid !== undefined ? tieToThisProcess(child.pid) : () => {};
    let stdout = '';
    let errorLine = '';
    let pending = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      const lines = (pending + d).split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) {
        if (line.startsWith('advx: ')) errorLine = line.slice('advx: '.length);
        else if (/^\S*Error\b|^\s+at /.test(line) && !errorLine) errorLine = line;
        options.onStderrLine?.(line);
      }
    });
    child.on('error', (e) => {
      release();
      reject(e.name === 'AbortError' ? e : new AdvxError(`could not start advx ${job.argv[0]}: ${e.message}`));
    });
    child.on('close', (code, signal) => {
      release();
      if (pending.startsWith('advx: ')) errorLine = pending.slice('advx: '.length);
      if (code !== 0) {
        const how = signal ? `was killed (${signal})` : `failed (exit code ${code})`;
        reject(new AdvxChildError(`advx ${job.argv[0]} ${how}${errorLine ? `: ${errorLine}` : ''}`, code));
        return;
      }
      const last = stdout.trimEnd().split('\n').pop() ?? '';
      try {
        resolve(JSON.parse(last));
      } catch {
        resolve(undefined);
      }
    });
  });
}
