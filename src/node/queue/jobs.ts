/**
 * Jobs: advx command lines with the hashes of the models they read. A sharded run is N shard jobs
 * (`--shard i/N --out OUT/shards/i`) and a merge job (`advx merge … --out OUT`); a sweep is one
 * job per point of a grid. Jobs carry paths, never tensors: every machine that runs them sees the
 * same files (a shared folder), and a worker refuses a job whose model files hash differently
 * from the submitter's, so one run never mixes two versions of a model.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { AdvxError } from '../../core/errors.ts';
import { modelFingerprint } from '../runs/shards.ts';
import type { AdvxCommandLine } from './child.ts';

export interface ModelHash {
  /** As the command line gives it, resolved against the job's cwd. */
  path: string;
  sha256: string;
}

export interface AdvxJob extends AdvxCommandLine {
  models: ModelHash[];
}

/** The hashes of the model files among `paths` (served models, known by URL only, have none). */
export function hashModels(paths: readonly string[], cwd: string): ModelHash[] {
  return paths.flatMap((p) => {
    if (/^https?:\/\//.test(p)) return [];
    const sha256 = modelFingerprint(path.resolve(cwd, p));
    return sha256 ? [{ path: p, sha256 }] : [];
  });
}

/** Refuses (AdvxError) a job this machine would run on other model files than the submitter hashed. */
export function checkModels(job: AdvxJob): void {
  if (!fs.existsSync(job.cwd)) throw new AdvxError(`the job's folder ${job.cwd} does not exist on this machine: workers need the submitter's files at the same paths (a shared folder)`);
  for (const m of job.models) {
    const file = path.resolve(job.cwd, m.path);
    let here: string | undefined;
    try {
      here = modelFingerprint(file);
    } catch {
      throw new AdvxError(`model ${m.path} is not on this machine (${file}): workers need the submitter's files at the same paths`);
    }
    if (here !== m.sha256) throw new AdvxError(`model ${m.path} differs on this machine from the submitter's (sha256 ${here?.slice(0, 12)}… here, ${m.sha256.slice(0, 12)}… submitted): refusing to mix model versions in one run`);
  }
}

/** Flags that say where and how to distribute a run: they never reach the jobs themselves. */
const DISTRIBUTION_FLAGS = { '--redis': true, '--shards': true, '--workers': true, '--queue': true, '--attempts': true, '--out': true, '--json': false, '--quiet': false } as const;

/**
 * The command's arguments as typed, without the distribution flags and --out/--json (each job
 * gets its own); `--flag value` and `--flag=value` forms both.
 */
export function jobArguments(args: readonly string[]): string[] {
  const kept: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const [flag] = args[i].split('=', 1);
    const takesValue = (DISTRIBUTION_FLAGS as Record<string, boolean>)[flag];
    if (takesValue === undefined) kept.push(args[i]);
    else if (takesValue && !args[i].includes('=')) i++;
  }
  return kept;
}

/** A sharded run: its shard jobs, the merge job, and the key that names its jobs in a queue. */
export interface ShardedRun {
  command: string;
  out: string;
  shards: AdvxJob[];
  merge: AdvxJob;
  /** Hash of everything that makes the run this run (command line, folder, N, model hashes). */
  key: string;
}

export const SHARDS_FOLDER = 'shards';

export function planShards(command: string, args: readonly string[], o: { out: string; shards: number; cwd: string; models: ModelHash[] }): ShardedRun {
  const base = jobArguments(args);
  const out = path.resolve(o.cwd, o.out);
  const dirs = Array.from({ length: o.shards }, (_, i) => path.join(out, SHARDS_FOLDER, String(i)));
  const shards = dirs.map((dir, i) => ({ argv: [command, ...base, '--shard', `${i}/${o.shards}`, '--out', dir, '--json'], cwd: o.cwd, models: o.models }));
  const merge = { argv: ['merge', ...dirs, '--out', out, '--json'], cwd: o.cwd, models: [] };
  const key = createHash('sha256').update(JSON.stringify({ command, base, out, shards: o.shards, models: o.models, cwd: o.cwd })).digest('hex').slice(0, 16);
  return { command, out, shards, merge, key };
}
