/** Runs the advx CLI as a user would, in a child process. */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { stripVTControlCharacters } from 'node:util';
import { fileURLToPath } from 'node:url';

/** The CLI as a user runs it: compiled JavaScript in dist/ (npm test builds it first; after editing src/, run npm run build:lib before running a CLI test alone). */
export const BIN = fileURLToPath(new URL('../../bin/advx.js', import.meta.url));

/**
 * Runs advx to the end. stderr comes back as a reader sees it: picocolors colours it whenever `CI`
 * is set (as on the project's CI), and the tests check words, not colours.
 */
export function advx(args: string[], env?: Record<string, string>): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 300_000, ...(env ? { env: { ...process.env, ...env } } : {}) });
  return { status: r.status, stdout: r.stdout, stderr: stripVTControlCharacters(r.stderr) };
}

export function advxAsync(args: string[]): ChildProcess {
  return spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
}

/**
 * Runs advx to the end without blocking this process's event loop (for tests whose servers live
 * here); stderr as advx() returns it.
 */
export function advxRun(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const child = advxAsync(args);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (c) => (stdout += c));
  child.stderr!.on('data', (c) => (stderr += c));
  return new Promise((resolve) => child.on('close', (status) => resolve({ status, stdout, stderr: stripVTControlCharacters(stderr) })));
}

/** The last line of stdout, parsed as JSON (what --json promises). */
export function lastJson(stdout: string): Record<string, unknown> {
  const lines = stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]);
}

/** Runs advx, asserts it succeeded, and returns its --json line. */
export function advxJson(args: string[]): Record<string, unknown> {
  const r = advx(args);
  assert.equal(r.status, 0, r.stderr);
  return lastJson(r.stdout);
}

/** Runs advx and asserts a refusal: exit code 2 and one line on stderr matching `message`. */
export function assertRefused(args: string[], message: RegExp): void {
  const r = advx(args);
  assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
  assert.equal(r.stderr.trim().split('\n').length, 1, `one line: ${r.stderr}`);
  assert.match(r.stderr.trim(), message);
}

/**
 * Starts a training command and kills it with SIGKILL (no clean-up possible) as soon as its first
 * checkpoint exists in `dir`; resolves once the process is gone.
 */
export function killAfterFirstCheckpoint(args: string[], dir: string): Promise<void> {
  return killWhen(args, () => existsSync(join(dir, 'checkpoint', 'state.json')));
}

/** Starts advx and kills it with SIGKILL (no clean-up possible) as soon as `ready()` holds; resolves once the process is gone. */
export async function killWhen(args: string[], ready: () => boolean): Promise<void> {
  const child = advxAsync(args);
  await new Promise<void>((resolve, reject) => {
    const poll = setInterval(() => {
      if (ready()) {
        clearInterval(poll);
        child.kill('SIGKILL');
        resolve();
      }
    }, 20);
    child.on('exit', () => {
      clearInterval(poll);
      reject(new Error(`advx ${args[0]} finished before it could be killed`));
    });
  });
  if (child.exitCode === null && child.signalCode === null) await new Promise((r) => child.once('exit', r));
}
