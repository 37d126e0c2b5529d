/**
 * The shard contract for `advx attack`: blocks of --batch images dealt to `--shard i/N` folders,
 * then `advx merge`, give the unsharded run's files: results.json (every figure; the seconds are
 * sums), examples.jsonl, config.json, the examples' PNGs and the grid, byte for byte.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { advxJson, assertRefused } from '../helpers/cli.ts';
import { resultsFigures } from '../helpers/results.ts';

const tmp = mkdtempSync(join(tmpdir(), 'advx-attack-shards-'));
const dir = (name: string) => join(tmp, name);

/** PGD with a random start (drawn from the seed) on 24 images in blocks of 8; PNGs of the first 10, magnified for print. */
const RUN = ['attack', '--model', 'models/mnist-cnn', '--attack', 'pgd', '--eps', '0.1', '--steps', '5', '--limit', '24', '--batch', '8', '--images', '10', '--print-scale', '2', '--seed', '3'];

const read = (d: string, f: string) => readFileSync(join(d, f));

test('attack in 3 shards, merged, equals the unsharded run: results.json (but the seconds), examples.jsonl, config.json, PNGs, grid', () => {
  const t0 = performance.now();
  const whole = advxJson([...RUN, '--out', dir('whole'), '--json']);
  const t1 = performance.now();
  for (let i = 0; i < 3; i++) {
    const shard = advxJson([...RUN, '--shard', `${i}/3`, '--out', dir(`s${i}`), '--json']);
    assert.deepEqual(shard.shard, { index: i, count: 3 });
    assert.equal(shard.count, 8);
  }
  const t2 = performance.now();
  const merged = advxJson(['merge', dir('s2'), dir('s0'), dir('s1'), '--out', dir('merged'), '--json']);
  console.log(`unsharded ${((t1 - t0) / 1000).toFixed(1)} s, 3 shards ${((t2 - t1) / 1000).toFixed(1)} s, merge ${((performance.now() - t2) / 1000).toFixed(1)} s`);

  // Not vacuous: the attack broke some images and not others.
  assert.ok((whole.success_rate as number) > 0 && (whole.success_rate as number) < 1, JSON.stringify(whole));
  assert.deepEqual(resultsFigures(dir('merged')), resultsFigures(dir('whole')));
  assert.equal(read(dir('whole'), 'examples.jsonl').toString().trim().split('\n').length, 24);
  const pngs = (d: string) => ['examples', 'print'].flatMap((sub) => readdirSync(join(d, sub)).map((f) => `${sub}/${f}`)).sort();
  assert.equal(pngs(dir('whole')).length, 10 * 4);
  assert.deepEqual(pngs(dir('merged')), pngs(dir('whole')));
  for (const f of ['examples.jsonl', 'config.json', 'grid.png', ...pngs(dir('whole'))]) assert.ok(read(dir('merged'), f).equals(read(dir('whole'), f)), f);
  const shardSeconds = [0, 1, 2].map((i) => JSON.parse(read(dir(`s${i}`), 'results.json').toString()).summary.seconds as number);
  assert.equal(merged.seconds, shardSeconds.reduce((a, b) => a + b, 0));
  assert.ok(existsSync(join(dir('merged'), 'report.html')));
  for (const f of ['report.html', 'grid.png']) assert.ok(!existsSync(join(dir('s0'), f)), `a shard writes no ${f} of its own`);
  assert.deepEqual(readdirSync(join(dir('s1'), 'examples')).map((f) => f.slice(0, 4)).sort(), ['0008', '0008', '0008', '0009', '0009', '0009'], 'shard 1 has block 1: images 8 to 15, PNGs of 8 and 9');
});

test('attack --shard needs --out', () => {
  assertRefused([...RUN, '--shard', '0/3'], /^advx: --shard needs --out/);
});
