/** `advx worker`: takes advx jobs from the Redis queue and runs them, until stopped. */
import { Command, Option } from 'commander';
import { availableParallelism } from 'node:os';
import { positiveInt } from './common.ts';
import { COMMANDS } from './commands.ts';

interface WorkerFlags {
  redis: string;
  queue: string;
  concurrency?: number;
  stallSeconds: number;
}

export function workerCommand(): Command {
  return new Command('worker')
    .description(COMMANDS.worker.summary)
    .requiredOption('--redis <url>', 'the Redis server, e.g. redis://127.0.0.1:6379')
    .addOption(new Option('--queue <name>', 'the queue to take jobs from').default('advx'))
    .addOption(new Option('--concurrency <n>', 'jobs at once, each a process with its share of the cores (default: one per core)').argParser(positiveInt('--concurrency', 256)))
    .addOption(new Option('--stall-seconds <s>', 'how long the job of a worker that stopped (killed, its machine gone) waits before another worker runs it').argParser(positiveInt('--stall-seconds', 3600)).default(30))
    .action((flags: WorkerFlags) => work(flags));
}

async function work(flags: WorkerFlags): Promise<void> {
  const { startWorker } = await import('../node/queue/redis.ts');
  const concurrency = flags.concurrency ?? availableParallelism();
  const log = (line: string) => process.stderr.write(`${new Date().toISOString()} ${line}\n`);
  const worker = await startWorker({ redis: flags.redis, queue: flags.queue, concurrency, stallSeconds: flags.stallSeconds, log });
  log(`taking jobs from ${flags.redis} queue ${flags.queue}, ${concurrency} at a time; Ctrl-C stops (running jobs go back to the queue)`);
  await new Promise<void>((resolve) => {
    const stop = () => {
      log('stopping');
      worker.close().finally(resolve);
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}
