/**
 * The local pool: a sharded run's jobs as child processes on this machine, `workers` at a time,
 * each with its share of the cores, then the merge. No server; the same jobs and the same run
 * folders as the Redis queue, so a run started here and finished there (or the other way round)
 * reuses the shards already done.
 */
import { availableParallelism } from 'node:os';
import { EXIT_TRY_LATER } from '../../core/errors.ts';
import { AdvxChildError, asCliError, runAdvx, type RunAdvxOptions } from './child.ts';
import { checkModels, type AdvxJob, type ShardedRun } from './jobs.ts';

/** `--threads` for a job of a machine shared by `workers` jobs, unless the job's command line sets its own. */
export function withThreads(job: AdvxJob, workers: number, cores = availableParallelism()): AdvxJob {
  if (job.argv.some((a) => a === '--threads' || a.startsWith('--threads='))) return job;
  if (job.argv[0] === 'merge') return job;
  return { ...job, argv: [...job.argv, '--threads', String(Math.max(1, Math.floor(cores / workers)))] };
}

/** How long a job waits for a run folder another process is still writing (a shard of a worker that lost Redis but not its child). */
const BUSY_WAIT_MS = 30 * 60_000;

/**
 * Runs one job here: refuses other model files than the submitter hashed, gives it its share of
 * the cores, and waits while its run folder is in use by another advx (exit code 75), then runs it
 * again; the folder is then finished (kept) or free.
 */
export async function runJob(job: AdvxJob, workers: number, options: RunAdvxOptions = {}): Promise<unknown> {
  checkModels(job);
  const until = Date.now() + BUSY_WAIT_MS;
  for (;;) {
    try {
      return await runAdvx(withThreads(job, workers), options);
    } catch (e) {
      if (!(e instanceof AdvxChildError && e.exitCode === EXIT_TRY_LATER && Date.now() < until)) throw e;
      await new Promise((r) => setTimeout(r, 2000));
    }
  }
}

/**
 * Runs `jobs`, at most `workers` at once; resolves with their JSON lines in order, or rejects with
 * the first failure. `onLine` gets each job's stderr lines (its progress) but its error line.
 */
export async function runJobs(jobs: AdvxJob[], workers: number, onDone?: (done: number) => void, onLine?: (job: number, line: string) => void): Promise<unknown[]> {
  const results: unknown[] = new Array(jobs.length);
  const abort = new AbortController();
  let next = 0;
  let done = 0;
  const lane = async () => {
    while (next < jobs.length && !abort.signal.aborted) {
      const i = next++;
      const onStderrLine = onLine && ((line: string) => (line.startsWith('advx: ') ? undefined : onLine(i, line)));
      results[i] = await runJob(jobs[i], workers, { signal: abort.signal, onStderrLine });
      onDone?.(++done);
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(workers, jobs.length) }, lane));
  } catch (e) {
    abort.abort();
    throw asCliError(e);
  }
  return results;
}

/**
 * Runs a sharded run's shards on `workers` local processes, then merges them; resolves with the
 * merged summary. Progress is lines on stderr: each shard's own (which it writes as lines, its
 * stderr being a pipe), prefixed with the shard, and a line per shard done.
 */
export async function runShardedLocally(run: ShardedRun, workers: number, quiet = false): Promise<unknown> {
  const n = run.shards.length;
  const say = (line: string) => quiet || process.stderr.write(line + '\n');
  await runJobs(run.shards, workers, (done) => say(`${run.command}: ${done}/${n} shards done`), (i, line) => say(`shard ${i}/${n}: ${line}`));
  return runAdvx(run.merge).catch((e) => {
    throw asCliError(e);
  });
}
