/**
 * The Redis job queue end to end, with a real redis-server and real `advx worker` processes: a
 * run in shard jobs on several workers equals the run in one process; a worker killed with
 * SIGKILL mid-job leaves its job to another worker and the figures do not change; a Redis that
 * goes away is one line and exit code 1, and the same command run again finishes the run,
 * keeping the shards done before; a worker refuses a job whose model files differ from the
 * submitter's; a sweep collects its points' JSON lines.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stripVTControlCharacters } from 'node:util';
import { advxAsync, advxJson, advxRun, lastJson } from '../helpers/cli.ts';
import { resultsFigures } from '../helpers/results.ts';
import { startRedis, type TestRedis } from '../helpers/redis.ts';

const tmp = mkdtempSync(join(tmpdir(), 'advx-redis-queue-'));
const dir = (name: string) => join(tmp, name);
const read = (d: string, f: string) => readFileSync(join(d, f), 'utf8');

/** Three attacks on 48 images in blocks of 8: 6 blocks, a few seconds per shard. */
const RUN = ['robustness', '--model', 'models/mnist-cnn', '--attacks', 'fgsm,pgd,deepfool', '--eps', '0.05,0.1,0.2', '--steps', '10', '--limit', '48', '--batch', '8', '--seed', '3'];

let redis: TestRedis;
const workers: { child: ChildProcess; log: string }[] = [];

function startWorker(queue: string): { child: ChildProcess; log: string } {
  const w = { child: advxAsync(['worker', '--redis', redis.url, '--queue', queue, '--concurrency', '1', '--stall-seconds', '2']), log: '' };
  w.child.stderr!.on('data', (d) => (w.log += stripVTControlCharacters(String(d))));
  workers.push(w);
  return w;
}

async function stopWorkers(): Promise<void> {
  for (const w of workers.splice(0)) {
    if (w.child.exitCode !== null || w.child.signalCode !== null) continue;
    const gone = new Promise((r) => w.child.once('exit', r));
    w.child.kill('SIGTERM');
    await gone;
  }
}

async function until(condition: () => boolean, what: string, ms = 120_000): Promise<void> {
  const end = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

before(async () => {
  redis = await startRedis();
  advxJson([...RUN, '--out', dir('whole'), '--json']);
});

after(async () => {
  await stopWorkers();
  await redis.stop();
});

function assertSameRun(out: string): void {
  assert.deepEqual(resultsFigures(out), resultsFigures(dir('whole')));
  assert.equal(read(out, 'examples.jsonl'), read(dir('whole'), 'examples.jsonl'));
  assert.equal(read(out, 'config.json'), read(dir('whole'), 'config.json'));
}

test('a run in 4 shard jobs on 3 workers equals the run in one process', async () => {
  const queue = 'three';
  for (let i = 0; i < 3; i++) startWorker(queue);
  const r = await advxRun([...RUN, '--redis', redis.url, '--queue', queue, '--shards', '4', '--out', dir('three'), '--json']);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(lastJson(r.stdout).robust_accuracy, (JSON.parse(read(dir('whole'), 'results.json')) as { summary: { robust_accuracy: unknown } }).summary.robust_accuracy);
  assertSameRun(dir('three'));
  // Not one worker doing everything: the jobs were spread.
  const busy = workers.filter((w) => /started robustness-\w+-\d/.test(w.log));
  assert.ok(busy.length >= 2, workers.map((w) => w.log).join('\n'));
  await stopWorkers();
});

test('a worker killed with SIGKILL mid-job: another worker runs its job, and the figures are the same', async () => {
  const queue = 'kill';
  const [a, b] = [startWorker(queue), startWorker(queue)];
  const submit = advxRun([...RUN, '--redis', redis.url, '--queue', queue, '--shards', '3', '--out', dir('killed'), '--json']);
  await until(() => /started (robustness-\w+-\d)/.test(a.log + b.log), 'a worker to start a job');
  const victim = /started (robustness-\w+-\d)/.test(a.log) ? a : b;
  const survivor = victim === a ? b : a;
  const job = /started (robustness-\w+-\d)/.exec(victim.log)![1];
  victim.child.kill('SIGKILL');
  const r = await submit;
  assert.equal(r.status, 0, r.stderr);
  assert.match(survivor.log, new RegExp(`started ${job}:`), `the killed worker's job ${job} ran again on the other worker`);
  assertSameRun(dir('killed'));
  await stopWorkers();
});

test('Redis gone mid-run: one line, exit code 1; the same command again finishes the run and keeps the shards done', async () => {
  const queue = 'gone';
  startWorker(queue);
  const args = [...RUN, '--redis', redis.url, '--queue', queue, '--shards', '3', '--out', dir('gone'), '--json'];
  const submit = advxRun(args);
  const first = join(dir('gone'), 'shards', '0', 'results.json');
  await until(() => existsSync(first), 'the first shard to finish');
  await redis.stop();
  const r = await submit;
  assert.equal(r.status, 1, r.stderr);
  assert.equal(r.stderr.trim().split('\n').filter((l) => l.startsWith('advx:')).length, 1, r.stderr);
  assert.match(r.stderr, /advx: Redis at redis:\/\/127\.0\.0\.1:\d+ .*kept in .*shards; run the same command again/);
  const finishedAt = statSync(first).mtimeMs;

  // Back, empty (no persistence): the worker reconnects by itself; the run is submitted again.
  await redis.start();
  const again = await advxRun(args);
  assert.equal(again.status, 0, again.stderr);
  assertSameRun(dir('gone'));
  assert.equal(statSync(first).mtimeMs, finishedAt, 'the shard finished before Redis went away is kept, not run again');
  await stopWorkers();
});

test('a worker refuses a job whose model files differ from the submitter\'s', async () => {
  const queue = 'hash';
  cpSync('models/mnist-cnn', dir('model'), { recursive: true });
  const submit = advxRun([...RUN.slice(0, 1), '--model', dir('model'), ...RUN.slice(3), '--redis', redis.url, '--queue', queue, '--shards', '2', '--out', dir('hash')]);
  // Submitted (hashed) with no worker yet; then the model changes under the same path.
  await until(() => existsSync(join(dir('hash'), '.advx-run')), 'the submission');
  await new Promise((r) => setTimeout(r, 1000));
  const config = join(dir('model'), 'model.json');
  writeFileSync(config, read(dir('model'), 'model.json').replace('"format"', ' "format"'));
  startWorker(queue);
  const r = await submit;
  assert.equal(r.status, 2, r.stderr);
  // Progress lines, then one error line.
  const errors = r.stderr.trim().split('\n').filter((l) => !/^shards done/.test(l));
  assert.equal(errors.length, 1, r.stderr);
  assert.match(errors[0], /^advx: shard [01]\/2 failed: model \S+model differs on this machine from the submitter's \(sha256 [0-9a-f]{12}… here, [0-9a-f]{12}… submitted\)/);
  assert.ok(!existsSync(join(dir('hash'), 'shards')), 'nothing ran');
  await stopWorkers();
});

test('a sweep on the queue: one job per point, their JSON lines in grid order', async () => {
  const queue = 'sweep';
  startWorker(queue);
  startWorker(queue);
  const grid = dir('grid.json');
  writeFileSync(grid, JSON.stringify({ command: 'evaluate', args: ['--model', 'models/mnist-cnn', '--batch', '16'], grid: { '--limit': [16, 32], '--split': ['test', 'train'] } }));
  const r = await advxRun(['sweep', grid, '--redis', redis.url, '--queue', queue, '--out', dir('sweep'), '--json']);
  assert.equal(r.status, 0, r.stderr);
  const rows = JSON.parse(r.stdout.trim().split('\n').pop()!) as { flags: Record<string, unknown>; result: { count: number } }[];
  assert.deepEqual(rows.map((row) => row.flags), [
    { '--limit': 16, '--split': 'test' },
    { '--limit': 16, '--split': 'train' },
    { '--limit': 32, '--split': 'test' },
    { '--limit': 32, '--split': 'train' },
  ]);
  assert.deepEqual(rows.map((row) => row.result.count), [16, 16, 32, 32]);
  assert.match(read(dir('sweep'), 'table.md'), /^\| --limit \| --split \| .*accuracy.* \|\n/);
  await stopWorkers();
});

test('a job that keeps failing is tried --attempts times, then the run fails (a fault: exit code 1) naming the shard and its error', async () => {
  const queue = 'fail';
  startWorker(queue);
  // A served model nobody serves: each try of a shard fails with exit code 1 (a fault, worth retrying).
  const r = await advxRun(['robustness', '--model', 'http://127.0.0.1:9/v1/models/none', '--protocol', 'tfserving', '--retries', '0', '--attacks', 'square', '--eps', '0.1', '--limit', '4', '--batch', '2', '--redis', redis.url, '--queue', queue, '--shards', '2', '--attempts', '2', '--out', dir('fail')]);
  assert.equal(r.status, 1, r.stderr);
  const errors = r.stderr.trim().split('\n').filter((l) => !/^shards done/.test(l));
  assert.equal(errors.length, 1, r.stderr);
  assert.match(errors[0], /^advx: shard [01]\/2 failed 2 times: advx robustness failed \(exit code 1\): .*127\.0\.0\.1:9/);
  await stopWorkers();
});
