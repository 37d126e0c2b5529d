/**
 * The local pool on the command line: `--workers K --shards N --out X` runs the N shards as child
 * processes (folders X/shards/i) and merges them into X as the unsharded run would have written
 * it; a rerun keeps the shards that finished with the same options; `advx sweep GRID.json` runs one
 * command over a grid of flags. Refusals are one line, exit code 2.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { advx, advxJson, assertRefused, killWhen, lastJson } from '../helpers/cli.ts';
import { resultsFigures } from '../helpers/results.ts';

const tmp = mkdtempSync(join(tmpdir(), 'advx-pool-'));
const dir = (name: string) => join(tmp, name);
const read = (d: string, f: string) => readFileSync(join(d, f), 'utf8');
const seconds = (t0: number) => ((performance.now() - t0) / 1000).toFixed(1);

/** A score-based and a white-box attack on 30 images in blocks of 8 (4 blocks: 3 shards get 2, 1, 1). */
const RUN = ['robustness', '--model', 'models/mnist-cnn', '--attacks', 'square,pgd', '--eps', '0.1,0.2', '--steps', '5', '--queries', '60', '--limit', '30', '--batch', '8', '--seed', '7'];
const POOLED = [...RUN, '--workers', '2', '--shards', '3'];

/** A robustness --json line without its clock (the seconds, in all and per attack). */
function withoutSeconds(summary: Record<string, unknown>): Record<string, unknown> {
  return { ...summary, seconds: 0, attacks: (summary.attacks as object[]).map((a) => ({ ...a, seconds: 0 })) };
}

const shardResults = (out: string, i: number) => join(out, 'shards', String(i), 'results.json');

test('robustness on a pool of 2 processes in 3 shards equals the unsharded run; a rerun keeps the finished shards, another --seed does not', () => {
  let t0 = performance.now();
  const whole = advxJson([...RUN, '--out', dir('whole'), '--json']);
  const tWhole = seconds(t0);
  t0 = performance.now();
  const pooled = advxJson([...POOLED, '--out', dir('pooled'), '--json']);
  const tPooled = seconds(t0);

  // Not vacuous: both attacks broke something, and some images resisted at ε = 0.1.
  const attacks = whole.attacks as { name: string; broken: Record<string, number> }[];
  for (const a of attacks) assert.ok(Object.values(a.broken).some((b) => b > 0), `${a.name} broke nothing: ${JSON.stringify(attacks)}`);
  assert.ok((whole.robust_accuracy as Record<string, number>)['0.1'] > 0, JSON.stringify(whole.robust_accuracy));

  assert.deepEqual(resultsFigures(dir('pooled')), resultsFigures(dir('whole')));
  for (const f of ['examples.jsonl', 'config.json']) assert.equal(read(dir('pooled'), f), read(dir('whole'), f), f);
  assert.equal(read(dir('whole'), 'examples.jsonl').trim().split('\n').length, 30);
  assert.deepEqual(withoutSeconds(pooled), withoutSeconds(whole), 'the --json line is the unsharded run\'s');
  const counts = [0, 1, 2].map((i) => {
    assert.ok(existsSync(shardResults(dir('pooled'), i)), `shards/${i}`);
    const shard = JSON.parse(read(join(dir('pooled'), 'shards', String(i)), 'results.json')).summary;
    assert.deepEqual(shard.shard, { index: i, count: 3 });
    return shard.count;
  });
  assert.deepEqual(counts, [14, 8, 8], 'blocks 0 and 3 (8 + 6 images), block 1, block 2');
  assert.ok(!existsSync(join(dir('pooled'), 'shards', '3')));
  for (const f of ['report.html', 'curve.svg']) assert.ok(existsSync(join(dir('pooled'), f)), f);

  // The same pooled command again: every shard is kept (its results.json untouched), and the merge is the same.
  const mtimes = [0, 1, 2].map((i) => statSync(shardResults(dir('pooled'), i)).mtimeMs);
  t0 = performance.now();
  const again = advxJson([...POOLED, '--out', dir('pooled'), '--json']);
  const tAgain = seconds(t0);
  assert.deepEqual([0, 1, 2].map((i) => statSync(shardResults(dir('pooled'), i)).mtimeMs), mtimes, 'finished shards kept, not rerun');
  assert.deepEqual(withoutSeconds(again), withoutSeconds(whole));
  assert.deepEqual(resultsFigures(dir('pooled')), resultsFigures(dir('whole')));
  assert.equal(read(dir('pooled'), 'examples.jsonl'), read(dir('whole'), 'examples.jsonl'));

  // One shard run by hand into its pool folder: kept, with a line on stderr, exit code 0, and the stored summary on --json.
  const shard0 = join(dir('pooled'), 'shards', '0');
  t0 = performance.now();
  const kept = advx([...RUN, '--shard', '0/3', '--out', shard0, '--json']);
  const tKept = seconds(t0);
  assert.equal(kept.status, 0, kept.stderr);
  assert.match(kept.stderr, /^advx: shard 0\/3 in \S+ has already finished with the same options, model and data: kept, not run again$/m);
  assert.deepEqual(JSON.parse(kept.stdout.trim().split('\n').pop()!), JSON.parse(read(shard0, 'results.json')).summary);
  assert.equal(statSync(shardResults(dir('pooled'), 0)).mtimeMs, mtimes[0]);

  // Another --seed is another run: every shard is run again, and the merged folder is that run's.
  t0 = performance.now();
  advxJson([...POOLED.map((a) => (a === '7' ? '8' : a)), '--out', dir('pooled'), '--json']);
  const tSeed = seconds(t0);
  for (let i = 0; i < 3; i++) {
    assert.notEqual(statSync(shardResults(dir('pooled'), i)).mtimeMs, mtimes[i], `shard ${i} rerun with --seed 8`);
    assert.equal(JSON.parse(read(join(dir('pooled'), 'shards', String(i)), 'config.json')).seed, 8);
  }
  assert.equal(JSON.parse(read(dir('pooled'), 'config.json')).seed, 8);
  console.log(`unsharded ${tWhole} s, pooled ${tPooled} s, pooled rerun (kept) ${tAgain} s, one kept shard ${tKept} s, pooled --seed 8 ${tSeed} s`);
});

test('text-attack on a pool of 2 processes equals the unsharded run', () => {
  const TEXT = ['text-attack', '--model', 'models/spam-word', '--attack', 'liang', '--limit', '12', '--budget', '3', '--seed', '5'];
  let t0 = performance.now();
  const whole = advxJson([...TEXT, '--out', dir('text-whole'), '--json']);
  const tWhole = seconds(t0);
  t0 = performance.now();
  const pooled = advxJson([...TEXT, '--workers', '2', '--out', dir('text-pooled'), '--json']);
  console.log(`unsharded ${tWhole} s, pooled ${seconds(t0)} s`);
  assert.ok((whole.success_rate as number) > 0 && (whole.success_rate as number) < 1, JSON.stringify(whole));
  assert.equal(pooled.success_rate, whole.success_rate);
  assert.deepEqual(resultsFigures(dir('text-pooled')), resultsFigures(dir('text-whole')));
  for (const f of ['examples.jsonl', 'config.json', 'report.html']) assert.equal(read(dir('text-pooled'), f), read(dir('text-whole'), f), f);
  // --workers 2 alone means 2 shards.
  assert.deepEqual([0, 1].map((i) => JSON.parse(read(join(dir('text-pooled'), 'shards', String(i)), 'results.json')).summary.shard), [{ index: 0, count: 2 }, { index: 1, count: 2 }]);
  assert.ok(!existsSync(join(dir('text-pooled'), 'shards', '2')));
});

test('--shard with --shards, --workers without --out, fewer shards than workers: refused with one line, nothing written', () => {
  const t0 = performance.now();
  assertRefused([...RUN, '--shard', '0/2', '--shards', '2', '--out', dir('r1')], /^advx: --shard runs one shard here; --shards, --workers and --redis run all of them: give one or the other$/);
  assertRefused([...RUN, '--workers', '2'], /^advx: --workers needs --out: /);
  assertRefused([...RUN, '--shards', '2'], /^advx: --shards needs --out: /);
  assertRefused([...RUN, '--shards', '1', '--workers', '2', '--out', dir('r3')], /^advx: --shards 1 gives fewer shards than --workers 2: some workers would have nothing to do$/);
  for (const r of ['r1', 'r3']) assert.ok(!existsSync(dir(r)), `a refused run writes nothing (${r})`);
  console.log(`4 refusals ${seconds(t0)} s`);
});

test('a shard job or a sweep point that fails is reported as the unsharded run reports it: its one line, exit code 2', () => {
  // A model.json that is no TF.js model: each child refuses it when it loads the model.
  const bad = dir('bad-model');
  mkdirSync(bad);
  writeFileSync(join(bad, 'model.json'), '{}');
  const t0 = performance.now();
  const EVAL = ['evaluate', '--model', bad, '--limit', '10'];
  assertRefused([...EVAL, '--out', dir('bad-whole')], /^advx: \S+model\.json is not a TF\.js model\.json \(it needs modelTopology and weightsManifest\)$/);
  assertRefused([...EVAL, '--workers', '2', '--out', dir('bad-pooled')], /^advx: advx evaluate failed \(exit code 2\): \S+model\.json is not a TF\.js model\.json \(it needs modelTopology and weightsManifest\)$/);
  const grid = dir('bad-grid.json');
  writeFileSync(grid, JSON.stringify({ command: 'evaluate', args: ['--model', bad], grid: { '--limit': [10, 20] } }));
  assertRefused(['sweep', grid, '--workers', '2', '--out', dir('bad-sweep')], /^advx: advx evaluate failed \(exit code 2\): \S+model\.json is not a TF\.js model\.json/);
  assert.ok(!existsSync(join(dir('bad-pooled'), 'results.json')));
  assert.ok(!existsSync(join(dir('bad-sweep'), 'sweep.jsonl')));
  console.log(`3 failed runs ${seconds(t0)} s`);
});

test('sweep runs evaluate over a grid on 2 processes: rows in grid order (last flag fastest), a run folder per point, sweep.jsonl, table.md', () => {
  const grid = dir('grid.json');
  writeFileSync(grid, JSON.stringify({ command: 'evaluate', args: ['--model', 'models/mnist-cnn', '--limit', '40'], grid: { '--batch': [8, 16], '--limit': [20, 40] } }));
  const t0 = performance.now();
  const r = advx(['sweep', grid, '--out', dir('sweep'), '--workers', '2', '--json']);
  console.log(`sweep of 4 points ${seconds(t0)} s`);
  assert.equal(r.status, 0, r.stderr);
  const rows = JSON.parse(r.stdout.trim().split('\n').pop()!) as { point: string; flags: Record<string, number>; result: Record<string, number> }[];
  assert.deepEqual(rows.map((row) => row.point), ['batch-8_limit-20', 'batch-8_limit-40', 'batch-16_limit-20', 'batch-16_limit-40']);
  assert.deepEqual(rows.map((row) => row.flags), [
    { '--batch': 8, '--limit': 20 },
    { '--batch': 8, '--limit': 40 },
    { '--batch': 16, '--limit': 20 },
    { '--batch': 16, '--limit': 40 },
  ]);
  // The point's --limit wins over the shared args' --limit 40.
  assert.deepEqual(rows.map((row) => row.result.count), [20, 40, 20, 40]);
  for (const row of rows) {
    const run = join(dir('sweep'), 'runs', row.point);
    const results = JSON.parse(read(run, 'results.json'));
    assert.deepEqual(results.summary, row.result, `runs/${row.point}/results.json holds the row's result`);
    const config = JSON.parse(read(run, 'config.json'));
    assert.equal(config.limit, row.flags['--limit']);
    assert.equal(config.batch, row.flags['--batch']);
  }
  // The same batch size gives the same predictions on the first 20 images: a point is its flags, nothing else.
  const predictions = (point: string) => read(join(dir('sweep'), 'runs', point), 'examples.jsonl').trim().split('\n').slice(0, 20);
  assert.deepEqual(predictions('batch-16_limit-40'), predictions('batch-8_limit-20'));

  const lines = read(dir('sweep'), 'sweep.jsonl').trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(lines, rows);
  const table = read(dir('sweep'), 'table.md').trim().split('\n');
  assert.equal(table.length, 2 + 4);
  const header = table[0].split('|').map((c) => c.trim()).filter(Boolean);
  assert.deepEqual(header.slice(0, 2), ['--batch', '--limit']);
  assert.ok(header.includes('accuracy') && header.includes('count'), table[0]);
  const cells = table.slice(2).map((l) => l.split('|').map((c) => c.trim()).filter(Boolean));
  const col = (name: string) => cells.map((c) => c[header.indexOf(name)]);
  assert.deepEqual(col('--batch'), ['8', '8', '16', '16']);
  assert.deepEqual(col('count'), ['20', '40', '20', '40']);
  assert.deepEqual(col('accuracy').map(Number), rows.map((row) => Number(row.result.accuracy.toPrecision(4))));
});

test('sweep refuses a bad grid file with one line and writes nothing', () => {
  const t0 = performance.now();
  const write = (name: string, content: unknown) => {
    writeFileSync(dir(name), typeof content === 'string' ? content : JSON.stringify(content));
    return dir(name);
  };
  const base = { command: 'evaluate', args: ['--model', 'models/mnist-cnn'], grid: { '--limit': [10, 20] } };
  const refused = (grid: string, message: RegExp) => assertRefused(['sweep', grid, '--out', dir('sweep-refused')], message);
  refused(dir('absent.json'), /^advx: \S+absent\.json: no such file$/);
  refused(write('not-json.json', '{"command": "evaluate",'), /^advx: \S+not-json\.json: not JSON \(/);
  refused(write('lab.json', { ...base, command: 'lab' }), /^advx: \S+lab\.json: "command" "lab" is not an advx command a sweep runs \(/);
  refused(write('flag.json', { ...base, grid: { limit: [10, 20] } }), /^advx: \S+flag\.json: "grid" key "limit" is not a flag; want /);
  refused(write('out.json', { ...base, args: [...base.args, '--out', dir('elsewhere')] }), /^advx: \S+out\.json: "args" sets --out or --json, which the sweep sets for each point; want /);
  refused(write('empty.json', { ...base, grid: { '--limit': [] } }), /^advx: \S+empty\.json: "grid" --limit is not a non-empty list of values; want /);
  assert.ok(!existsSync(dir('sweep-refused')), 'a refused sweep writes nothing');
  assert.ok(!existsSync(dir('elsewhere')));
  console.log(`6 refusals ${seconds(t0)} s`);
});

test('robustness of several blocks with --out goes to a pool of one process per core by default, printing the same table; --workers 1 and --threads keep it in one process', () => {
  const args = ['robustness', '--model', 'models/mnist-cnn', '--attacks', 'fgsm,pgd', '--eps', '0.1,0.2', '--steps', '5', '--limit', '24', '--batch', '8'];
  const here = advx([...args, '--workers', '1', '--out', dir('default-here')]);
  assert.equal(here.status, 0, here.stderr);
  assert.ok(!existsSync(join(dir('default-here'), 'shards')), '--workers 1 runs in this process');
  const pooled = advx([...args, '--out', dir('default-pool')]);
  assert.equal(pooled.status, 0, pooled.stderr);
  const workers = Math.min(availableParallelism(), 3);
  if (workers < 2) return; // one core: nothing to pool
  assert.ok(existsSync(join(dir('default-pool'), 'shards', String(workers - 1))), `${workers} shards`);
  assert.match(pooled.stdout, new RegExp(`ran in ${workers} shards \\(${workers} local processes\\)`));
  assert.match(pooled.stderr, /shard 0\/\d: robustness \(\d+ inputs, 2 attacks × 2 ε\) \d+\/\d+/, 'the shards\' progress, on stderr');
  // The same table as the run in one process, and the same files.
  assert.equal(pooled.stdout.split('\n').slice(0, 4).join('\n'), here.stdout.split('\n').slice(0, 4).join('\n'));
  assert.equal(read(dir('default-pool'), 'examples.jsonl'), read(dir('default-here'), 'examples.jsonl'));
  assert.deepEqual(resultsFigures(dir('default-pool')), resultsFigures(dir('default-here')));
  const threads = advx([...args, '--threads', '1', '--out', dir('default-threads')]);
  assert.equal(threads.status, 0, threads.stderr);
  assert.ok(!existsSync(join(dir('default-threads'), 'shards')), '--threads keeps the run in this process');
});

test('attack of several blocks with --out goes to the pool by default too: the same line, files and grid as in one process', () => {
  const args = ['attack', '--model', 'models/mnist-cnn', '--attack', 'pgd', '--eps', '0.1', '--steps', '5', '--limit', '32', '--batch', '16', '--images', '4'];
  const here = advx([...args, '--workers', '1', '--out', dir('attack-here')]);
  assert.equal(here.status, 0, here.stderr);
  const pooled = advx([...args, '--out', dir('attack-pool')]);
  assert.equal(pooled.status, 0, pooled.stderr);
  if (availableParallelism() < 2) return;
  assert.ok(existsSync(join(dir('attack-pool'), 'shards', '1')) && !existsSync(join(dir('attack-here'), 'shards')));
  const line = (out: string) => out.split('\n')[0].replace(/\([\d.]+ s\)/, '');
  assert.match(line(pooled.stdout), /^pgd ε=0\.1 \(linf\) on 32 images: clean accuracy/);
  assert.equal(line(pooled.stdout), line(here.stdout));
  for (const f of ['examples.jsonl', 'config.json']) assert.equal(read(dir('attack-pool'), f), read(dir('attack-here'), f), f);
  assert.ok(readFileSync(join(dir('attack-pool'), 'grid.png')).equals(readFileSync(join(dir('attack-here'), 'grid.png'))), 'grid.png');
});

test('a robustness run killed midway goes on from the blocks it finished, in one process or on the pool: the files of a run never killed', async () => {
  // 10 blocks of 4 images; PGD's 60 steps make each block take a while, so the kill lands midway.
  const args = ['robustness', '--model', 'models/mnist-cnn', '--attacks', 'fgsm,pgd', '--eps', '0,0.1,0.2', '--steps', '60', '--limit', '40', '--batch', '4', '--seed', '3'];
  const whole = advxJson([...args, '--threads', '1', '--out', dir('kill-whole'), '--json']);
  // Block files only: a block being written is a hidden temporary file until its rename.
  const count = (d: string) => (existsSync(d) ? readdirSync(d).filter((f) => /^\d{5}\.json$/.test(f)).length : 0);
  const same = (d: string) => {
    assert.equal(read(d, 'examples.jsonl'), read(dir('kill-whole'), 'examples.jsonl'), 'examples.jsonl byte for byte');
    assert.deepEqual(resultsFigures(d), resultsFigures(dir('kill-whole')));
    assert.ok(readFileSync(join(d, 'grid.png')).equals(readFileSync(join(dir('kill-whole'), 'grid.png'))), 'grid.png: the pictures of the blocks done before the kill are kept too');
    assert.ok(!existsSync(join(d, 'blocks')), 'a finished run keeps no blocks');
  };

  // In one process (--threads keeps it here): killed once 2 blocks are kept.
  const alone = dir('kill-alone');
  await killWhen([...args, '--threads', '1', '--out', alone], () => count(join(alone, 'blocks')) >= 2);
  const kept = count(join(alone, 'blocks'));
  assert.ok(kept >= 2 && kept < 10, `${kept} blocks kept`);
  const resumed = advx([...args, '--threads', '1', '--out', alone, '--json']);
  assert.equal(resumed.status, 0, resumed.stderr);
  assert.match(resumed.stderr, new RegExp(`^robustness: \\S+ holds ${kept} blocks of this run done earlier \\(same options, model and data\\): going on from there$`, 'm'));
  assert.deepEqual(withoutSeconds(lastJson(resumed.stdout)), withoutSeconds(whole));
  // Its progress starts where the kept blocks end (so its ETA counts only what this process does).
  const steps = [...resumed.stderr.matchAll(/^robustness \(40 inputs, 2 attacks × 3 ε\) (\d+)\/40 \|/gm)].map((m) => Number(m[1]));
  assert.equal(steps[0], kept * 4, resumed.stderr);
  assert.ok(steps.every((s) => s >= kept * 4) && steps.at(-1) === 40, resumed.stderr);
  same(alone);

  // On a pool of 2 processes: the pool killed once its shards have kept 2 blocks; its shard processes go with it.
  const pooled = dir('kill-pool');
  const shardBlocks = () => [0, 1].reduce((s, i) => s + count(join(pooled, 'shards', String(i), 'blocks')), 0);
  await killWhen([...args, '--workers', '2', '--out', pooled], () => shardBlocks() >= 2);
  const again = advx([...args, '--workers', '2', '--out', pooled, '--json']);
  assert.equal(again.status, 0, again.stderr);
  assert.match(again.stderr, /^shard \d\/2: robustness: \S+ holds \d+ blocks? of this run done earlier/m);
  assert.deepEqual(withoutSeconds(lastJson(again.stdout)), withoutSeconds(whole));
  same(pooled);
});
