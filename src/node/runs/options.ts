/**
 * A run's options: what config.json records, and how `--resume` reads them back.
 *
 * A resumed run is the run in its folder, not a new one: options left out on the command line are
 * taken from the run's config.json, so `advx train --out runs/x --resume` is enough. An option
 * given again must agree with the saved one unless the command lists it as one a run may change
 * (more epochs, a lower learning rate after a divergence); every disagreement is listed in one
 * message, with the flags as the user types them.
 */
import type { Command, Option } from 'commander';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { AdvxError } from '../../core/errors.ts';
import { readRunConfig } from '../io/checkpoint.ts';
import { markedCommand } from './folder.ts';
import { writeFileAtomic } from '../io/files.ts';

export const CONFIG_FILE = 'config.json';

/** Which options make a run what it is, stated once per command. */
export interface RunOptionsSpec {
  /** Options that define the run: taken from config.json on --resume, and refused if given with another value. */
  identity: readonly string[];
  /** Options a resumed run may change; left out, they too are taken from config.json. */
  mutable?: readonly string[];
  /** The command as its run folders' marker names it (default: the commander command's name). */
  command?: string;
  /** An unmarked folder from before run folders were marked that holds a run of this command (see openRunFolder's `legacy`). */
  legacy?: (dir: string) => boolean;
}

/** Options that say how a command runs, not what it computes: never recorded. */
const VOLATILE = ['resume', 'json', 'quiet'] as const;

function optionOf(cmd: Command, key: string): Option | undefined {
  return cmd.options.find((o) => o.attributeName() === key);
}

/** The flag as the user types it: `--lr-decay`, or `--no-dropout` for a negated boolean. */
function flagName(o: Option | undefined, key: string): string {
  return o?.long ?? `--${key.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase())}`;
}

/** A value of an option as a flag: `--lr 0.01`, `--no-dropout`, `without --no-dropout`. */
function shown(cmd: Command, key: string, value: unknown): string {
  const o = optionOf(cmd, key);
  const flag = flagName(o, key);
  if (o?.negate || typeof value === 'boolean') return (o?.negate ? value === false : value) ? flag : `without ${flag}`;
  return `${flag} ${value === undefined ? '(not set)' : String(value)}`;
}

/**
 * With --resume: fills `flags` from the run's config.json for every option of `spec` not given on
 * the command line, and refuses (one AdvxError listing them all) identity options given with a
 * value other than the run's. A run from before an option existed was made with its default. Does
 * nothing without --resume or when the folder holds no config.json yet.
 */
export function resumeOptions<F extends object>(cmd: Command, flags: F & { out: string; resume?: boolean }, spec: RunOptionsSpec): void {
  if (!flags.resume) return;
  const file = path.join(flags.out, CONFIG_FILE);
  if (!fs.existsSync(file)) return;
  // Only a run of this command is read; any other folder is refused later, when it is opened.
  const command = spec.command ?? cmd.name();
  const marked = markedCommand(flags.out);
  if (marked !== command && !(marked === undefined && spec.legacy?.(flags.out))) return;
  const saved = readRunConfig(file);
  const values = flags as unknown as Record<string, unknown>;
  const mismatches: string[] = [];
  for (const key of [...spec.identity, ...(spec.mutable ?? [])]) {
    const given = cmd.getOptionValueSource(key) === 'cli';
    const savedValue = key in saved ? saved[key] : optionOf(cmd, key)?.defaultValue;
    if (!given) values[key] = savedValue;
    else if (spec.identity.includes(key) && values[key] !== savedValue) {
      mismatches.push(`${shown(cmd, key, savedValue)} (given: ${shown(cmd, key, values[key])})`);
    }
  }
  if (mismatches.length) {
    throw new AdvxError(`cannot resume ${flags.out}: it was started with ${mismatches.join(', ')}; leave these out to continue the run as it was, or choose a new --out`);
  }
}

/** Writes config.json: the options that made the run (as `resumeOptions` reads them back) and `extra` facts (backend, shapes). */
export function writeRunConfig(dir: string, flags: object, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const config = Object.fromEntries(Object.entries(flags).filter(([k]) => !(VOLATILE as readonly string[]).includes(k)));
  writeFileAtomic(path.join(dir, CONFIG_FILE), JSON.stringify({ ...config, ...extra }, null, 2));
  return config;
}

/** Whether a folder holds a started run of a resumable command: config.json is its first file. */
export function hasRunConfig(dir: string): boolean {
  return fs.existsSync(path.join(dir, CONFIG_FILE));
}
