/**
 * Past one machine: the same `advx robustness` run (one workload, one seed) in one process with
 * all cores and with one thread, on the local pool (`--workers 2`, 2 and 4 shards) and on two
 * BullMQ workers (`advx worker --concurrency 1`) through a Redis started here for the purpose.
 * Throughput is images over the wall clock of the whole command (start, model loading, the
 * shards, the merge). Every run's examples.jsonl must be byte for byte the one-process run's, or
 * the script fails. Also measured: a job's fixed cost (`--limit 1`), the model's hash and load
 * time, the Redis commands per job, the merge's time and the bytes written per image; from those
 * the section estimates what 100 workers would ask of one Redis, of the shared folder and of the
 * merge. Writes BENCHMARKS.md's "scale" section (appended, with its heading, when missing).
 *
 *   npm run build:lib && npm run bench:scale [-- --limit 500 --reps 3 --batch 50 --attacks fgsm,pgd --eps 0,0.05,…]
 *
 * Configurations take turns within each of the --reps rounds, so that a change in the machine's
 * load hits all alike; each cell is the median of the rounds (and their min–max). Needs
 * redis-server and redis-cli on the PATH (or --redis-server PATH).
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { appendSection, markSection, replaceSection } from './sections.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const THIS_FILE = fileURLToPath(import.meta.url);
const MODEL = 'models/mnist-cnn';
const DEFAULTS = { limit: '500', reps: '3', batch: '50', attacks: 'fgsm,pgd', eps: '0,0.05,0.1,0.15,0.2,0.25,0.3', seed: '0' };
const { values } = parseArgs({
  options: {
    limit: { type: 'string', default: DEFAULTS.limit },
    reps: { type: 'string', default: DEFAULTS.reps },
    batch: { type: 'string', default: DEFAULTS.batch },
    attacks: { type: 'string', default: DEFAULTS.attacks },
    eps: { type: 'string', default: DEFAULTS.eps },
    seed: { type: 'string', default: DEFAULTS.seed },
    'redis-server': { type: 'string', default: 'redis-server' },
    /** Internal: the measurement run in a child process of its own (a process holds one wasm backend). */
    child: { type: 'string' },
    threads: { type: 'string' },
  },
});
const LIMIT = Number(values.limit);
const REPS = Number(values.reps);
const BATCH = Number(values.batch);
const CORES = availableParallelism();
const HALF = Math.max(1, Math.floor(CORES / 2));
/** What a user would assume one Redis serves: an assumption, said as one in the section. */
const ASSUMED_REDIS_OPS = 100_000;
const PAPER_WORKERS = 100;
const QUEUE = 'advx-bench-scale';

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const sec = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const fmt = (x: number, digits = 1) => x.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

if (values.child === 'load') {
  await childLoad(Number(values.threads ?? HALF));
} else {
  await main();
}

/** In a process of its own: backend start, model load and dataset load, each timed; one JSON line. */
async function childLoad(threads: number): Promise<void> {
  const t0 = performance.now();
  const { useBackend } = await import('../src/backend/index.ts');
  const { loadClassifier } = await import('../src/node/io/load-model.ts');
  const { loadDataset } = await import('../src/node/datasets/index.ts');
  const { modelFingerprint } = await import('../src/node/runs/shards.ts');
  const t1 = performance.now();
  await useBackend('wasm', { threads });
  const t2 = performance.now();
  await loadClassifier(join(ROOT, MODEL));
  const t3 = performance.now();
  loadDataset('mnist').test;
  const t4 = performance.now();
  modelFingerprint(join(ROOT, MODEL));
  const t5 = performance.now();
  process.stdout.write(`${JSON.stringify({ importMs: t1 - t0, backendMs: t2 - t1, modelMs: t3 - t2, dataMs: t4 - t3, hashMs: t5 - t4 })}\n`);
}

interface Config {
  name: string;
  /** What the table says it is. */
  label: string;
  args: string[];
  shards: number;
  redis?: boolean;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
  });
}

/** The blocks of --batch inputs each of `shards` shards gets (dealt round-robin, as --shard deals them). */
function blocksPerShard(shards: number): number[] {
  const blocks = Math.ceil(LIMIT / BATCH);
  return Array.from({ length: shards }, (_, i) => Math.max(0, Math.ceil((blocks - i) / shards)));
}

async function main(): Promise<void> {
  if (!existsSync(join(ROOT, 'dist', 'cli', 'main.js'))) throw new Error('dist/ is not built: run npm run build:lib first');
  const loadStart = loadavg();
  const started = new Date();
  const work = mkdtempSync(join(tmpdir(), 'advx-bench-scale-'));
  const logs = join(work, 'logs');
  mkdirSync(logs);
  const children: ChildProcess[] = [];
  let failed = false;
  try {
    // Redis, on a free port, keeping nothing on disk; two workers taking jobs from it.
    const port = await freePort();
    const url = `redis://127.0.0.1:${port}`;
    const redisDir = join(work, 'redis');
    mkdirSync(redisDir);
    const redis = spawn(values['redis-server']!, ['--port', String(port), '--bind', '127.0.0.1', '--dir', redisDir, '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    children.push(redis);
    const redisCli = (...args: string[]) => execFileSync('redis-cli', ['-p', String(port), ...args], { encoding: 'utf8' });
    await new Promise<void>((resolve, reject) => {
      redis.once('error', (e) => reject(new Error(`could not start ${values['redis-server']}: ${e.message} (install redis-server, or give --redis-server PATH)`)));
      const deadline = Date.now() + 10_000;
      const poll = () => {
        try {
          if (redisCli('ping').trim() === 'PONG') return resolve();
        } catch {}
        if (Date.now() > deadline) return reject(new Error(`redis-server on port ${port} did not answer in 10 s`));
        setTimeout(poll, 100);
      };
      poll();
    });
    const commandsProcessed = () => Number(/total_commands_processed:(\d+)/.exec(redisCli('info', 'stats'))![1]);
    const workerLogs: string[] = [];
    for (let w = 0; w < 2; w++) {
      const log = join(logs, `worker-${w}.log`);
      workerLogs.push(log);
      const fd = openSync(log, 'w');
      children.push(spawn(process.execPath, [join(ROOT, 'bin', 'advx.js'), 'worker', '--redis', url, '--queue', QUEUE, '--concurrency', '1'], { cwd: ROOT, stdio: ['ignore', 'ignore', fd] }));
      closeSync(fd);
    }
    for (const log of workerLogs) {
      const deadline = Date.now() + 30_000;
      while (!readFileSync(log, 'utf8').includes('taking jobs')) {
        if (Date.now() > deadline) throw new Error(`a worker did not start in 30 s:\n${readFileSync(log, 'utf8')}`);
        await sleep(100);
      }
    }

    const configs: Config[] = [
      { name: 'one', label: `1 process, --threads ${CORES} (default: all cores)`, args: [], shards: 1 },
      { name: 'one-t1', label: '1 process, --threads 1', args: ['--threads', '1'], shards: 1 },
      { name: 'pool-2', label: `local pool, --workers 2 --shards 2 (--threads ${HALF} each)`, args: ['--workers', '2', '--shards', '2'], shards: 2 },
      { name: 'pool-4', label: `local pool, --workers 2 --shards 4 (--threads ${HALF} each)`, args: ['--workers', '2', '--shards', '4'], shards: 4 },
      {
        name: 'redis-4',
        label: `Redis, 2 × \`advx worker --concurrency 1\`, --shards 4 --threads ${HALF}`,
        args: ['--redis', url, '--queue', QUEUE, '--shards', '4', '--threads', String(HALF)],
        shards: 4,
        redis: true,
      },
    ];
    for (const c of configs) {
      if (blocksPerShard(c.shards).includes(0)) console.warn(`note: --limit ${LIMIT} --batch ${BATCH} gives ${Math.ceil(LIMIT / BATCH)} blocks, so some of ${c.name}'s ${c.shards} shards are empty`);
    }
    const base = ['robustness', '--model', MODEL, '--attacks', values.attacks!, '--eps', values.eps!, '--limit', String(LIMIT), '--batch', String(BATCH), '--seed', values.seed!];
    let runNo = 0;
    /** Runs `advx …args` in the checkout; its wall time, and its stderr in a log shown when it fails. */
    const advx = (args: string[], what: string): number => {
      const log = join(logs, `${String(++runNo).padStart(3, '0')}-${what}.log`);
      const fd = openSync(log, 'w');
      const t0 = performance.now();
      const r = spawnSync(process.execPath, [join(ROOT, 'bin', 'advx.js'), ...args], { cwd: ROOT, stdio: ['ignore', 'ignore', fd] });
      const ms = performance.now() - t0;
      closeSync(fd);
      if (r.status !== 0) throw new Error(`advx ${args.join(' ')} failed (exit ${r.status ?? r.signal}):\n${readFileSync(log, 'utf8').split('\n').slice(-15).join('\n')}`);
      return ms;
    };

    // Fixed costs, before the timed runs (they also warm the file cache): the CLI's start, a job of
    // one image with a worker's share of the cores, and, in a process of its own, the backend's
    // start, the model's and the dataset's load and the model's hash (what a worker does per job).
    const fixed = { help: [] as number[], one: [] as number[], merge: [] as number[], load: [] as { importMs: number; backendMs: number; modelMs: number; dataMs: number; hashMs: number }[] };
    for (let r = 0; r < REPS; r++) {
      fixed.help.push(advx(['--help'], 'help'));
      // As a shard job runs it (--shard 0/1), so that `advx merge` of it gives the merge's fixed cost.
      const shard = join(work, `limit1-${r}`);
      fixed.one.push(advx([...base.map((a, i) => (base[i - 1] === '--limit' ? '1' : a)), '--threads', String(HALF), '--shard', '0/1', '--out', shard, '--json'], 'limit1'));
      fixed.merge.push(advx(['merge', shard, '--out', join(work, `limit1-merged-${r}`), '--json'], 'merge1'));
      const out = execFileSync(process.execPath, ['--import', 'tsx', THIS_FILE, '--child', 'load', '--threads', String(HALF)], { cwd: ROOT, encoding: 'utf8' });
      fixed.load.push(JSON.parse(out.trim().split('\n').pop()!));
    }
    const loadMedian = (k: keyof (typeof fixed.load)[number]) => median(fixed.load.map((l) => l[k]));

    // Redis while the two workers wait for jobs: their commands per second when idle.
    const idleSeconds = 6;
    const idle0 = commandsProcessed();
    await sleep(idleSeconds * 1000);
    const idlePerWorker = (commandsProcessed() - idle0 - 1) / idleSeconds / 2;

    // The timed runs, taking turns.
    const wall = new Map<string, number[]>(configs.map((c) => [c.name, []]));
    const redisOps: { commands: number; ms: number }[] = [];
    let reference: Buffer | undefined;
    const mismatches: string[] = [];
    let lastPool4 = '';
    for (let rep = 0; rep < REPS; rep++) {
      for (const c of configs) {
        const out = join(work, `${c.name}-${rep}`);
        const before = c.redis ? commandsProcessed() : 0;
        const ms = advx([...base, ...c.args, '--out', out, '--json'], c.name);
        if (c.redis) redisOps.push({ commands: commandsProcessed() - before - 1, ms });
        wall.get(c.name)!.push(ms);
        const examples = readFileSync(join(out, 'examples.jsonl'));
        reference ??= examples;
        const same = examples.equals(reference);
        if (!same) mismatches.push(`${c.name} round ${rep + 1}: ${out}/examples.jsonl differs from the 1-process run's (${examples.length} vs ${reference.length} bytes)`);
        console.log(`round ${rep + 1}/${REPS} ${c.name.padEnd(8)} ${sec(ms).padStart(9)}  ${fmt(LIMIT / (ms / 1000))} images/s  examples.jsonl ${same ? 'identical' : 'DIFFERS'}`);
        if (c.name === 'pool-4') lastPool4 = out;
      }
    }
    if (mismatches.length) {
      failed = true;
      throw new Error(`examples.jsonl is not the same in every configuration:\n${mismatches.join('\n')}`);
    }

    // The merge alone, on the 4 shards of a pool run, against the merge of one image: its cost per image.
    const shardDirs = Array.from({ length: 4 }, (_, i) => join(lastPool4, 'shards', String(i)));
    const mergeMs = median(Array.from({ length: REPS }, (_, r) => advx(['merge', ...shardDirs, '--out', join(work, `merge-${r}`), '--json'], 'merge')));
    const mergeFixedMs = median(fixed.merge);
    const bytesPerImage = reference!.length / LIMIT;
    const shardBytes = shardDirs.map((d) => statSync(join(d, 'examples.jsonl')).size);

    // The table.
    const rows = configs.map((c) => {
      const ms = wall.get(c.name)!;
      const m = median(ms);
      return { c, m, min: Math.min(...ms), max: Math.max(...ms), rate: LIMIT / (m / 1000) };
    });
    const oneRate = rows[0].rate;
    const lines = [
      `The same run, \`advx robustness --model ${MODEL} --attacks ${values.attacks} --eps ${values.eps} --limit ${LIMIT} --batch ${BATCH} --seed ${values.seed}\`, five ways. Wall clock of the whole command (start, model loading, shards, merge), median of ${REPS} round${REPS > 1 ? 's' : ''} taking turns (min–max); every run's examples.jsonl is byte for byte the 1-process run's. Shards get blocks of --batch inputs dealt round-robin (${Math.ceil(LIMIT / BATCH)} blocks here).`,
      '',
      '| configuration | blocks per shard | wall (median) | min–max | images/s | vs 1 process |',
      '| --- | --- | ---: | ---: | ---: | ---: |',
      ...rows.map(({ c, m, min, max, rate }) => `| ${c.label} | ${c.shards === 1 ? '–' : blocksPerShard(c.shards).join(', ')} | ${sec(m)} | ${fmt(min / 1000, 2)}–${fmt(max / 1000, 2)} s | ${fmt(rate)} | ${fmt(rate / oneRate, 2)}× |`),
      '',
    ];

    // Fixed costs and Redis, measured.
    const jobs = 4 + 1; // shards and the merge
    const opsPerJob = median(redisOps.map((r) => r.commands)) / jobs;
    const opsPerSecondInRun = median(redisOps.map((r) => r.commands / (r.ms / 1000)));
    const jobFixedMs = median(fixed.one);
    lines.push(
      `Per job, measured: \`advx --help\` starts in ${sec(median(fixed.help))}; a job of 1 image (\`--limit 1 --threads ${HALF}\`: start, backend, model, data, one image, its files) takes ${sec(jobFixedMs)}; in it, the wasm backend starts in ${fmt(loadMedian('backendMs'), 0)} ms, the model loads in ${fmt(loadMedian('modelMs'), 0)} ms and MNIST (both splits, as a job loads it) in ${fmt(loadMedian('dataMs'), 0)} ms; a worker hashes the model's files (to refuse another version) in ${fmt(loadMedian('hashMs'), 1)} ms before it starts the job's process. ` +
        `Redis: ${fmt(opsPerJob, 0)} commands per job (all commands during a run, the submitter's polling and the workers' included, over its ${jobs} jobs: 4 shards and the merge), ${fmt(opsPerSecondInRun, 0)} commands/s during the run; an idle worker sends ${fmt(idlePerWorker, 1)} commands/s. ` +
        `The merge of the 4 shards (\`advx merge\`, a process of its own) takes ${sec(mergeMs)} for ${LIMIT} images, ${sec(mergeFixedMs)} for 1; examples.jsonl holds ${fmt(bytesPerImage, 0)} bytes per image (shards of ${shardBytes.map((b) => fmt(b / 1000, 1)).join(', ')} kB).`,
      '',
    );

    // 100 workers on paper, from the numbers above.
    const redisRate = rows[4].rate;
    const perWorker = redisRate / 2; // images/s of one worker, as measured here (each with cores/2 threads)
    const imagesPerJob = LIMIT / 4;
    const totalRate = PAPER_WORKERS * perWorker;
    const jobsPerSecond = totalRate / imagesPerJob;
    const redisNeeded = jobsPerSecond * opsPerJob + PAPER_WORKERS * idlePerWorker;
    const minImagesPerJob = (totalRate * opsPerJob) / Math.max(1, ASSUMED_REDIS_OPS - PAPER_WORKERS * idlePerWorker);
    const jobSeconds = imagesPerJob / perWorker;
    const fixedShare = jobFixedMs / 1000 / jobSeconds;
    const writeRate = totalRate * bytesPerImage;
    const mergePerImage = Math.max(0, mergeMs - mergeFixedMs) / 1000 / Math.max(1, LIMIT - 1);
    const mergeShare = (mergePerImage * totalRate) / (1 + mergePerImage * totalRate);
    lines.push(
      `**${PAPER_WORKERS} workers on paper** (computed from the measurements above, assuming workers scale linearly at the throughput one of the two Redis workers had here, ${fmt(perWorker)} images/s, and jobs of ${fmt(imagesPerJob, 0)} images as here): ` +
        `${fmt(totalRate, 0)} images/s, ${fmt(jobsPerSecond)} jobs/s. ` +
        `Redis: ${fmt(jobsPerSecond)} jobs/s × ${fmt(opsPerJob, 0)} commands + ${PAPER_WORKERS} idle-rate workers × ${fmt(idlePerWorker, 1)} commands/s ≈ ${fmt(redisNeeded, 0)} commands/s, ${fmt((100 * redisNeeded) / ASSUMED_REDIS_OPS, 2)}% of one Redis *if* it serves ${ASSUMED_REDIS_OPS.toLocaleString('en-US')} simple commands/s (an assumption, typical of one Redis core, not measured here; BullMQ's commands are Lua scripts, heavier than a GET); Redis would be the limit only with jobs under ~${fmt(Math.max(minImagesPerJob, 0), 1)} images. ` +
        `Start-up: each job pays ${sec(jobFixedMs)} of fixed cost (process, backend, model and data: the model itself ${fmt(loadMedian('modelMs'), 0)} ms, MNIST ${fmt(loadMedian('dataMs'), 0)} ms) of the ${fmt(jobSeconds, 1)} s a job takes a worker, ${fmt(100 * fixedShare, 1)}%; ${fmt(jobsPerSecond * (jobFixedMs / 1000), 1)} of the ${PAPER_WORKERS} workers are busy starting jobs at any time, and ${fmt(jobsPerSecond, 1)} model loads per second read the shared folder. ` +
        `Results: ${fmt(bytesPerImage, 0)} bytes per image, ${fmt((imagesPerJob * bytesPerImage) / 1000, 1)} kB per shard, ${fmt(writeRate / 1e6, 2)} MB/s written to the shared folder. ` +
        (mergePerImage > 0
          ? `Merge: ${sec(mergeFixedMs)} once plus ${fmt(mergePerImage * 1000, 3)} ms per image (one process, after the last shard), against ${fmt(1000 / totalRate, 3)} ms per image of the ${PAPER_WORKERS} workers: the per-image part of the merge would be ${fmt(100 * mergeShare, 1)}% of a large run's wall clock.`
          : `Merge: ${sec(mergeFixedMs)} once; its cost per image was too small to measure here (the ${LIMIT}-image merge took no longer than the 1-image one): run with a larger --limit.`),
      '',
    );
    const flags = Object.entries(DEFAULTS)
      .filter(([k, v]) => String(values[k as keyof typeof values]) !== v)
      .map(([k]) => ` --${k} ${values[k as keyof typeof values]}`)
      .join('');
    const loadEnd = loadavg();
    lines.push(
      `Measured ${started.toISOString().slice(0, 10)} on ${CORES} × ${cpus()[0]?.model.trim()}, Node ${process.version}, Redis ${/redis_version:(\S+)/.exec(redisCli('info', 'server'))?.[1]} on 127.0.0.1 (load average at the start ${loadStart.map((l) => l.toFixed(2)).join(' ')}, at the end ${loadEnd.map((l) => l.toFixed(2)).join(' ')}), by \`npm run bench:scale${flags ? ` --${flags}` : ''}\`.`,
    );
    const markdown = lines.join('\n');
    const note = '(written by `npm run bench:scale`; do not edit by hand)';
    replaceSection(join(ROOT, 'BENCHMARKS.md'), 'scale', markdown, { note, ifMissing: appendSection('## Past one machine: shards, local pool, Redis workers') });
    console.log(markSection('scale', markdown, note));
  } catch (e) {
    failed = true;
    throw e;
  } finally {
    // Workers first (SIGTERM: they close their connection), then Redis; SIGKILL after 10 s.
    const stop = async (cs: ChildProcess[]) => {
      await Promise.all(
        cs.map(async (c) => {
          if (c.exitCode !== null || c.signalCode !== null) return;
          const exited = new Promise((r) => c.once('exit', r));
          c.kill('SIGTERM');
          const timer = setTimeout(() => c.kill('SIGKILL'), 10_000);
          await exited;
          clearTimeout(timer);
        }),
      );
    };
    await stop(children.slice(1));
    await stop(children.slice(0, 1));
    if (failed) console.error(`run folders and logs kept in ${work}`);
    else rmSync(work, { recursive: true, force: true });
  }
}
