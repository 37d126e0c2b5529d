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
  // The grid as papers show it: four triplets a row, each image enlarged 4× (nearest neighbour), label bands around them.
  const grid = PNG.sync.read(readFileSync(join(out, 'grid.png')));
  assert.ok(grid.width >= 4 * 3 * 28 * 4 && grid.height >= 28 * 4 + 30, `${grid.width}×${grid.height}`);
  // report.html: self-contained (the grid embedded), the summary numbers and one row per example.
  const html = readFileSync(join(out, 'report.html'), 'utf8');
  const pct = (v: number) => `${(100 * v).toFixed(1)}%`;
  for (const key of ['clean_accuracy', 'adversarial_accuracy', 'success_rate'] as const) assert.ok(html.includes(`<td>${pct(results.summary[key])}</td>`), `${key} ${pct(results.summary[key])} in report.html`);
  assert.ok(html.includes(`<td>${results.summary.mean_linf.toFixed(4)}</td>`));
  assert.match(html, /<img src="data:image\/png;base64,[A-Za-z0-9+/=]+"/);
  assert.equal((html.match(/<td>(yes|no)<\/td>/g) ?? []).length, 24, 'one table row per example');
  assert.doesNotMatch(html, /https?:\/\/|<script/i, 'no external reference, no script');
  // Each triplet labelled as papers do, "7 (99%) → 8 (100%)", with the perturbation's amplification (×5 at ε 0.2).
  assert.match(html, /<title>advx attack: pgd, ε = 0.2<\/title>/);
  const p0 = (v: number) => `${Math.round(100 * v)}%`;
  for (const e of results.examples.slice(0, 4)) {
    assert.ok(html.includes(`<figcaption>#${e.index}: ${e.clean_prediction} (${p0(e.clean_confidence)})`), `caption of example ${e.index}`);
    assert.ok(html.includes(` → ${e.adversarial_prediction} (${p0(e.adversarial_confidence)})`), `adversarial label of example ${e.index}`);
  }
  assert.equal((html.match(/<figure class="triplet">/g) ?? []).length, 4);
  assert.equal((html.match(/<small>perturbation ×5<\/small>/g) ?? []).length, 4);
  assert.doesNotMatch(html, /<h2>Queries/, 'a white-box attack asks no queries');
  // Without --out nothing is written; with --images 0 the report has no grid, not a stale one.
  const again = advx(['attack', '--model', model, '--attack', 'fgsm', '--eps', '0.1', '--limit', '8', '--images', '0', '--out', out, '--json']);
  assert.equal(again.status, 0, again.stderr);
  const html2 = readFileSync(join(out, 'report.html'), 'utf8');
  assert.match(html2, /advx attack: fgsm/);
  assert.doesNotMatch(html2, /data:image\/png/);
  assert.ok(!existsSync(join(out, 'grid.png')));
});

test('a minimal-norm attack is reported as one: no "ε = 0.3 (L∞)" budget, each perturbation amplified to its own size', () => {
  const out = join(tmp, 'deepfool');
  const r = advx(['attack', '--model', 'models/mnist-cnn', '--attack', 'deepfool', '--norm', 'l2', '--limit', '4', '--images', '2', '--out', out, '--json']);
  assert.equal(r.status, 0, r.stderr);
  const html = readFileSync(join(out, 'report.html'), 'utf8');
  assert.match(html, /<title>advx attack: deepfool, minimal L2 perturbation<\/title>/);
  assert.match(html, /<p>deepfool, minimal L2 perturbation \(no ε budget: [^<]*counts it at ε = 0.3 only where, projected onto the ε-ball, it still fools\)/);
  assert.doesNotMatch(html, /ε = 0.3 \(L/);
  assert.match(html, /amplified to its own L∞/);
  const results = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
  for (const e of results.examples.slice(0, 2)) {
    if (e.linf > 0) assert.ok(html.includes(`<small>perturbation ×${1 / e.linf >= 10 ? Math.round(1 / e.linf) : Number((1 / e.linf).toPrecision(2))}</small>`), `amplification of example ${e.index}`);
  }
});

test('a black-box attack\'s report shows its queries: mean, median, quantiles, a histogram', () => {
  const out = join(tmp, 'square');
  const r = advx(['attack', '--model', 'models/mnist-cnn', '--attack', 'square', '--eps', '0.2', '--queries', '60', '--limit', '6', '--images', '1', '--out', out, '--json']);
  assert.equal(r.status, 0, r.stderr);
  const results = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
  const q: number[] = results.examples.map((e: { queries: number }) => e.queries).sort((a: number, b: number) => a - b);
  assert.equal(q.length, 6);
  const html = readFileSync(join(out, 'report.html'), 'utf8');
  const mean = q.reduce((a, b) => a + b, 0) / q.length;
  assert.ok(html.includes(`mean ${mean.toFixed(1)}, median ${(q[2] + q[3]) / 2} over 6 examples`), 'mean and median in the text');
  assert.match(html, /<th>median<\/th><th>75%<\/th><th>90%<\/th><th>max<\/th>/);
  assert.ok(html.includes(`<tr><td>all</td><td>6</td>`) && html.includes(`<td>${q[5]}</td></tr>`), 'the quantile table, max last');
  assert.match(html, /<img src="data:image\/svg\+xml;base64,[A-Za-z0-9+/=]+" alt="Histogram of the queries/);
  assert.match(html, /<th>queries<\/th>/, 'the per-example table has a queries column');
  // One triplet: the grid is one cell of three enlarged images.
  const grid = PNG.sync.read(readFileSync(join(out, 'grid.png')));
  assert.ok(grid.width >= 3 * 28 * 4 && grid.width < 2 * 3 * 28 * 4, `${grid.width}`);
});

test('EOT through the CLI writes magnified print-ready PNGs', () => {
  const out = join(tmp, 'eot');
  const r = advx(['attack', '--model', model, '--attack', 'eot', '--eps', '0.2', '--steps', '5', '--samples', '2', '--limit', '4', '--images', '2', '--print-scale', '8', '--out', out, '--json']);
  assert.equal(r.status, 0, r.stderr);
  const prints = readdirSync(join(out, 'print'));
  assert.equal(prints.length, 2);
  const png = PNG.sync.read(readFileSync(join(out, 'print', prints[0])));
  assert.equal(png.width, 28 * 8);
  // The survival rate: per example and in the summary, over the successful examples, and in the report.
  const s = lastJson(r.stdout);
  const results = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
  const fooled = (results.examples as { success: boolean; survival?: number }[]).filter((e) => e.success);
  assert.ok(fooled.length > 0, 'something to survive');
  for (const e of results.examples) assert.ok(e.survival >= 0 && e.survival <= 1, `survival ${e.survival}`);
  const mean = fooled.reduce((t, e) => t + e.survival!, 0) / fooled.length;
  assert.ok(Math.abs((s.survival_rate as number) - mean) < 1e-12 && results.summary.survival_rate === s.survival_rate, `survival_rate ${s.survival_rate} vs ${mean}`);
  const html = readFileSync(join(out, 'report.html'), 'utf8');
  assert.ok(html.includes(`Survival rate ${(100 * mean).toFixed(1)}%`), 'the survival rate in the report');
  assert.match(html, /<th>survival<\/th>/, 'a survival column per example');
});

test('an attack other than EOT has no survival rate', () => {
  const r = advx(['attack', '--model', model, '--attack', 'fgsm', '--eps', '0.2', '--limit', '2', '--json']);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(lastJson(r.stdout).survival_rate, undefined);
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
