import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { advx, lastJson } from '../helpers/cli.ts';

const tmp = mkdtempSync(join(tmpdir(), 'advx-attack-'));
const model = join(tmp, 'mlp', 'model');

before(() => {
  const r = advx(['train', '--model', 'mlp', '--epochs', '1', '--limit', '3000', '--out', join(tmp, 'mlp'), '--quiet']);
  assert.equal(r.status, 0, r.stderr);
});

test('advx attack writes results.json, per-example PNGs and a grid', () => {
  const out = join(tmp, 'pgd');
  const r = advx(['attack', '--model', model, '--attack', 'pgd', '--eps', '0.2', '--steps', '20', '--limit', '24', '--images', '4', '--out', out, '--json']);
  assert.equal(r.status, 0, r.stderr);
  const summary = lastJson(r.stdout);
  assert.equal(summary.count, 24);
  assert.ok((summary.success_rate as number) > 0.9, `success ${summary.success_rate}`);
  const results = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
  // The one results schema: the --json line as `summary`, the examples beside it.
  assert.deepEqual([results.advx, results.version, results.command], ['results', 1, 'attack']);
  assert.deepEqual(results.summary, summary);
  assert.equal(results.examples.length, 24);
  for (const e of results.examples) {
    assert.ok(e.linf <= 0.2 + 1e-6);
    if (e.clean_prediction === e.label) assert.equal(e.success, e.adversarial_prediction !== e.label);
  }
  const files = readdirSync(join(out, 'examples'));
  assert.equal(files.filter((f) => f.includes('-original-')).length, 4);
  assert.equal(files.filter((f) => f.includes('-perturbation')).length, 4);
  const grid = PNG.sync.read(readFileSync(join(out, 'grid.png')));
  assert.ok(grid.width > 28 * 3 && grid.height >= 28);
  // report.html: self-contained (the grid embedded), the summary numbers and one row per example.
  const html = readFileSync(join(out, 'report.html'), 'utf8');
  const pct = (v: number) => `${(100 * v).toFixed(1)}%`;
  for (const key of ['clean_accuracy', 'adversarial_accuracy', 'success_rate'] as const) assert.ok(html.includes(`<td>${pct(results.summary[key])}</td>`), `${key} ${pct(results.summary[key])} in report.html`);
  assert.ok(html.includes(`<td>${results.summary.mean_linf.toFixed(4)}</td>`));
  assert.match(html, /<img src="data:image\/png;base64,[A-Za-z0-9+/=]+"/);
  assert.equal((html.match(/<td>(yes|no)<\/td>/g) ?? []).length, 24, 'one table row per example');
  assert.doesNotMatch(html, /https?:\/\/|<script/i, 'no external reference, no script');
  // Without --out nothing is written; with --images 0 the report has no grid, not a stale one.
  const again = advx(['attack', '--model', model, '--attack', 'fgsm', '--eps', '0.1', '--limit', '8', '--images', '0', '--out', out, '--json']);
  assert.equal(again.status, 0, again.stderr);
  const html2 = readFileSync(join(out, 'report.html'), 'utf8');
  assert.match(html2, /advx attack: fgsm/);
  assert.doesNotMatch(html2, /data:image\/png/);
  assert.ok(!existsSync(join(out, 'grid.png')));
});

test('EOT through the CLI writes magnified print-ready PNGs', () => {
  const out = join(tmp, 'eot');
  const r = advx(['attack', '--model', model, '--attack', 'eot', '--eps', '0.2', '--steps', '5', '--samples', '2', '--limit', '4', '--images', '2', '--print-scale', '8', '--out', out, '--json']);
  assert.equal(r.status, 0, r.stderr);
  const prints = readdirSync(join(out, 'print'));
  assert.equal(prints.length, 2);
  const png = PNG.sync.read(readFileSync(join(out, 'print', prints[0])));
  assert.equal(png.width, 28 * 8);
});

test('targeted attack through the CLI hits the target', () => {
  const r = advx(['attack', '--model', model, '--attack', 'pgd', '--eps', '0.3', '--steps', '30', '--target', '5', '--limit', '16', '--json']);
  assert.equal(r.status, 0, r.stderr);
  const s = lastJson(r.stdout);
  assert.equal(s.targeted, true);
  assert.ok((s.success_rate as number) > 0.8, `targeted success ${s.success_rate}`);
});

test('attack options are checked', () => {
  const cases: Array<[string[], RegExp]> = [
    [['--attack', 'nope'], /unknown attack "nope"/],
    [['--eps', '-1'], /--eps must be a non-negative number/],
    [['--eps', 'NaN'], /--eps must be a non-negative number/],
    [['--target', '12'], /--target must be a class index in \[0, 9\]/],
    [['--norm', 'l3'], /--norm must be linf or l2/],
    [['--data', 'fashion-mnist', '--model', join(tmp, 'nowhere')], /no model at/],
  ];
  for (const [extra, message] of cases) {
    const args = ['attack', '--model', model, '--limit', '4', ...extra];
    const r = advx(args);
    assert.notEqual(r.status, 0, args.join(' '));
    assert.match(r.stderr, message);
  }
  assert.ok(!existsSync(join(tmp, 'nowhere')));
});

test('--backend webgpu either runs or says clearly that there is no GPU', () => {
  const r = advx(['evaluate', '--model', model, '--limit', '10', '--backend', 'webgpu', '--json']);
  if (r.status === 0) assert.ok(typeof lastJson(r.stdout).accuracy === 'number');
  else assert.match(r.stderr, /advx: backend "webgpu": no GPU adapter found|advx: backend "webgpu" needs/);
});

test('advx attack takes an ONNX file exported by PyTorch: every example within ε, each success a real misclassification', () => {
  // The fixture's weights are random (test/fixtures/onnx, scripts/onnx-fixtures.py): clean
  // accuracy is chance, so what is checked is the attack through the imported graph.
  const out = join(tmp, 'onnx');
  const r = advx(['attack', '--model', 'test/fixtures/onnx/small-cnn.onnx', '--attack', 'pgd', '--eps', '0.1', '--limit', '16', '--images', '2', '--out', out, '--json']);
  assert.equal(r.status, 0, r.stderr);
  const results = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
  assert.equal(results.examples.length, 16);
  for (const e of results.examples) {
    assert.ok(e.linf <= 0.1 + 1e-6, `linf ${e.linf}`);
    if (e.success) assert.notEqual(e.adversarial_prediction, e.label);
  }
  const correct = results.examples.filter((e: { clean_prediction: number; label: number }) => e.clean_prediction === e.label);
  assert.ok(correct.every((e: { success: boolean }) => e.success), 'PGD at ε 0.1 flips every correctly classified example of the random CNN');
});
