/** Options and helpers shared by the CLI's commands. */
import { Command, Option } from 'commander';
import { AdvxError } from '../core/errors.ts';
import { BACKENDS, parseBackend, useBackend, type BackendName } from '../backend/index.ts';

export interface BackendFlags {
  backend: string;
  threads?: number;
}

/** Adds --backend and --threads to a command. */
export function withBackend(cmd: Command): Command {
  return cmd
    .addOption(new Option('--backend <name>', `TF.js backend: ${BACKENDS.join(', ')}`).default('wasm'))
    .addOption(new Option('--threads <n>', 'threads for the wasm backend (default: all cores)').argParser(positiveInt('--threads')));
}

export async function startBackend(flags: BackendFlags): Promise<BackendName> {
  const name = parseBackend(flags.backend);
  await useBackend(name, { threads: flags.threads });
  return name;
}

export function positiveInt(flag: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n <= 0) throw new AdvxError(`${flag} must be a positive integer, got "${v}"`);
    return n;
  };
}

export function nonNegativeInt(flag: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) throw new AdvxError(`${flag} must be a non-negative integer, got "${v}"`);
    return n;
  };
}

export function positiveNumber(flag: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0) throw new AdvxError(`${flag} must be a positive number, got "${v}"`);
    return n;
  };
}

export function nonNegativeNumber(flag: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < 0) throw new AdvxError(`${flag} must be a non-negative number, got "${v}"`);
    return n;
  };
}

/** Prints the final JSON line of a command run with --json. */
export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value) + '\n');
}
