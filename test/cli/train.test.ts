import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { advx, killAfterFirstCheckpoint, lastJson } from '../helpers/cli.ts';

const tmp = mkdtempSync(join(tmpdir(), 'advx-train-'));
const common = ['--model', 'mlp', '--data', 'mnist', '--epochs', '4', '--limit', '6000', '--seed', '7', '--quiet', '--json'];

test('train writes metrics, checkpoint and a loadable model; evaluate reads it back', () => {
  const out = join(tmp, 'straight');
  const r = advx(['train', ...common, '--out', out]);
  assert.equal(r.status, 0, r.stderr);
  const summary = lastJson(r.stdout);
  assert.equal(summary.epochs, 4);
  assert.ok((summary.test_accuracy as number) > 0.9, `test accuracy ${summary.test_accuracy}`);
  const metrics = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(metrics.map((m) => m.epoch), [1, 2, 3, 4]);
  assert.ok(existsSync(join(out, 'model', 'model.json')) && existsSync(join(out, 'checkpoint', 'state.json')));
  const html = readFileSync(join(out, 'report.html'), 'utf8');
  for (const m of metrics) assert.ok(html.includes(`<tr><td>${m.epoch}</td><td>${m.loss.toFixed(4)}</td><td>${(100 * m.accuracy).toFixed(1)}%</td><td>${(100 * m.test_accuracy).toFixed(1)}%</td>`), `epoch ${m.epoch} in report.html`);
  assert.ok(html.includes(`Final test accuracy ${(100 * (summary.test_accuracy as number)).toFixed(1)}%`));
  assert.equal((html.match(/<img src="data:image\/svg\+xml;base64,/g) ?? []).length, 2, 'loss and accuracy curves, embedded');
  assert.doesNotMatch(html, /https?:\/\/|<script/i);
  const ev = advx(['evaluate', '--model', join(out, 'model'), '--data', 'mnist', '--json']);
  assert.equal(ev.status, 0, ev.stderr);
  assert.equal(lastJson(ev.stdout).accuracy, summary.test_accuracy);
});

test('a run killed mid-training resumes and ends exactly where an uninterrupted run ends', async () => {
  const out = join(tmp, 'killed');
  await killAfterFirstCheckpoint(['train', ...common, '--out', out], out);
  const done = JSON.parse(readFileSync(join(out, 'checkpoint', 'state.json'), 'utf8')).epoch;
  assert.ok(done >= 1 && done < 4, `killed after epoch ${done}`);
  const r = advx(['train', ...common, '--out', out, '--resume']);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, new RegExp(`resuming .* after epoch ${done}`));
  const resumed = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  const straight = readFileSync(join(tmp, 'straight', 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(resumed.map((m) => m.epoch), [1, 2, 3, 4]);
  // Same seed, same backend: the resumed run reproduces the uninterrupted one.
  assert.deepEqual(resumed.map((m) => [m.loss, m.test_accuracy]), straight.map((m) => [m.loss, m.test_accuracy]));
});

test('--init starts from the weights of a trained model', () => {
  // With a learning rate of 1e-9 the run cannot learn: its accuracy is the source model's (an
  // untrained mlp scores ~10%).
  const r = advx(['train', ...common, '--epochs', '1', '--lr', '1e-9', '--init', join(tmp, 'straight', 'model'), '--out', join(tmp, 'init')]);
  assert.equal(r.status, 0, r.stderr);
  const source = lastJson(advx(['evaluate', '--model', join(tmp, 'straight', 'model'), '--data', 'mnist', '--json']).stdout);
  assert.ok(Math.abs((lastJson(r.stdout).test_accuracy as number) - (source.accuracy as number)) < 0.002);
});

test('bad options give one clear line and a non-zero exit', () => {
  const cases: Array<[string[], RegExp]> = [
    [['train', '--model', 'resnet', '--out', join(tmp, 'x')], /unknown model "resnet"/],
    [['train', '--epochs', '-2', '--out', join(tmp, 'x')], /--epochs must be a non-negative integer/],
    [['train', '--backend', 'tpu', '--out', join(tmp, 'x')], /unknown backend "tpu"/],
    [['train', '--data', 'cifar', '--out', join(tmp, 'x'), '--model', 'mlp'], /unknown dataset "cifar"/],
    [['train', ...common, '--out', join(tmp, 'straight')], /already holds a training run/],
    [['evaluate', '--model', join(tmp, 'nowhere')], /no model at/],
    [['train', ...common, '--model', 'logistic', '--init', join(tmp, 'straight', 'model'), '--out', join(tmp, 'y')], /--init .* do not fit --model's/],
    [['train', ...common, '--adv-ramp', '2', '--out', join(tmp, 'z')], /--adv-ramp is only used with --adv/],
  ];
  for (const [args, message] of cases) {
    const r = advx(args);
    assert.notEqual(r.status, 0, args.join(' '));
    assert.match(r.stderr, message);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  }
});

test('--adv trades trains with the TRADES loss, records β, and resumes exactly', async () => {
  const trades = ['--model', 'mlp', '--data', 'mnist', '--epochs', '2', '--limit', '1000', '--seed', '3', '--adv', 'trades', '--adv-eps', '0.1', '--adv-steps', '3', '--adv-alpha', '0.05', '--quiet', '--json'];
  const straight = join(tmp, 'trades');
  const r = advx(['train', ...trades, '--out', straight]);
  assert.equal(r.status, 0, r.stderr);
  assert.ok((lastJson(r.stdout).test_accuracy as number) > 0.6, `test accuracy ${lastJson(r.stdout).test_accuracy}`);
  const config = JSON.parse(readFileSync(join(straight, 'config.json'), 'utf8'));
  assert.equal(config.adv, 'trades');
  assert.equal(config.tradesBeta, 6, 'the default β is recorded');
  assert.ok(existsSync(join(straight, 'model', 'model.json')));
  const killed = join(tmp, 'trades-killed');
  await killAfterFirstCheckpoint(['train', ...trades, '--out', killed], killed);
  // The explicit default is the same run as the implicit one.
  const resumed = advx(['train', ...trades, '--trades-beta', '6', '--out', killed, '--resume']);
  assert.equal(resumed.status, 0, resumed.stderr);
  const read = (dir: string) => readFileSync(join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(read(killed).map((m) => [m.epoch, m.loss, m.test_accuracy]), read(straight).map((m) => [m.epoch, m.loss, m.test_accuracy]));
  const other = advx(['train', ...trades, '--trades-beta', '3', '--lr-decay', '0.5', '--no-dropout', '--out', killed, '--resume']);
  assert.equal(other.status, 2);
  // Every disagreement in one line, with the flags as typed.
  assert.match(other.stderr, /cannot resume .*: it was started with --lr-decay 1 \(given: --lr-decay 0.5\), without --no-dropout \(given: --no-dropout\), --trades-beta 6 \(given: --trades-beta 3\);/);
});

test('--resume alone continues a run with its own options, and --epochs may grow', async () => {
  const options = ['--model', 'mlp', '--data', 'mnist', '--limit', '600', '--seed', '4', '--batch', '50', '--lr', '0.002', '--quiet'];
  const straight = join(tmp, 'own-straight');
  assert.equal(advx(['train', ...options, '--epochs', '3', '--out', straight]).status, 0);
  const killed = join(tmp, 'own-killed');
  await killAfterFirstCheckpoint(['train', ...options, '--epochs', '2', '--out', killed], killed);
  // Only --out and --resume: the model, data, seed, batch and lr come from config.json; --epochs 3 extends the run.
  const resumed = advx(['train', '--out', killed, '--resume', '--epochs', '3', '--json']);
  assert.equal(resumed.status, 0, resumed.stderr);
  assert.equal(lastJson(resumed.stdout).epochs, 3);
  assert.ok(readFileSync(join(killed, 'model', 'weights.bin')).equals(readFileSync(join(straight, 'model', 'weights.bin'))), 'the same weights, byte for byte');
  const rows = (dir: string) => readFileSync(join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).map((m) => [m.epoch, m.loss, m.test_accuracy, m.learningRate]);
  assert.deepEqual(rows(killed), rows(straight));
  const config = JSON.parse(readFileSync(join(killed, 'config.json'), 'utf8'));
  assert.deepEqual([config.model, config.limit, config.lr, config.epochs], ['mlp', 600, 0.002, 3]);
  const results = JSON.parse(readFileSync(join(killed, 'results.json'), 'utf8'));
  assert.deepEqual([results.advx, results.version, results.command, results.summary.epochs], ['results', 1, 'train', 3]);
});

test('--trades-beta without --adv trades, or not positive, is refused with one line and exit code 2', () => {
  const cases: Array<[string[], RegExp]> = [
    [['--trades-beta', '6'], /--trades-beta is only used with --adv trades/],
    [['--adv', 'pgd', '--trades-beta', '6'], /--trades-beta is only used with --adv trades/],
    [['--adv', 'trades', '--trades-beta', '0'], /--trades-beta must be a positive number, got "0"/],
    [['--adv', 'trades', '--temperature', '10'], /--adv trades has its own training loss/],
  ];
  for (const [args, message] of cases) {
    const r = advx(['train', ...common, ...args, '--out', join(tmp, 'bad-trades')]);
    assert.equal(r.status, 2, args.join(' '));
    assert.match(r.stderr, message);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  }
});
