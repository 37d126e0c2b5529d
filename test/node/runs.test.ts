/** Run folders: options on --resume, the one results.json schema, the crash order of a training run, and the dashboard seeing every kind of run. */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { Command, Option } from 'commander';
import { AdvxError } from '../../src/core/errors.ts';
import { resumeOptions, writeRunConfig } from '../../src/node/runs/options.ts';
import { readResults, snakeKeys, writeResults } from '../../src/node/runs/results.ts';
import { TrainingRun } from '../../src/node/runs/training-run.ts';
import { createLabServer } from '../../src/node/server/lab-server.ts';
import { openRunFolder } from '../../src/node/runs/folder.ts';
import { robustnessChart, sweepChart } from '../../web/src/dashboard.ts';
import { advx } from '../helpers/cli.ts';
import { rawGet } from '../e2e/helpers.ts';

const tmp = mkdtempSync(join(tmpdir(), 'advx-runs-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** A command like train's: some options define the run, --epochs may change. */
function parse(argv: string[]): { flags: Record<string, unknown> & { out: string; resume?: boolean }; cmd: Command } {
  const cmd = new Command('train')
    .exitOverride()
    .requiredOption('--out <dir>')
    .option('--model <name>', '', 'cnn')
    .option('--lr-decay <x>', '', Number, 1)
    .option('--epochs <n>', '', Number, 5)
    .option('--no-dropout')
    .addOption(new Option('--limit <n>').argParser(Number))
    .option('--resume');
  cmd.parse(argv, { from: 'user' });
  return { flags: cmd.opts() as never, cmd };
}
const spec = { identity: ['model', 'lrDecay', 'dropout', 'limit'], mutable: ['epochs'] };

test('--resume takes the options left out from config.json, accepts a changed mutable one, and lists every disagreement at once', () => {
  const out = join(tmp, 'options');
  openRunFolder(out, { command: 'train' }).release(); // marked as train's
  const first = parse(['--out', out, '--model', 'mlp', '--lr-decay', '0.9', '--no-dropout', '--epochs', '2']);
  writeRunConfig(out, first.flags, { backend: 'cpu' });
  assert.equal(JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')).resume, undefined, 'how a command runs is not recorded');

  const alone = parse(['--out', out, '--resume']);
  resumeOptions(alone.cmd, alone.flags, spec);
  assert.deepEqual([alone.flags.model, alone.flags.lrDecay, alone.flags.dropout, alone.flags.epochs, alone.flags.limit], ['mlp', 0.9, false, 2, undefined]);

  const more = parse(['--out', out, '--resume', '--epochs', '4', '--model', 'mlp']);
  resumeOptions(more.cmd, more.flags, spec);
  assert.equal(more.flags.epochs, 4);

  const wrong = parse(['--out', out, '--resume', '--model', 'cnn', '--lr-decay', '0.5', '--limit', '10']);
  assert.throws(
    () => resumeOptions(wrong.cmd, wrong.flags, spec),
    (e: unknown) => e instanceof AdvxError && /started with --model mlp \(given: --model cnn\), --lr-decay 0.9 \(given: --lr-decay 0.5\), --limit \(not set\) \(given: --limit 10\);/.test(e.message),
  );
  // Without --resume, nothing is read; nor from a folder of another command (refused when it is opened).
  const fresh = parse(['--out', out]);
  resumeOptions(fresh.cmd, fresh.flags, spec);
  assert.equal(fresh.flags.model, 'cnn');
  const other = parse(['--out', out, '--resume']);
  resumeOptions(other.cmd, other.flags, { ...spec, command: 'gan train' });
  assert.equal(other.flags.model, 'cnn');
});

test('results.json: one versioned envelope, snake_case identifiers, data keys kept', () => {
  assert.deepEqual(snakeKeys({ stepSize: 1, per_attack: { 'apgd-ce': { '0.3': 0.5 } }, classNames: ['T-shirt'], nested: [{ meanL2: 2 }], Sandal: 1 }), {
    step_size: 1,
    per_attack: { 'apgd-ce': { '0.3': 0.5 } },
    class_names: ['T-shirt'],
    nested: [{ mean_l2: 2 }],
    Sandal: 1,
  });
  const dir = join(tmp, 'results');
  mkdirSync(dir);
  const written = writeResults(dir, 'transfer', { successRate: 0.5 }, { matrix: [[1]] });
  assert.deepEqual(written, { advx: 'results', version: 1, command: 'transfer', summary: { success_rate: 0.5 }, matrix: [[1]] });
  assert.deepEqual(readResults(dir), written);
  writeFileSync(join(dir, 'results.json'), '{"success_rate": 1}');
  assert.equal(readResults(dir), undefined, 'a file of another schema is not taken for results');
});

test('a training run writes the checkpoint before metrics.jsonl, and a restore cuts metrics.jsonl back to the checkpoint', async () => {
  await tf.setBackend('cpu');
  const before = tf.memory().numTensors;
  const dir = join(tmp, 'training');
  mkdirSync(dir);
  const w = tf.tidy(() => tf.variable(tf.tensor1d([1, 2])));
  const weights = { getWeights: () => [w], setWeights: (ws: tf.Tensor[]) => w.assign(ws[0] as tf.Tensor1D) };
  const optimizer = tf.train.adam(0.1);
  const run = new TrainingRun<{ step: number; loss: number }>(dir, 'step');
  assert.equal(await run.restore(weights, optimizer), undefined, 'nothing to restore');
  const rows = [1, 2, 3].map((step) => ({ step, loss: 1 / step }));
  await run.checkpoint(weights, optimizer, 2, rows.slice(0, 2), { step: 2 });
  // Rows logged past the checkpoint (a kill before the next one): a restore drops them.
  run.writeMetrics(rows);
  tf.tidy(() => w.assign(tf.tensor1d([9, 9])));
  const restored = await run.restore(weights, optimizer);
  assert.equal(restored?.position, 2);
  assert.deepEqual(restored?.history, rows.slice(0, 2));
  assert.deepEqual(Array.from(w.dataSync()), [1, 2]);
  assert.deepEqual(readFileSync(join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)), rows.slice(0, 2));
  // A checkpoint from before checkpoints held their rows: metrics.jsonl is cut by the position key.
  run.writeMetrics(rows);
  const state = JSON.parse(readFileSync(join(dir, 'checkpoint', 'state.json'), 'utf8'));
  delete state.history;
  writeFileSync(join(dir, 'checkpoint', 'state.json'), JSON.stringify(state));
  assert.deepEqual((await run.restore(weights, optimizer))?.history, rows.slice(0, 2));
  w.dispose();
  optimizer.dispose();
  assert.equal(tf.memory().numTensors, before);
});

test('the dashboard lists attack and robustness runs with their command and results, and draws the robustness curve', async () => {
  const root = join(tmp, 'dash');
  const attack = advx(['attack', '--model', 'models/mnist-cnn', '--attack', 'fgsm', '--eps', '0.1', '--limit', '8', '--images', '0', '--out', join(root, 'attack')]);
  assert.equal(attack.status, 0, attack.stderr);
  const robust = advx(['robustness', '--model', 'models/mnist-cnn', '--attacks', 'fgsm,pgd', '--eps', '0.05,0.1', '--steps', '5', '--limit', '8', '--out', join(root, 'robust')]);
  assert.equal(robust.status, 0, robust.stderr);
  const server = createLabServer({ webRoot: tmp, runsRoot: root, modelsRoot: tmp });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  try {
    const port = (server.address() as AddressInfo).port;
    const { runs } = JSON.parse((await rawGet(port, '/api/runs')).body) as { runs: Array<{ name: string; command: string; summary: Record<string, unknown> }> };
    assert.deepEqual(runs.map((r) => [r.name, r.command]), [['attack', 'attack'], ['robust', 'robustness']]);
    assert.equal(runs[0].summary.count, 8);
    assert.equal(runs[0].summary.examples, undefined, 'per-example details stay in the file');
    const detail = JSON.parse((await rawGet(port, '/api/run?name=robust')).body);
    const chart = robustnessChart(detail);
    assert.ok(chart, 'a robustness run has a curve');
    assert.deepEqual(chart.series.map((s) => s.name), ['fgsm', 'pgd', 'worst case']);
    for (const s of chart.series) assert.ok([0.05, 0.1].every((e) => s.x.includes(e)), `${s.name}: a point at each ε`);
    assert.equal(robustnessChart(JSON.parse((await rawGet(port, '/api/run?name=attack')).body)), null);
  } finally {
    server.close();
  }
});

test('a sweep writes its rows as results.json too, and the dashboard draws its result against the swept flag', async () => {
  const root = join(tmp, 'dash-sweep');
  mkdirSync(root, { recursive: true });
  const grid = join(root, 'grid.json');
  writeFileSync(grid, JSON.stringify({ command: 'evaluate', args: ['--model', 'models/mnist-cnn', '--quiet'], grid: { '--limit': [20, 40] } }));
  const sweep = advx(['sweep', grid, '--out', join(root, 'sweep'), '--workers', '1', '--quiet']);
  assert.equal(sweep.status, 0, sweep.stderr);
  const results = JSON.parse(readFileSync(join(root, 'sweep', 'results.json'), 'utf8'));
  const rows = readFileSync(join(root, 'sweep', 'sweep.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(results.command, 'sweep');
  assert.deepEqual(results.summary, { command: 'evaluate', points: rows });
  const server = createLabServer({ webRoot: tmp, runsRoot: root, modelsRoot: tmp });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  try {
    const port = (server.address() as AddressInfo).port;
    const chart = sweepChart(JSON.parse((await rawGet(port, '/api/run?name=sweep')).body));
    assert.ok(chart, 'a sweep has a curve');
    assert.equal(chart.title, 'accuracy against --limit');
    assert.deepEqual(chart.series.map((s) => [s.name, s.x, s.y]), [['accuracy', [20, 40], rows.map((r) => r.result.accuracy)]]);
    // A point's own run folder is an evaluate run: no sweep curve there.
    assert.equal(sweepChart(JSON.parse((await rawGet(port, `/api/run?name=${encodeURIComponent('sweep/runs/limit-20')}`)).body)), null);
  } finally {
    server.close();
  }
});
