/** Jobs as data: a sharded run's command lines, the flags a job never gets, threads per job, model hashes. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkModels, hashModels, jobArguments, planShards } from '../../src/node/queue/jobs.ts';
import { withThreads } from '../../src/node/queue/pool.ts';

test('a job gets the command line without the distribution flags, --out and --json, in both flag forms', () => {
  const args = ['--model', 'm', '--redis', 'redis://h:1', '--shards=4', '--workers', '2', '--queue=q', '--attempts', '5', '--out', 'runs/x', '--json', '--eps', '0.1', '--out=elsewhere', '--seed', '3'];
  assert.deepEqual(jobArguments(args), ['--model', 'm', '--eps', '0.1', '--seed', '3']);
});

test('a sharded run: N shard command lines into OUT/shards/i, a merge of them into OUT, a key that names the run', () => {
  const cwd = '/work/x';
  const run = planShards('robustness', ['--model', 'm', '--workers', '2', '--out', 'runs/a', '--json'], { out: 'runs/a', shards: 3, cwd, models: [] });
  assert.deepEqual(run.shards.map((s) => s.argv), [0, 1, 2].map((i) => ['robustness', '--model', 'm', '--shard', `${i}/3`, '--out', `/work/x/runs/a/shards/${i}`, '--json']));
  assert.deepEqual(run.merge.argv, ['merge', '/work/x/runs/a/shards/0', '/work/x/runs/a/shards/1', '/work/x/runs/a/shards/2', '--out', '/work/x/runs/a', '--json']);
  // The same run (however it is distributed) has the same key; another N, folder or option another.
  const again = planShards('robustness', ['--model', 'm', '--redis', 'redis://h:1', '--out', 'runs/a'], { out: 'runs/a', shards: 3, cwd, models: [] });
  assert.equal(again.key, run.key);
  assert.notEqual(planShards('robustness', ['--model', 'm'], { out: 'runs/a', shards: 4, cwd, models: [] }).key, run.key);
  assert.notEqual(planShards('robustness', ['--model', 'm'], { out: 'runs/b', shards: 3, cwd, models: [] }).key, run.key);
  assert.notEqual(planShards('robustness', ['--model', 'm', '--seed', '1'], { out: 'runs/a', shards: 3, cwd, models: [] }).key, run.key);
});

test('each job gets its share of the cores unless its command line sets --threads; a merge gets none', () => {
  const job = { argv: ['robustness', '--model', 'm'], cwd: '/', models: [] };
  assert.deepEqual(withThreads(job, 2, 8).argv.slice(-2), ['--threads', '4']);
  assert.deepEqual(withThreads(job, 16, 8).argv.slice(-2), ['--threads', '1']);
  assert.deepEqual(withThreads({ ...job, argv: [...job.argv, '--threads=3'] }, 2, 8).argv, [...job.argv, '--threads=3']);
  assert.deepEqual(withThreads({ ...job, argv: ['merge', 'a', 'b'] }, 2, 8).argv, ['merge', 'a', 'b']);
});

test('a job is refused where its model files differ from the submitter\'s, or are missing; a served model is not hashed', () => {
  const dir = mkdtempSync(join(tmpdir(), 'advx-jobs-'));
  cpSync('models/mnist-cnn', join(dir, 'model'), { recursive: true });
  const models = hashModels(['model', 'http://127.0.0.1:8501/v1/models/net'], dir);
  assert.equal(models.length, 1);
  assert.match(models[0].sha256, /^[0-9a-f]{64}$/);
  const job = { argv: ['evaluate', '--model', 'model'], cwd: dir, models };
  checkModels(job);
  writeFileSync(join(dir, 'model', 'extra.txt'), 'another file in the folder');
  assert.throws(() => checkModels(job), /model model differs on this machine from the submitter's/);
  assert.throws(() => checkModels({ ...job, cwd: join(dir, 'nowhere') }), /does not exist on this machine/);
  assert.throws(() => checkModels({ ...job, models: [{ path: 'gone', sha256: models[0].sha256 }] }), /model gone is not on this machine/);
});
