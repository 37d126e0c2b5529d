/**
 * The local pool: a sharded run's jobs as child processes on this machine, `workers` at a time,
 * each with its share of the cores, then the merge. No server; the same jobs and the same run
 * folders as the Redis queue, so a run started here and finished there (or the other way round)
 * reuses the shards already done.
 */
import { availableParallelism } from 'node:os';
import { progress } from '../io/progress.ts';
import { runAdvx } from './child.ts';
import { checkModels, type AdvxJob, type ShardedRun } from './jobs.ts';

/** `--threads` for a job of a machine shared by `workers` jobs, unless the job's command line sets its own. */
export function withThreads(job: AdvxJob, workers: number, cores = availableParallelism()): AdvxJob {
  if (job.argv.some((a) => a === '--threads' || a.startsWith('--threads='))) return job;
  if (job.argv[0] === 'merge') return job;
  return { ...job, argv: [...job.argv, '--threads', String(Math.max(1, Math.floor(cores / workers)))] };
}

/** Runs `jobs`, at most `workers` at once; resolves with their JSON lines in order, or rejects with the first failure. */
export async function runJobs(jobs: AdvxJob[], workers: number, onDone?: (done: number) => void): Promise<unknown[]> {
  const results: unknown[] = new Array(jobs.length);
  const abort = new AbortController();
  let next = 0;
  let done = 0;
  const lane = async () => {
    while (next < jobs.length && !abort.signal.aborted) {
      const i = next++;
      checkModels(jobs[i]);
      results[i] = await runAdvx(withThreads(jobs[i], workers), { signal: abort.signal });
      onDone?.(++done);
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(workers, jobs.length) }, lane));
  } catch (e) {
    abort.abort();
    throw e;
  }
  return results;
}

/** Runs a sharded run's shards on `workers` local processes, then merges them; resolves with the merged summary. */
export async function runShardedLocally(run: ShardedRun, workers: number, quiet = false): Promise<unknown> {
  const bar = progress(`${run.command}: shards done`, run.shards.length, quiet);
  await runJobs(run.shards, workers, (done) => bar.update(done, {}));
  bar.stop();
  return runAdvx(run.merge);
}
