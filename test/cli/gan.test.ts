import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { advx, killAfterFirstCheckpoint, lastJson } from '../helpers/cli.ts';

const tmp = mkdtempSync(join(tmpdir(), 'advx-gan-'));
// Tiny networks on 200 MNIST images: each step takes a fraction of a second.
const small = ['--steps', '8', '--width', '8', '--batch', '16', '--limit', '200', '--seed', '5', '--checkpoint-every', '3', '--sample-every', '4', '--quiet'];
const metrics = (dir: string) => readFileSync(join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
const png = (file: string) => PNG.sync.read(readFileSync(file));

test('gan train writes metrics, checkpoint, sample grids, the generator and a report; sample and evaluate use it', () => {
  const out = join(tmp, 'dcgan');
  const r = advx(['gan', 'train', '--arch', 'dcgan', '--loss', 'ns', '--data', 'mnist', ...small, '--augment', 'translation', '--json', '--out', out]);
  assert.equal(r.status, 0, r.stderr);
  const summary = lastJson(r.stdout);
  assert.equal(summary.steps, 8);
  assert.ok(Number.isFinite(summary.d_loss) && Number.isFinite(summary.g_loss));
  assert.deepEqual(metrics(out).map((m) => m.step), [1, 2, 3, 4, 5, 6, 7, 8]);
  assert.ok(metrics(out).every((m) => Number.isFinite(m.d_loss) && Number.isFinite(m.g_grad_norm)));
  for (const f of ['config.json', 'checkpoint/state.json', 'model/model.json', 'model/weights.bin', 'model/config.json', 'samples/step-000004.png', 'samples/step-000008.png', 'samples/final.png', 'interpolation.png', 'curves.svg', 'report.html']) {
    assert.ok(existsSync(join(out, f)), f);
  }
  // An 8×8 grid of 28×28 images with 1-pixel gaps; 8 interpolation rows of 10.
  const grid = png(join(out, 'samples', 'final.png'));
  assert.deepEqual([grid.width, grid.height], [8 * 29 + 1, 8 * 29 + 1]);
  const strip = png(join(out, 'interpolation.png'));
  assert.deepEqual([strip.width, strip.height], [10 * 29 + 1, 8 * 29 + 1]);
  const config = JSON.parse(readFileSync(join(out, 'model', 'config.json'), 'utf8'));
  assert.equal(config.arch, 'dcgan');
  assert.equal(config.latentDim, 100);
  assert.equal(config.conditional, false);
  assert.equal(config.ema, true);
  const html = readFileSync(join(out, 'report.html'), 'utf8');
  for (const s of ['curves.svg', 'samples/final.png', 'samples/step-000004.png', 'interpolation.png']) assert.ok(html.includes(s), s);
  // The final grid once (step 8's grid is the same picture), beside a grid of real training images of its size.
  assert.ok(!html.includes('samples/step-000008.png'), 'the last step grid is not shown besides final.png');
  assert.equal(html.split('src="samples/final.png"').length, 2, 'final.png shown once');
  assert.ok(html.includes('src="samples/real.png"'), 'the real images in the report');
  const real = png(join(out, 'samples', 'real.png'));
  assert.deepEqual([real.width, real.height], [grid.width, grid.height]);
  assert.ok(real.data.some((v, i) => i % 4 === 0 && v > 200), 'real digits, not a blank grid');
  // FID and KID at each checkpoint (3, 6 and the last step), drawn in the report.
  const measured = metrics(out).filter((m) => m.kid !== undefined);
  assert.deepEqual(measured.map((m) => m.step), [3, 6, 8]);
  assert.ok(measured.every((m) => Number.isFinite(m.kid) && Number.isFinite(m.fid) && m.fid >= 0), JSON.stringify(measured));
  assert.ok(existsSync(join(out, 'kid.svg')) && existsSync(join(out, 'fid.svg')));
  assert.match(html, /FID and KID over training/);
  assert.ok(html.includes('src="kid.svg"') && html.includes('src="fid.svg"'));

  const sampleFile = join(tmp, 'grid.png');
  const s = advx(['gan', 'sample', '--model', join(out, 'model'), '--n', '12', '--cols', '4', '--seed', '1', '--out', sampleFile]);
  assert.equal(s.status, 0, s.stderr);
  const sampled = png(sampleFile);
  assert.deepEqual([sampled.width, sampled.height], [4 * 29 + 1, 3 * 29 + 1]);
  const interp = join(tmp, 'interp.png');
  assert.equal(advx(['gan', 'sample', '--model', join(out, 'model'), '--n', '2', '--interpolate', '--out', interp]).status, 0);
  assert.deepEqual([png(interp).width, png(interp).height], [10 * 29 + 1, 2 * 29 + 1]);

  const ev = advx(['gan', 'evaluate', '--model', join(out, 'model'), '--n', '200', '--json']);
  assert.equal(ev.status, 0, ev.stderr);
  const m = lastJson(ev.stdout);
  assert.ok((m.fid as number) > 0 && Number.isFinite(m.kid));
  assert.ok(Number.isInteger(m.classes_covered) && (m.classes_covered as number) >= 0 && (m.classes_covered as number) <= 10);
  assert.equal((m.histogram as number[]).reduce((a, b) => a + b, 0), 200);
  assert.equal(m.data, 'mnist');

  // The same folder again without --resume: refused.
  const twice = advx(['gan', 'train', ...small, '--out', out]);
  assert.equal(twice.status, 2);
  assert.match(twice.stderr, /already holds a GAN run/);
});

test('a gan run killed after its first checkpoint resumes and ends exactly where the uninterrupted run ends', async () => {
  const full = join(tmp, 'full');
  const args = ['gan', 'train', '--arch', 'cgan', '--loss', 'hinge', '--r1', '0.5', ...small];
  assert.equal(advx([...args, '--out', full]).status, 0);
  const out = join(tmp, 'killed');
  await killAfterFirstCheckpoint([...args, '--out', out], out);
  const done = JSON.parse(readFileSync(join(out, 'checkpoint', 'state.json'), 'utf8')).step;
  assert.ok(done >= 3 && done < 8, `killed after step ${done}`);
  const r = advx([...args, '--out', out, '--resume']);
  assert.equal(r.status, 0, r.stderr);
  const key = (m: Record<string, number>) => [m.step, m.d_loss, m.g_loss, m.g_grad_norm];
  assert.deepEqual(metrics(out).map(key), metrics(full).map(key));
  assert.ok(readFileSync(join(out, 'model', 'weights.bin')).equals(readFileSync(join(full, 'model', 'weights.bin'))), 'same generator weights');
  assert.ok(readFileSync(join(out, 'samples', 'final.png')).equals(readFileSync(join(full, 'samples', 'final.png'))));
  // cGAN grids: one column per class.
  assert.equal(png(join(full, 'samples', 'final.png')).width, 10 * 29 + 1);
  const changed = advx([...args, '--width', '16', '--out', out, '--resume']);
  assert.equal(changed.status, 2);
  assert.match(changed.stderr, /started with --width 8 \(given: --width 16\);/);
  const cls = join(tmp, 'class3.png');
  assert.equal(advx(['gan', 'sample', '--model', join(full, 'model'), '--class', '3', '--n', '4', '--out', cls]).status, 0);
  const bad = advx(['gan', 'sample', '--model', join(full, 'model'), '--class', '12', '--out', cls]);
  assert.match(bad.stderr, /--class must be in \[0, 9\]/);
});

test('a NaN stops training with a clear error and keeps the last good checkpoint, which resumes', () => {
  const out = join(tmp, 'nan');
  const base = ['gan', 'train', '--width', '8', '--batch', '16', '--limit', '200', '--checkpoint-every', '2', '--quiet', '--out', out];
  assert.equal(advx([...base, '--steps', '2']).status, 0);
  const before = readFileSync(join(out, 'checkpoint', 'weights.bin'));
  // An absurd learning rate overflows the weights at the next step.
  const r = advx([...base, '--steps', '6', '--lr', '1e38', '--resume']);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /diverged at step 3: the (generator|discriminator)'s loss is NaN/);
  assert.match(r.stderr, /last good checkpoint \(step 2\)/);
  assert.doesNotMatch(r.stderr, /at .*\.ts:\d+/, 'no stack trace');
  assert.ok(readFileSync(join(out, 'checkpoint', 'weights.bin')).equals(before), 'checkpoint untouched');
  assert.deepEqual(metrics(out).map((m) => m.step), [1, 2]);
  // The run's own --lr (1e38, recorded when it was resumed with it) would diverge again: a lower one is given.
  const resumed = advx([...base, '--steps', '4', '--lr', '0.0002', '--resume']);
  assert.equal(resumed.status, 0, resumed.stderr);
  assert.deepEqual(metrics(out).map((m) => m.step), [1, 2, 3, 4]);
});

test('gan: bad options are clear errors', () => {
  const cases: Array<[string[], RegExp]> = [
    [['train', '--loss', 'wasserstein'], /unknown GAN loss "wasserstein": choose one of ns, minimax, hinge, ls/],
    [['train', '--arch', 'stylegan'], /unknown GAN architecture "stylegan"/],
    [['train', '--ema', '1'], /--ema must be a number in \[0, 1\)/],
    [['train', '--augment', 'flip'], /unknown augmentation "flip"/],
    [['train', '--data', 'cifar'], /unknown dataset "cifar"/],
    [['sample', '--model', tmp, '--out', join(tmp, 'x.png')], /no generator in/],
  ];
  cases.forEach(([args, message], i) => {
    const out = args[0] === 'train' ? ['--out', join(tmp, `bad-${i}`)] : [];
    const r = advx(['gan', ...args, ...out]);
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message, args.join(' '));
    assert.doesNotMatch(r.stderr, /at .*\.ts:\d+/, 'no stack trace');
  });
});
