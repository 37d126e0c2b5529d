/**
 * How a shardable command (evaluate, attack, robustness, transfer, text-attack) runs: in this
 * process; as one shard of a run (`--shard i/N`, for a scheduler that hands out indices); or, with
 * `--shards N`, `--workers K` or `--redis URL`, as N shard jobs on a local pool of K processes or
 * on the Redis queue's workers, merged into --out as the unsharded run would have written it.
 */
import { Command, Option } from 'commander';
import { availableParallelism } from 'node:os';
import * as path from 'node:path';
import { AdvxError } from '../core/errors.ts';
import type { Shard } from '../core/shards.ts';
import { openRunFolder, type RunFolder } from '../node/runs/folder.ts';
import { parseShard } from '../node/runs/shards.ts';
import { hashModels, planShards, SHARDS_FOLDER } from '../node/queue/jobs.ts';
import { runShardedLocally } from '../node/queue/pool.ts';
import { printJson, positiveInt } from './common.ts';
import { foundLine } from './merge.ts';

export interface DistributionFlags {
  out?: string;
  shard?: string;
  shards?: number;
  workers?: number;
  redis?: string;
  queue: string;
  attempts: number;
  json?: boolean;
  /** No progress on stderr (the shards' lines and the shards done). */
  quiet?: boolean;
}

export const MAX_SHARDS = 10_000;

/** Adds --shards, --workers, --redis, --queue and --attempts to a shardable command. */
export function withDistribution(cmd: Command): Command {
  return cmd
    .addOption(new Option('--shards <n>', 'split the run into n shard jobs and merge them into --out (default: --workers)').argParser(positiveInt('--shards', MAX_SHARDS)))
    .addOption(new Option('--workers <k>', 'run the shard jobs on k local processes, each with its share of the cores').argParser(positiveInt('--workers', 256)))
    .addOption(new Option('--redis <url>', 'submit the shard jobs to the Redis queue at url (taken by `advx worker --redis url` anywhere that sees the same files), wait, and merge'))
    .addOption(new Option('--queue <name>', 'the queue\'s name on Redis').default('advx'))
    .addOption(new Option('--attempts <n>', 'tries of each job on Redis before the run fails').argParser(positiveInt('--attempts', 100)).default(3));
}

/** How a command runs distributed when no flag says so, and how it prints a merged summary. */
export interface DistributionDefaults {
  /**
   * Local processes to use when neither --shard, --shards, --workers nor --redis is given (and
   * --out is): the command's measured default (BENCHMARKS.md, "Past one machine"). 1: this process.
   */
  workers?: number;
  /** Prints the merged summary as the command prints its own (without --json). */
  print?: (summary: never) => void;
}

/**
 * The pool a run of image blocks gets when no flag says otherwise: one single-threaded process per
 * core (at most one per block of --batch images) on the wasm backend, 1.17× the throughput of one
 * process with 2 threads on 2 cores (BENCHMARKS.md, "Past one machine"); this process (1) with
 * --threads, another backend, or a model served elsewhere (the endpoint sets the pace).
 */
export function poolByDefault(flags: { backend: string; threads?: number; limit: number; batch: number }, elsewhere: boolean): number {
  if (elsewhere || flags.backend !== 'wasm' || flags.threads !== undefined) return 1;
  return Math.min(availableParallelism(), Math.ceil(flags.limit / flags.batch));
}

/**
 * The run folder and shard to run in this process, or undefined when the run was distributed
 * (done: its merged summary printed).
 */
export async function runHere(command: string, flags: DistributionFlags, models: readonly string[], defaults: DistributionDefaults = {}): Promise<{ run?: RunFolder; shard?: Shard } | undefined> {
  const asked = flags.shards !== undefined || flags.workers !== undefined || flags.redis !== undefined;
  const shard = flags.shard === undefined ? undefined : parseShard(flags.shard);
  if (shard && asked) throw new AdvxError('--shard runs one shard here; --shards, --workers and --redis run all of them: give one or the other');
  if ((shard || asked) && flags.out === undefined) throw new AdvxError(`${shard ? '--shard' : flags.redis ? '--redis' : flags.workers ? '--workers' : '--shards'} needs --out: each shard writes its per-example results into a run folder, merged into --out`);
  const workers = flags.workers ?? (shard || flags.out === undefined ? 1 : (defaults.workers ?? 1));
  // --workers 1 alone is this process: a pool of one would only add a process start.
  if (shard || (flags.redis === undefined && flags.shards === undefined && workers < 2)) return { run: flags.out !== undefined ? openRunFolder(flags.out, { command }) : undefined, shard };
  await runDistributed(command, { ...flags, workers } as DistributionFlags & { out: string; workers: number }, models, defaults.print);
  return undefined;
}

async function runDistributed(command: string, flags: DistributionFlags & { out: string; workers: number }, models: readonly string[], print?: (summary: never) => void): Promise<void> {
  const workers = flags.workers;
  const shards = flags.shards ?? workers;
  if (flags.redis === undefined && shards < workers) throw new AdvxError(`--shards ${shards} gives fewer shards than --workers ${workers}: some workers would have nothing to do`);
  const queue = flags.redis !== undefined ? await import('../node/queue/redis.ts') : undefined;
  if (queue) {
    queue.checkRedisUrl(flags.redis!);
    queue.requireQueuePackages();
  }
  // The merged run's folder: checked (and marked) before any job starts, then left to the merge job.
  openRunFolder(flags.out, { command }).release();
  const cwd = process.cwd();
  const args = process.argv.slice(process.argv.indexOf(command, 2) + 1);
  const run = planShards(command, args, { out: flags.out, shards, cwd, models: hashModels(models, cwd) });
  const keptIn = path.join(flags.out, SHARDS_FOLDER);
  let summary: unknown;
  if (queue) {
    const flow = {
      id: `${command}-${run.key}`,
      parent: { name: 'merge' as const, data: run.merge },
      children: run.shards.map((data) => ({ name: 'shard', data })),
      childName: (i: number) => `shard ${i}/${shards}`,
    };
    summary = await queue.runFlowOnRedis(flow, { redis: flags.redis!, queue: flags.queue, attempts: flags.attempts, keptIn, quiet: flags.quiet });
  } else {
    summary = await runShardedLocally(run, workers, flags.quiet);
  }
  const where = `${shards} shards (${flags.redis !== undefined ? `jobs on ${flags.redis}` : `${workers} local process${workers > 1 ? 'es' : ''}`})`;
  if (flags.json) printJson(summary);
  else if (print) {
    print(summary as never);
    process.stdout.write(`ran in ${where}, merged into ${flags.out}; the shards in ${keptIn}\n`);
  } else process.stdout.write(`${command} in ${where}: ${foundLine(command, summary)}; ${flags.out}/results.json, shards in ${keptIn}\n`);
}
