/**
 * The shard contract for `advx text-attack`: the messages dealt round-robin to `--shard i/N`
 * folders, then `advx merge`, give the unsharded run's files (every figure; the seconds are sums);
 * merge refuses shards of different commands with one line.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { advxJson, assertRefused } from '../helpers/cli.ts';
import { resultsFigures } from '../helpers/results.ts';

const tmp = mkdtempSync(join(tmpdir(), 'advx-text-shards-'));
const dir = (name: string) => join(tmp, name);

/** Liang et al.'s attack (typos drawn from the seed) on 12 messages, a budget of 3 edits. */
const RUN = ['text-attack', '--model', 'models/spam-word', '--attack', 'liang', '--limit', '12', '--budget', '3', '--seed', '5'];

const read = (d: string, f: string) => readFileSync(join(d, f), 'utf8');

test('text-attack in 3 shards, merged, equals the unsharded run: results.json (but the seconds), examples.jsonl, config.json, report.html', () => {
  const t0 = performance.now();
  const whole = advxJson([...RUN, '--out', dir('whole'), '--json']);
  const t1 = performance.now();
  for (let i = 0; i < 3; i++) {
    const shard = advxJson([...RUN, '--shard', `${i}/3`, '--out', dir(`s${i}`), '--json']);
    assert.deepEqual(shard.shard, { index: i, count: 3 });
    assert.equal(shard.count, 4);
    const indices = read(dir(`s${i}`), 'examples.jsonl').trim().split('\n').map((l) => JSON.parse(l).index);
    assert.deepEqual(indices, [i, i + 3, i + 6, i + 9], 'messages dealt round-robin');
  }
  const t2 = performance.now();
  const merged = advxJson(['merge', dir('s2'), dir('s0'), dir('s1'), '--out', dir('merged'), '--json']);
  console.log(`unsharded ${((t1 - t0) / 1000).toFixed(1)} s, 3 shards ${((t2 - t1) / 1000).toFixed(1)} s, merge ${((performance.now() - t2) / 1000).toFixed(1)} s`);

  // Not vacuous: some messages were broken and some were not.
  assert.ok((whole.success_rate as number) > 0 && (whole.success_rate as number) < 1, JSON.stringify(whole));
  assert.deepEqual(resultsFigures(dir('merged')), resultsFigures(dir('whole')));
  assert.equal(JSON.parse(read(dir('whole'), 'results.json')).examples.length, 12);
  for (const f of ['examples.jsonl', 'config.json', 'report.html']) assert.equal(read(dir('merged'), f), read(dir('whole'), f), f);
  const shardSeconds = [0, 1, 2].map((i) => JSON.parse(read(dir(`s${i}`), 'results.json')).summary.seconds as number);
  assert.equal(merged.seconds, shardSeconds.reduce((a, b) => a + b, 0));
  assert.ok(!existsSync(join(dir('s0'), 'report.html')), 'a shard writes no report of its own');
});

test('merge refuses shards of different commands and of another text-attack run; --shard needs --out', () => {
  // Runs after the test above, which made s0, s1, s2.
  advxJson(['robustness', '--model', 'models/mnist-cnn', '--attacks', 'fgsm', '--eps', '0.1', '--limit', '4', '--shard', '1/3', '--out', dir('robust-1'), '--json']);
  assertRefused(['merge', dir('s0'), dir('robust-1'), dir('s2'), '--out', dir('m1')], /^advx: \S+robust-1 is an advx robustness run, \S+s0 an advx text-attack run: merge the shards of one run$/);
  advxJson([...RUN.map((a) => (a === '3' ? '2' : a)), '--shard', '1/3', '--out', dir('budget-2'), '--json']);
  assertRefused(['merge', dir('s0'), dir('budget-2'), dir('s2'), '--out', dir('m2')], /^advx: \S+budget-2 is a shard of another run than \S+s0: budget 2 vs 3$/);
  for (const m of ['m1', 'm2']) assert.ok(!existsSync(dir(m)), `a refused merge writes nothing (${m})`);
  assertRefused([...RUN, '--shard', '0/3'], /^advx: --shard needs --out/);
});
