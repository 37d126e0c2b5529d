/**
 * The shard contract for `advx transfer`: blocks of --batch images dealt to `--shard i/N` folders,
 * then `advx merge`, give the unsharded run's files: results.json (every rate and count; the
 * seconds are sums), examples.jsonl and config.json, byte for byte but the seconds.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { advxJson, assertRefused } from '../helpers/cli.ts';
import { resultsFigures } from '../helpers/results.ts';

const tmp = mkdtempSync(join(tmpdir(), 'advx-transfer-shards-'));
const dir = (name: string) => join(tmp, name);

/** PGD with a random start (drawn from the seed) crafted on a plain and a robust CNN, 20 images in blocks of 8 (the last one short). */
const RUN = ['transfer', '--models', 'models/mnist-cnn,models/mnist-robust', '--attack', 'pgd', '--eps', '0.2', '--steps', '5', '--limit', '20', '--batch', '8', '--seed', '3'];

const read = (d: string, f: string) => readFileSync(join(d, f));

test('transfer in 3 shards, merged, equals the unsharded run: results.json (but the seconds), examples.jsonl, config.json', () => {
  const whole = advxJson([...RUN, '--out', dir('whole'), '--json']);
  for (let i = 0; i < 3; i++) {
    const shard = advxJson([...RUN, '--shard', `${i}/3`, '--out', dir(`s${i}`), '--json']);
    assert.deepEqual(shard.shard, { index: i, count: 3 });
    assert.equal(shard.count, [8, 8, 4][i]);
  }
  const merged = advxJson(['merge', dir('s2'), dir('s0'), dir('s1'), '--out', dir('merged'), '--json']);

  // Not vacuous: the plain CNN's examples fool it, and fool the robust one less often.
  const rates = whole.rates as number[][];
  assert.ok(rates[0][0] > 0.5 && rates[0][1] < rates[0][0], JSON.stringify(whole));
  assert.deepEqual(resultsFigures(dir('merged')), resultsFigures(dir('whole')));
  assert.deepEqual((({ seconds: _, ...f }) => f)(merged), (({ seconds: _, ...f }) => f)(JSON.parse(read(dir('whole'), 'results.json').toString()).summary));
  for (const f of ['examples.jsonl', 'config.json']) assert.ok(read(dir('merged'), f).equals(read(dir('whole'), f)), f);
  const records = read(dir('whole'), 'examples.jsonl').toString().trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(records.length, 20);
  assert.deepEqual(records[0].correct.length, 2);
  assert.deepEqual(records[0].fooled.map((row: boolean[]) => row.length), [2, 2]);
  const shardSeconds = [0, 1, 2].map((i) => JSON.parse(read(dir(`s${i}`), 'results.json').toString()).summary.seconds as number);
  assert.equal(merged.seconds, shardSeconds.reduce((a, b) => a + b, 0));
  assert.ok(existsSync(join(dir('merged'), 'report.html')));
  assert.ok(!existsSync(join(dir('s0'), 'report.html')), 'a shard writes no report of its own');
});

test('transfer --shard needs --out', () => {
  assertRefused([...RUN, '--shard', '0/3'], /^advx: --shard needs --out/);
});
