/**
 * The shard contract on the command line: `advx robustness --shard i/N` into N folders, then
 * `advx merge`, gives the unsharded run's files (every figure; the seconds are sums), and merge
 * refuses what is not all the shards of one run with one line.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { advxJson, assertRefused } from '../helpers/cli.ts';
import { resultsFigures } from '../helpers/results.ts';

const tmp = mkdtempSync(join(tmpdir(), 'advx-shards-'));
const dir = (name: string) => join(tmp, name);

/** A score-based, a minimal-norm and a white-box attack on 30 images in blocks of 8 (the last of 6). */
const RUN = ['robustness', '--model', 'models/mnist-cnn', '--attacks', 'square,deepfool,pgd', '--eps', '0.05,0.1,0.2,0.3', '--steps', '5', '--queries', '60', '--limit', '30', '--batch', '8', '--seed', '7'];

const read = (d: string, f: string) => readFileSync(join(d, f), 'utf8');

test('robustness in 3 shards, merged, equals the unsharded run: results.json (but the seconds), examples.jsonl, config.json', () => {
  const t0 = performance.now();
  const whole = advxJson([...RUN, '--out', dir('whole'), '--json']);
  const t1 = performance.now();
  for (let i = 0; i < 3; i++) {
    const shard = advxJson([...RUN, '--shard', `${i}/3`, '--out', dir(`s${i}`), '--json']);
    assert.deepEqual(shard.shard, { index: i, count: 3 });
    assert.equal(shard.count, [14, 8, 8][i], 'blocks 0 and 3 (8 + 6 images), block 1, block 2');
  }
  const t2 = performance.now();
  const merged = advxJson(['merge', dir('s2'), dir('s0'), dir('s1'), '--out', dir('merged'), '--json']);
  console.log(`unsharded ${((t1 - t0) / 1000).toFixed(1)} s, 3 shards ${((t2 - t1) / 1000).toFixed(1)} s, merge ${((performance.now() - t2) / 1000).toFixed(1)} s`);

  // Not vacuous: every attack broke something, and square spent queries.
  const attacks = whole.attacks as { name: string; broken: Record<string, number>; queries?: Record<string, number> }[];
  for (const a of attacks) assert.ok(Object.values(a.broken).some((b) => b > 0), `${a.name} broke nothing: ${JSON.stringify(attacks)}`);
  assert.ok(attacks[0].queries);
  assert.deepEqual(resultsFigures(dir('merged')), resultsFigures(dir('whole')));
  assert.equal(read(dir('merged'), 'examples.jsonl'), read(dir('whole'), 'examples.jsonl'));
  assert.equal(read(dir('merged'), 'config.json'), read(dir('whole'), 'config.json'));
  assert.equal(read(dir('whole'), 'examples.jsonl').trim().split('\n').length, 30);
  // The merged seconds are the shards' sum.
  const shardSeconds = [0, 1, 2].map((i) => JSON.parse(read(dir(`s${i}`), 'results.json')).summary.seconds as number);
  assert.equal(merged.seconds, shardSeconds.reduce((a, b) => a + b, 0));
  for (const f of ['report.html', 'curve.svg']) assert.ok(existsSync(join(dir('merged'), f)), f);
  // The pictures: the same grid and example PNGs, composed from the shards' PNGs; labelled in the report.
  assert.ok(readFileSync(join(dir('merged'), 'grid.png')).equals(readFileSync(join(dir('whole'), 'grid.png'))), 'the same grid.png');
  const figures = read(dir('whole'), 'examples.jsonl').trim().split('\n').map((l) => JSON.parse(l).figure).filter(Boolean);
  assert.ok(figures.length > 0 && figures.some((f) => f.success), `pictures of broken inputs: ${JSON.stringify(figures)}`);
  const report = read(dir('merged'), 'report.html');
  assert.ok(/\d+ \(\d+%\) → \d+ \(\d+%\)/.test(report), 'captions: clean prediction (confidence) → adversarial prediction (confidence)');
  assert.match(report, /perturbation ×\d+/);
  assert.match(report, /Queries: square/, 'a query histogram for the black-box attack');
  assert.doesNotMatch(report, /Queries: pgd/, 'none for a white-box one');
  const pictures = (html: string) => html.slice(html.indexOf('<h2>Examples</h2>')).replace(/Command: .*/, '');
  assert.equal(pictures(report), pictures(read(dir('whole'), 'report.html')), 'the same pictures and query histograms');
  // The same figures draw the same bytes, though the merge draws them in another process.
  assert.equal(read(dir('merged'), 'curve.svg'), read(dir('whole'), 'curve.svg'));
  assert.ok(!existsSync(join(dir('s0'), 'report.html')), 'a shard writes no report of its own');
});

test('merge refuses a missing shard, a shard twice, shards of another run, a folder that is no shard; --shard is checked', () => {
  // Runs after the test above, which made s0, s1, s2 and whole.
  advxJson([...RUN.map((a) => (a === '0.05,0.1,0.2,0.3' ? '0.1' : a)), '--shard', '1/3', '--out', dir('other-eps'), '--json']);
  assertRefused(['merge', dir('s0'), dir('s1'), '--out', dir('m1')], /^advx: shard 2\/3 missing: merge needs all 3 shards of the run$/);
  assertRefused(['merge', dir('s0'), dir('s1'), dir('s1'), dir('s2'), '--out', dir('m2')], /^advx: shard 1\/3 is given twice: \S+s1 and \S+s1$/);
  assertRefused(['merge', dir('s0'), dir('other-eps'), dir('s2'), '--out', dir('m3')], /^advx: \S+other-eps is a shard of another run than \S+s0: eps \[0\.1\] vs \[0\.05,0\.1,0\.2,0\.3\]$/);
  assertRefused(['merge', dir('s0'), dir('whole'), '--out', dir('m4')], /^advx: \S+whole is not a shard: it was run without --shard$/);
  assertRefused(['merge', dir('s0'), dir('s1'), dir('s2'), '--out', dir('s1')], /^advx: --out \S+s1 is one of the shards: merge into a new folder$/);
  for (const m of ['m1', 'm2', 'm3', 'm4']) assert.ok(!existsSync(dir(m)), `a refused merge writes nothing (${m})`);
  assertRefused([...RUN, '--shard', '3/3', '--out', dir('bad')], /^advx: --shard 3\/3: want i\/N with 0 ≤ i < N/);
  assertRefused([...RUN, '--shard', '0/3'], /^advx: --shard needs --out/);
});

test('robustness --suite standard in 2 shards, merged, equals the unsharded run', () => {
  // The suite fixes each attack's settings: only ε, --limit and --batch make it cheap. 4 images in
  // blocks of 1 (2 blocks a shard); at ε = 0.12 APGD-CE breaks 3 and the fourth goes through the
  // whole cascade (APGD-T, FAB-T, Square with its 5000 queries), so every attack's records merge.
  const SUITE = ['robustness', '--model', 'models/mnist-cnn', '--suite', 'standard', '--eps', '0.12', '--limit', '4', '--batch', '1'];
  const t0 = performance.now();
  const whole = advxJson([...SUITE, '--out', dir('suite-whole'), '--json']);
  const t1 = performance.now();
  for (let i = 0; i < 2; i++) {
    const shard = advxJson([...SUITE, '--shard', `${i}/2`, '--out', dir(`suite-s${i}`), '--json']);
    assert.deepEqual(shard.shard, { index: i, count: 2 });
    assert.equal(shard.count, 2);
  }
  const t2 = performance.now();
  advxJson(['merge', dir('suite-s1'), dir('suite-s0'), '--out', dir('suite-merged'), '--json']);
  console.log(`suite: unsharded ${((t1 - t0) / 1000).toFixed(1)} s, 2 shards ${((t2 - t1) / 1000).toFixed(1)} s, merge ${((performance.now() - t2) / 1000).toFixed(1)} s`);

  // Not vacuous: APGD-CE broke 3 images (so some in each shard); the others ran on the fourth.
  const attacks = whole.attacks as { name: string; attacked: Record<string, number>; broken: Record<string, number> }[];
  assert.deepEqual(attacks.map((a) => a.name), ['apgd-ce', 'apgd-t', 'fab-t', 'square']);
  assert.deepEqual(attacks.map((a) => [a.attacked['0.12'], a.broken['0.12']]), [[4, 3], [1, 0], [1, 0], [1, 0]]);
  assert.deepEqual(resultsFigures(dir('suite-merged')), resultsFigures(dir('suite-whole')));
  for (const f of ['examples.jsonl', 'config.json']) assert.equal(read(dir('suite-merged'), f), read(dir('suite-whole'), f), f);
  assert.equal(read(dir('suite-whole'), 'examples.jsonl').trim().split('\n').length, 4);
});
