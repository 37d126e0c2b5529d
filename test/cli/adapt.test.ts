import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { advx, assertRefused, killAfterFirstCheckpoint, lastJson } from '../helpers/cli.ts';

const tmp = mkdtempSync(join(tmpdir(), 'advx-adapt-'));
// MNIST-RGB → MNIST-M on tiny subsets: the target images are generated on the fly.
const small = ['--limit', '256', '--target-limit', '256', '--test-limit', '200', '--batch', '32', '--embed', '60', '--seed', '3', '--quiet', '--json'];
const metrics = (dir: string) => readFileSync(join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));

test('adapt --method dann writes metrics, checkpoint, model, pictures and a report; evaluate agrees', () => {
  const out = join(tmp, 'dann');
  const r = advx(['adapt', '--method', 'dann', '--epochs', '3', ...small, '--out', out]);
  assert.equal(r.status, 0, r.stderr);
  const summary = lastJson(r.stdout);
  assert.equal(summary.method, 'dann');
  for (const key of ['source_accuracy', 'target_accuracy', 'a_distance']) assert.ok(Number.isFinite(summary[key]), key);
  assert.deepEqual(metrics(out).map((m) => m.epoch), [1, 2, 3]);
  assert.ok(metrics(out).every((m) => Number.isFinite(m.domain_accuracy) && Number.isFinite(m.target_accuracy)));
  for (const f of ['checkpoint/state.json', 'model/model.json', 'model/advx.json', 'report.html', 'pca.svg', 'tsne.svg', 'curves.svg', 'results.json', 'embedding.json']) {
    assert.ok(existsSync(join(out, f)), f);
  }
  const html = readFileSync(join(out, 'report.html'), 'utf8');
  assert.match(html, /A-distance/);
  assert.match(html, /tsne\.svg/);
  const embedding = JSON.parse(readFileSync(join(out, 'embedding.json'), 'utf8'));
  assert.equal(embedding.pca.length, 2 * 2 * 60);
  const ev = advx(['evaluate', '--model', join(out, 'model'), '--data', 'mnist-m', '--limit', '200', '--json']);
  assert.equal(ev.status, 0, ev.stderr);
  assert.equal(lastJson(ev.stdout).accuracy, summary.target_accuracy);
  // The same folder again without --resume: refused, nothing overwritten.
  const again = advx(['adapt', '--epochs', '3', ...small, '--out', out]);
  assert.equal(again.status, 2);
  assert.match(again.stderr, /already holds an adapt run/);
});

test('adapt --batch-norm per-domain: each domain measured under its own statistics; the saved model keeps the target\'s', () => {
  const out = join(tmp, 'per-domain');
  const r = advx(['adapt', '--method', 'dann', '--batch-norm', 'per-domain', '--epochs', '1', ...small, '--no-tsne', '--out', out]);
  assert.equal(r.status, 0, r.stderr);
  const summary = lastJson(r.stdout);
  const aDistance = summary.a_distance as number;
  assert.ok(aDistance >= 0 && aDistance <= 2, String(aDistance));
  assert.equal(JSON.parse(readFileSync(join(out, 'embedding.json'), 'utf8')).pca.length, 2 * 2 * 60);
  const ev = advx(['evaluate', '--model', join(out, 'model'), '--data', 'mnist-m', '--limit', '200', '--json']);
  assert.equal(ev.status, 0, ev.stderr);
  assert.equal(lastJson(ev.stdout).accuracy, summary.target_accuracy);
});

test('an adapt run killed after its first epoch resumes and ends where the uninterrupted run ends', async () => {
  const out = join(tmp, 'killed');
  await killAfterFirstCheckpoint(['adapt', '--method', 'dann', '--epochs', '3', ...small, '--out', out], out);
  const done = JSON.parse(readFileSync(join(out, 'checkpoint', 'state.json'), 'utf8')).epoch;
  assert.ok(done >= 1 && done < 3, `killed after epoch ${done}`);
  // Options of another method (here finetune's) do not stop a resume.
  const r = advx(['adapt', '--method', 'dann', '--epochs', '3', ...small, '--head-epochs', '7', '--out', out, '--resume']);
  assert.equal(r.status, 0, r.stderr);
  const key = (m: Record<string, number>) => [m.epoch, m.label_loss, m.domain_loss, m.target_accuracy];
  assert.deepEqual(metrics(out).map(key), metrics(join(tmp, 'dann')).map(key));
  const changed = advx(['adapt', '--method', 'dann', '--epochs', '3', ...small, '--lr', '0.02', '--out', out, '--resume']);
  assert.equal(changed.status, 2);
  assert.match(changed.stderr, /started with --lr 0.01 \(given: --lr 0.02\);/);
});

test('adapt --method finetune (source-only with per-domain batch norm first, then 5 labelled target images per class) with a baseline', () => {
  const out = join(tmp, 'finetune');
  // --source mnist: grey digits are copied to 3 channels to meet MNIST-M.
  const r = advx(['adapt', '--method', 'finetune', '--source', 'mnist', '--epochs', '1', '--target-labels', '5', '--head-epochs', '3', '--finetune-epochs', '3', '--batch-norm', 'per-domain', ...small, '--baseline', join(tmp, 'dann'), '--no-tsne', '--out', out]);
  assert.equal(r.status, 0, r.stderr);
  const summary = lastJson(r.stdout);
  assert.equal(summary.method, 'finetune');
  assert.equal(summary.source, 'mnist');
  // MNIST-M has the source's classes: --head auto keeps the trained head rather than a new one.
  assert.doesNotMatch(readFileSync(join(out, 'model', 'model.json'), 'utf8'), /finetune_head/);
  const phases = metrics(out).map((m) => m.phase);
  assert.deepEqual(phases, ['train', ...Array(3).fill('finetune-head'), ...Array(3).fill('finetune-all')]);
  assert.ok(existsSync(join(out, 'source-only', 'checkpoint', 'state.json')));
  assert.ok(existsSync(join(out, 'baseline-pca.svg')) && !existsSync(join(out, 'tsne.svg')));
  const html = readFileSync(join(out, 'report.html'), 'utf8');
  assert.match(html, /baseline/);
  // Per class, before (the source-only network) and after fine-tuning, in each domain.
  const perClass = summary.per_class_accuracy as { source: number[]; target: number[] };
  const before = summary.per_class_accuracy_before as { source: number[]; target: number[] };
  assert.equal(perClass.target.length, 10);
  assert.equal(before.source.length, 10);
  const tested = perClass.target.filter((v) => Number.isFinite(v));
  assert.ok(tested.length > 0 && tested.every((v) => v >= 0 && v <= 1));
  assert.match(html, /<h2>Accuracy per class<\/h2>/);
  assert.match(html, /<th>target, before fine-tuning<\/th><th>target, finetune<\/th>/);
  // Sample images of both domains: 16 test images each, 8 a row (28-px RGB images, 1-px gaps).
  for (const f of ['source-images.png', 'target-images.png']) {
    const image = PNG.sync.read(readFileSync(join(out, f)));
    assert.deepEqual([image.width, image.height], [8 * 29 + 1, 2 * 29 + 1], f);
    assert.ok(html.includes(`src="${f}"`), f);
  }
  // The fine-tuning phases are their own series in the curves.
  const curves = readFileSync(join(out, 'curves.svg'), 'utf8');
  for (const name of ['source-only: source test accuracy', 'fine-tune, head only', 'fine-tune, whole network']) assert.ok(curves.includes(name), name);
});

test('adapt --select-lambda trains one run per λ and keeps the one with the highest SND', () => {
  const out = join(tmp, 'select');
  const r = advx(['adapt', '--method', 'coral', '--epochs', '1', '--select-lambda', '0.3,3', ...small, '--no-tsne', '--out', out]);
  assert.equal(r.status, 0, r.stderr);
  const summary = lastJson(r.stdout);
  const tried = summary.lambda_selection as Array<{ lambda: number; snd: number }>;
  assert.deepEqual(tried.map((t) => t.lambda), [0.3, 3]);
  const best = tried.reduce((a, b) => (b.snd > a.snd ? b : a));
  assert.equal(summary.lambda, best.lambda);
  assert.ok(existsSync(join(out, 'lambda-0.3', 'metrics.jsonl')) && existsSync(join(out, 'lambda-3', 'metrics.jsonl')));
});

test('adapt: bad options are clear errors', () => {
  const cases: Array<[string[], RegExp]> = [
    [['--select-lambda', '1'], /at least two numbers/],
    [['--source', 'cifar'], /unknown dataset "cifar"/],
    [['--init', 'models/mnist-cnn'], /finetune only/],
    [['--method', 'finetune', '--init', 'models/mnist-cnn'], /expects inputs of shape 28×28×1/],
    [['--method', 'source-only', '--select-lambda', '0,1'], /nothing to choose/],
    [['--baseline', tmp], /not a finished/],
  ];
  for (const [args, message] of cases) {
    const r = advx(['adapt', '--epochs', '1', ...small, ...args, '--out', join(tmp, `bad-${cases.findIndex((c) => c[0] === args)}`)]);
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message, args.join(' '));
    assert.doesNotMatch(r.stderr, /at .*\.ts:\d+/, 'no stack trace');
  }
});

test('adapt --method finetune --baseline <source-only run> reuses its network instead of training it again, and ends where training it here ends', () => {
  // Batch norm per domain, as README's lines: the baseline's statistics must come back exactly too.
  const base = ['--target-labels', '5', '--head-epochs', '2', '--finetune-epochs', '2', '--batch-norm', 'per-domain', ...small, '--no-tsne'];
  const sourceOnly = join(tmp, 'reuse-source-only');
  const so = advx(['adapt', '--method', 'source-only', '--epochs', '1', '--batch-norm', 'per-domain', ...small, '--no-tsne', '--out', sourceOnly]);
  assert.equal(so.status, 0, so.stderr);
  // Reused: --epochs is left out and taken from the baseline (1, not the default 10); not --quiet, to read its log.
  const reused = join(tmp, 'reuse-ft');
  const r = advx(['adapt', '--method', 'finetune', '--baseline', sourceOnly, ...base.filter((a) => a !== '--quiet'), '--out', reused]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /reusing the source-only network of --baseline/);
  assert.doesNotMatch(r.stderr, /source-only epoch|epoch 1: source acc/, 'no source-only training');
  assert.ok(!existsSync(join(reused, 'source-only')), 'no source-only sub-run trained');
  // The same finetune run training its own source-only network first (same options and seed).
  const own = join(tmp, 'own-ft');
  const o = advx(['adapt', '--method', 'finetune', '--epochs', '1', ...base, '--out', own]);
  assert.equal(o.status, 0, o.stderr);
  assert.ok(existsSync(join(own, 'source-only', 'checkpoint', 'state.json')));
  assert.deepEqual(lastJson(r.stdout), lastJson(o.stdout));
  const noTime = (dir: string) => metrics(dir).map(({ seconds: _s, ...m }) => m);
  assert.deepEqual(noTime(reused), noTime(own));
  assert.deepEqual(noTime(reused).map((m) => m.phase), ['train', 'finetune-head', 'finetune-head', 'finetune-all', 'finetune-all']);
  // The source phase's rows are the baseline's, time included: read, not measured again.
  assert.deepEqual(metrics(reused)[0], metrics(sourceOnly)[0]);
  const weights = (dir: string) => readFileSync(join(dir, 'model', 'weights.bin'));
  assert.ok(weights(reused).equals(weights(own)), 'the fine-tuned weights are the same bytes');
  assert.match(readFileSync(join(reused, 'report.html'), 'utf8'), /baseline/);
  // A source-only baseline made with other options is refused, naming them.
  assertRefused(['adapt', '--method', 'finetune', '--baseline', sourceOnly, '--lr', '0.02', ...base.filter((a) => a !== '--seed' && a !== '3'), '--seed', '4', '--out', join(tmp, 'reuse-bad')], /--baseline .* made with --lr 0\.01 \(given: --lr 0\.02\), --seed 3 \(given: --seed 4\)/);
  assert.ok(!existsSync(join(tmp, 'reuse-bad', 'config.json')));
  // Another method against the source-only baseline: its per-class accuracies are the "before".
  const dann = join(tmp, 'dann-vs-source-only');
  const d = advx(['adapt', '--method', 'dann', '--epochs', '1', '--batch-norm', 'per-domain', ...small, '--no-tsne', '--baseline', sourceOnly, '--out', dann]);
  assert.equal(d.status, 0, d.stderr);
  const html = readFileSync(join(dann, 'report.html'), 'utf8');
  assert.match(html, /<th>target, baseline \(source-only\)<\/th><th>target, dann<\/th><th>target change \(points\)<\/th>/);
  const baselineTarget = (JSON.parse(readFileSync(join(sourceOnly, 'results.json'), 'utf8')).summary.per_class_accuracy.target as (number | null)[]);
  const first = baselineTarget.findIndex((v) => v !== null);
  assert.ok(html.includes(`<td>${(100 * baselineTarget[first]!).toFixed(1)}%</td>`), 'the baseline\'s own per-class numbers');
});
