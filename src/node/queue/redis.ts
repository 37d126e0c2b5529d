/**
 * The job queue on Redis, with BullMQ: workers (`advx worker --redis URL`) take advx jobs and run
 * each as a child process; a submitter adds a run as a BullMQ flow (the shard jobs as children of
 * the merge job, or a sweep's runs as children of a collecting job) and waits for it.
 *
 * Failure semantics, all BullMQ's own but for the last:
 * - a worker that dies mid-job stops renewing the job's lock; after `stallSeconds` another worker's
 *   stalled-job check puts the job back, and it runs again (the dead worker's child is killed with
 *   it, see child.ts, and the run folder's lock keeps two runs of a shard apart);
 * - a job that fails is retried up to `attempts` times, then fails its parent, and the submitter
 *   reports which job failed and why; a refused input (exit code 2, a model hash that differs) is
 *   not retried;
 * - every job writes only its own run folder, so nothing is counted twice; a run submitted again
 *   gets the same job ids (the run's key), attaches to a flow still going, or replaces a finished
 *   one whose shards, already in their folders, are kept without being run again (FinishedShard).
 */
import type * as Bull from 'bullmq';
import type { Redis as RedisClient } from 'ioredis';
import { AdvxError, ServiceError } from '../../core/errors.ts';
import { OTHER_OPTIONAL_PACKAGES } from '../datasets/index.ts';
import { requirePackages } from '../io/packages.ts';
import { progress } from '../io/progress.ts';
import { AdvxChildError } from './child.ts';
import type { AdvxJob } from './jobs.ts';
import { runJob } from './pool.ts';

const PURPOSE = 'the Redis job queue (advx worker, --redis)';

/** Refuses (one line naming the npm install) when bullmq or ioredis is not installed. */
export function requireQueuePackages(): void {
  requirePackages(OTHER_OPTIONAL_PACKAGES[PURPOSE], PURPOSE);
}

async function loadBullmq(): Promise<{ bull: typeof Bull; Redis: typeof RedisClient }> {
  requireQueuePackages();
  const [bull, ioredis] = await Promise.all([import('bullmq'), import('ioredis')]);
  return { bull, Redis: ioredis.Redis };
}

export function checkRedisUrl(url: string): string {
  if (!/^rediss?:\/\/[^/\s]+/.test(url)) throw new AdvxError(`--redis ${url}: want a Redis URL, e.g. redis://127.0.0.1:6379`);
  return url;
}

/** The jobs of one submitted run: the parent (merge or collect) and its children, in order. */
export interface Flow {
  /** Names the run's jobs: the same run submitted again gets the same ids. */
  id: string;
  parent: { name: 'merge' | 'collect'; data: AdvxJob | { collect: number } };
  children: { name: string; data: AdvxJob }[];
  /** What a child is called in messages ("shard 2/4", "run method=dann seed=1"). */
  childName: (i: number) => string;
}

export interface WorkerOptions {
  redis: string;
  queue: string;
  /** Jobs at once in this process, each a child process with its share of the cores. */
  concurrency: number;
  /** How long a job of a worker that stopped answering waits before another worker takes it. */
  stallSeconds: number;
  log: (line: string) => void;
}

/** Starts a worker; resolves once it is connected, with a function that stops it. */
export async function startWorker(o: WorkerOptions): Promise<{ close: () => Promise<void> }> {
  const { bull, Redis } = await loadBullmq();
  const connection = new Redis(checkRedisUrl(o.redis), { maxRetriesPerRequest: null });
  let lastError = '';
  connection.on('error', (e: Error) => {
    if (e.message !== lastError) o.log(`Redis at ${o.redis}: ${e.message} (retrying)`);
    lastError = e.message;
  });
  connection.on('ready', () => (lastError = ''));
  const worker = new bull.Worker(
    o.queue,
    async (job: Bull.Job) => {
      if (job.name === 'collect') {
        // The children's results in the flow's order: a child's id ends with its index.
        const values = Object.entries(await job.getChildrenValues());
        return values.map(([key, v]) => [Number(key.slice(key.lastIndexOf('-') + 1)), v] as const).sort((a, b) => a[0] - b[0]).map(([, v]) => v);
      }
      const data = job.data as AdvxJob;
      let lastProgress = 0;
      try {
        return await runJob(data, o.concurrency, {
          onStderrLine: (line) => {
            if (Date.now() - lastProgress < 1000) return;
            lastProgress = Date.now();
            job.updateProgress({ line }).catch(() => {});
          },
        });
      } catch (e) {
        // A refused input, or model files that differ here, would fail on every try.
        if ((e instanceof AdvxChildError && !e.retryable) || (e instanceof AdvxError && !(e instanceof ServiceError))) throw new bull.UnrecoverableError(e.message);
        throw e;
      }
    },
    { connection, concurrency: o.concurrency, lockDuration: o.stallSeconds * 1000, stalledInterval: o.stallSeconds * 1000, maxStalledCount: 2 },
  );
  worker.on('active', (job) => o.log(`started ${job.id}: advx ${(job.data as AdvxJob).argv?.join(' ') ?? job.name}`));
  worker.on('completed', (job) => o.log(`finished ${job.id}`));
  worker.on('failed', (job, e) => o.log(`failed ${job?.id} (attempt ${job?.attemptsMade}): ${e.message}`));
  worker.on('error', (e) => {
    if (e.message !== lastError) o.log(`worker: ${e.message}`);
    lastError = e.message;
  });
  await worker.waitUntilReady();
  return {
    close: async () => {
      await worker.close(true);
      connection.disconnect();
    },
  };
}

export interface SubmitOptions {
  redis: string;
  queue: string;
  attempts: number;
  quiet?: boolean;
  /** Where the finished jobs' outputs stay, for the message when Redis goes away. */
  keptIn: string;
}

/**
 * Submits `flow` (or attaches to it, when it is still in the queue) and waits for its parent job;
 * resolves with the parent's result: the merge's JSON line, or the children's JSON lines in order.
 */
export async function runFlowOnRedis(flow: Flow, o: SubmitOptions): Promise<unknown> {
  const { bull, Redis } = await loadBullmq();
  // The submitter does not wait for a Redis that went away: it says so, and a new submission resumes.
  const connection = new Redis(checkRedisUrl(o.redis), { maxRetriesPerRequest: 1, retryStrategy: () => null, connectTimeout: 5000, lazyConnect: true });
  connection.on('error', () => {});
  const gone = (e: unknown) => new ServiceError(`Redis at ${o.redis} ${connection.status === 'ready' ? 'failed' : 'is unreachable'} (${(e as Error).message}): what finished is kept in ${o.keptIn}; run the same command again to go on from there`);
  let queue: Bull.Queue | undefined;
  let producer: Bull.FlowProducer | undefined;
  try {
    await connection.connect().catch((e) => {
      throw gone(e);
    });
    queue = new bull.Queue(o.queue, { connection });
    producer = new bull.FlowProducer({ connection });
    const childId = (i: number) => `${flow.id}-${i}`;
    const existing = await queue.getJob(flow.id);
    const state = existing ? await existing.getState() : undefined;
    if (state === 'completed' || state === 'failed') {
      await queue.remove(flow.id, { removeChildren: true }).catch((e) => {
        throw new AdvxError(`a job of this run is still running (${(e as Error).message}): wait for it, or stop its worker, then submit again`);
      });
    }
    if (state === undefined || state === 'completed' || state === 'failed') {
      const opts = { attempts: o.attempts, backoff: { type: 'exponential', delay: 1000 } };
      await producer.add({
        name: flow.parent.name,
        queueName: o.queue,
        data: flow.parent.data,
        opts: { jobId: flow.id, ...opts },
        children: flow.children.map((c, i) => ({ name: c.name, queueName: o.queue, data: c.data, opts: { jobId: childId(i), failParentOnFailure: true, ...opts } })),
      });
    }
    const bar = progress(`${flow.parent.name === 'merge' ? 'shards' : 'runs'} done`, flow.children.length, o.quiet);
    try {
      for (;;) {
        // The state first, then the job: a job read just before it completes holds no return value.
        const now = await queue.getJobState(flow.id);
        const parent = await queue.getJob(flow.id);
        if (now === 'unknown' || !parent) throw new AdvxError(`the run's jobs (${flow.id}) were removed from the queue: submit again`);
        if (now === 'completed') return parent.returnvalue;
        if (now === 'failed') throw await failure(queue, flow, parent);
        const counts = await parent.getDependenciesCount();
        bar.update(counts.processed ?? 0, {});
        await new Promise((r) => setTimeout(r, 300));
      }
    } finally {
      bar.stop();
    }
  } catch (e) {
    if (e instanceof AdvxError) throw e;
    throw gone(e);
  } finally {
    await producer?.close().catch(() => {});
    await queue?.close().catch(() => {});
    connection.disconnect();
  }
}

/**
 * Which job made the run fail, and why, as one line: a refusal (a job failed for good before its
 * last try: exit code 2, a model that differs) exits 2; a job that failed on every try, a fault, 1.
 */
async function failure(queue: Bull.Queue, flow: Flow, parent: Bull.Job): Promise<AdvxError> {
  const failed = async (): Promise<[string, Bull.Job]> => {
    for (let i = 0; i < flow.children.length; i++) {
      const child = await queue.getJob(`${flow.id}-${i}`);
      if (child && (await child.getState()) === 'failed') return [flow.childName(i), child];
    }
    return [parent.name, parent];
  };
  const [name, job] = await failed();
  const line = `${name} failed${job.attemptsMade > 1 ? ` ${job.attemptsMade} times` : ''}: ${job.failedReason}`;
  return job.attemptsMade >= (job.opts.attempts ?? 1) ? new ServiceError(line) : new AdvxError(line);
}
