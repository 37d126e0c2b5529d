/**
 * The shard contract for `advx evaluate`: blocks of --batch images dealt to `--shard i/N` folders,
 * then `advx merge`, give the unsharded run's files: results.json (the seconds are sums),
 * examples.jsonl and config.json, byte for byte but the seconds.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { advxJson, assertRefused } from '../helpers/cli.ts';
import { resultsFigures } from '../helpers/results.ts';

const tmp = mkdtempSync(join(tmpdir(), 'advx-evaluate-shards-'));
const dir = (name: string) => join(tmp, name);

/** 300 images in blocks of 64: 5 blocks, so shard 0 of 3 has two (0 and 3), the last block is short. */
const RUN = ['evaluate', '--model', 'models/mnist-cnn', '--limit', '300', '--batch', '64'];

const read = (d: string, f: string) => readFileSync(join(d, f));

test('evaluate in 3 shards, merged, equals the unsharded run: results.json (but the seconds), examples.jsonl, config.json', () => {
  const whole = advxJson([...RUN, '--out', dir('whole'), '--json']);
  const counts = [0, 1, 2].map((i) => {
    const shard = advxJson([...RUN, '--shard', `${i}/3`, '--out', dir(`s${i}`), '--json']);
    assert.deepEqual(shard.shard, { index: i, count: 3 });
    return shard.count;
  });
  assert.deepEqual(counts, [64 + 64, 64 + 44, 64], 'blocks dealt round-robin: 0 and 3, 1 and 4, 2');
  const merged = advxJson(['merge', dir('s1'), dir('s2'), dir('s0'), '--out', dir('merged'), '--json']);

  // Not vacuous: the model gets some images wrong.
  assert.ok((whole.accuracy as number) > 0.5 && (whole.accuracy as number) < 1, JSON.stringify(whole));
  assert.equal(whole.count, 300);
  assert.deepEqual(resultsFigures(dir('merged')), resultsFigures(dir('whole')));
  assert.deepEqual({ ...merged, seconds: 0 }, { ...whole, seconds: 0 });
  for (const f of ['examples.jsonl', 'config.json']) assert.ok(read(dir('merged'), f).equals(read(dir('whole'), f)), f);
  const records = read(dir('whole'), 'examples.jsonl').toString().trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(records.length, 300);
  assert.deepEqual(Object.keys(records[0]), ['index', 'label', 'prediction', 'correct']);
  assert.equal(records.filter((r) => r.correct).length / 300, whole.accuracy);
  const shardSeconds = [0, 1, 2].map((i) => JSON.parse(read(dir(`s${i}`), 'results.json').toString()).summary.seconds as number);
  assert.equal(merged.seconds, shardSeconds.reduce((a, b) => a + b, 0));
  // Without --out, evaluate writes nothing and prints the same accuracy.
  assert.equal(advxJson(RUN.concat('--json')).accuracy, whole.accuracy);
});

test('evaluate --shard needs --out; merge refuses shards of another batch size', () => {
  assertRefused([...RUN, '--shard', '0/3'], /^advx: --shard needs --out/);
  advxJson([...RUN, '--batch', '100', '--shard', '0/2', '--out', dir('b0'), '--json']);
  advxJson([...RUN, '--shard', '1/2', '--out', dir('b1'), '--json']);
  assertRefused(['merge', dir('b0'), dir('b1'), '--out', dir('bad')], /^advx: .* is a shard of another run than .*: batch 64 vs 100$/);
  assert.ok(!existsSync(dir('bad')), 'a refused merge leaves no folder');
});
