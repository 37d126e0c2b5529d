import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { AdvxError } from '../../src/core/errors.ts';
import { Rng } from '../../src/core/rng.ts';
import {
  finishCell,
  SHEET_CELL,
  SHEET_CELLS,
  SHEET_PITCH,
  SHEET_SIZE,
  sheetSvg,
  SYNTH_FONTS,
  type DigitStyle,
} from '../../src/data/synth-digits.ts';
import type { ImageDataset } from '../../src/data/types.ts';
import { loadDataset, parseDatasetName } from '../../src/node/datasets/index.ts';
import { clearSynthDigitsCache, loadSynthDigits, resvgRasterizer } from '../../src/node/datasets/synth-digits.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'advx-synth-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const SIZE = 28 * 28 * 3;
const counts = { train: 2000, test: 500 };
const rasterize = resvgRasterizer();

function plain(font: number, label: number): DigitStyle {
  const white: [number, number, number] = [255, 255, 255];
  return { label, font, height: 0.7, angle: 0, dx: 0, dy: 0, ink: [0, 0, 0], background: [white, white], gradientAngle: 0, outline: undefined, blur: 0, noise: 0, noiseSeed: 0 };
}

test('all 20 font variants render differently, and no digit reaches a neighbouring cell', () => {
  assert.equal(SYNTH_FONTS.length, 20);
  const rgba = rasterize(sheetSvg(SYNTH_FONTS.map((_, font) => plain(font, 2))), SHEET_SIZE, SHEET_SIZE);
  const cells = SYNTH_FONTS.map((_, k) => {
    const out = new Uint8Array(SIZE);
    finishCell(rgba, k, plain(k, 2), out);
    return Buffer.from(out).toString('latin1');
  });
  assert.equal(new Set(cells).size, 20, 'a variant fell back to another font');

  // Worst cases: tallest, most rotated, outlined, at a corner of the offset range; black on white.
  const rng = new Rng(1);
  const styles = Array.from({ length: SHEET_CELLS ** 2 }, (_, k): DigitStyle => ({
    ...plain(k % 20, Math.floor(k / 20) % 10),
    height: 0.85,
    angle: rng.next() < 0.5 ? -15 : 15,
    dx: rng.next() < 0.5 ? -0.075 : 0.075,
    dy: rng.next() < 0.5 ? -0.075 : 0.075,
    outline: { colour: [0, 0, 0], width: 0.06 },
  }));
  const sheet = rasterize(sheetSvg(styles), SHEET_SIZE, SHEET_SIZE);
  const half = (SHEET_PITCH - SHEET_CELL) / 2;
  let worst = 0;
  for (let y = 0; y < SHEET_SIZE; y++) {
    for (let x = 0; x < SHEET_SIZE; x++) {
      if (sheet[(y * SHEET_SIZE + x) * 4] === 255) continue;
      const cx = Math.round((x - SHEET_CELL / 2) / SHEET_PITCH) * SHEET_PITCH;
      const cy = Math.round((y - SHEET_CELL / 2) / SHEET_PITCH) * SHEET_PITCH;
      worst = Math.max(worst, cx - x, x - (cx + SHEET_CELL - 1), cy - y, y - (cy + SHEET_CELL - 1));
    }
  }
  assert.ok(worst < half, `ink reaches ${worst} px beyond its cell; the gutter allows under ${half}`);
});

function stats(ds: ImageDataset): { min: number; max: number; hist: number[]; lowContrast: number } {
  let min = Infinity;
  let max = -Infinity;
  let lowContrast = 0;
  const hist = new Array<number>(10).fill(0);
  for (let i = 0; i < ds.count; i++) {
    hist[ds.labels[i]]++;
    let lo = Infinity;
    let hi = -Infinity;
    for (let p = 0; p < 784; p++) {
      const o = (i * 784 + p) * 3;
      for (let k = 0; k < 3; k++) {
        min = Math.min(min, ds.images[o + k]);
        max = Math.max(max, ds.images[o + k]);
      }
      const y = 0.299 * ds.images[o] + 0.587 * ds.images[o + 1] + 0.114 * ds.images[o + 2];
      lo = Math.min(lo, y);
      hi = Math.max(hi, y);
    }
    if (hi - lo < 0.2) lowContrast++;
  }
  return { min, max, hist, lowContrast };
}

/** Grey, standardised, with the background (the median) at 0 and ink positive whatever its polarity. */
function features(ds: ImageDataset, i: number): Float32Array {
  const g = new Float32Array(784);
  for (let p = 0; p < 784; p++) {
    const o = (i * 784 + p) * 3;
    g[p] = 0.299 * ds.images[o] + 0.587 * ds.images[o + 1] + 0.114 * ds.images[o + 2];
  }
  const median = Float32Array.from(g).sort()[392];
  let norm = 0;
  for (let p = 0; p < 784; p++) norm += (g[p] = Math.abs(g[p] - median)) ** 2;
  norm = Math.sqrt(norm) || 1;
  for (let p = 0; p < 784; p++) g[p] /= norm;
  return g;
}

test('synth-digits: shape, range, balance, contrast, classes tell apart, cache reload, prefix-stable, seeds', () => {
  const a = loadSynthDigits({ counts, cacheDir: tmp });
  const file = path.join(tmp, 'synth-digits-seed0-2000-500.bin');
  assert.ok(fs.existsSync(file), 'cache file written');
  for (const split of ['train', 'test'] as const) {
    const ds = a[split];
    assert.equal(ds.name, 'synth-digits');
    assert.equal(ds.count, counts[split]);
    assert.deepEqual(ds.shape, [28, 28, 3]);
    assert.deepEqual(ds.classNames, ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
    assert.equal(ds.images.length, ds.count * SIZE);
    const s = stats(ds);
    assert.ok(s.min >= 0 && s.max <= 1 && s.max - s.min > 0.9, `values in [0, 1], got [${s.min}, ${s.max}]`);
    assert.deepEqual(s.hist, new Array(10).fill(ds.count / 10), 'balanced labels');
    assert.ok(s.lowContrast <= ds.count * 0.02, `${s.lowContrast} of ${ds.count} images are nearly flat`);
    // Shuffled: not 0, 1, …, 9 in turn.
    assert.ok(Array.from(ds.labels.subarray(0, 20)).some((l, i) => l !== i % 10));
  }
  assert.notDeepEqual(a.train.images.subarray(0, 100 * SIZE), a.test.images.subarray(0, 100 * SIZE));

  // Nearest class mean on the training split, scored on the test split: chance is 10% (± 1.3%), measured 40%.
  const means = Array.from({ length: 10 }, () => new Float32Array(784));
  for (let i = 0; i < a.train.count; i++) {
    const f = features(a.train, i);
    const m = means[a.train.labels[i]];
    for (let p = 0; p < 784; p++) m[p] += f[p];
  }
  let correct = 0;
  for (let i = 0; i < a.test.count; i++) {
    const f = features(a.test, i);
    let best = -1;
    let bestD = Infinity;
    means.forEach((m, c) => {
      let d = 0;
      for (let p = 0; p < 784; p++) d += (f[p] - m[p] / (a.train.count / 10)) ** 2;
      if (d < bestD) [bestD, best] = [d, c];
    });
    if (best === a.test.labels[i]) correct++;
  }
  const accuracy = correct / a.test.count;
  assert.ok(accuracy > 0.3, `nearest class mean accuracy ${accuracy}`);

  // Regenerated without any cache: the same bytes.
  clearSynthDigitsCache();
  const b = loadSynthDigits({ counts, cache: false });
  assert.deepEqual(b.train.images, a.train.images);
  assert.deepEqual(b.test.labels, a.test.labels);

  // Reloaded from the file: equal; and it is the file that is read (a byte changed there shows).
  clearSynthDigitsCache();
  const c = loadSynthDigits({ counts, cacheDir: tmp });
  assert.deepEqual(c.train.images, a.train.images);
  assert.deepEqual(c.test.images, a.test.images);
  const bytes = fs.readFileSync(file);
  const at = bytes.length - counts.test - counts.test * SIZE; // first byte of the test images
  bytes[at] = bytes[at] === 0 ? 255 : 0;
  fs.writeFileSync(file, bytes);
  clearSynthDigitsCache();
  assert.equal(loadSynthDigits({ counts, cacheDir: tmp }).test.images[0], bytes[at] / 255);

  // With both limits and no cache, only the first images are made, and they are the full set's.
  clearSynthDigitsCache();
  const d = loadSynthDigits({ counts, cache: false, limit: { train: 30, test: 600 } });
  assert.equal(d.train.count, 30);
  assert.equal(d.test.count, 500);
  assert.deepEqual(d.train.images, a.train.images.subarray(0, 30 * SIZE));
  assert.deepEqual(d.train.labels, a.train.labels.subarray(0, 30));
  assert.deepEqual(d.test.images, a.test.images);

  const other = loadSynthDigits({ counts, cache: false, seed: 1, limit: { train: 30, test: 0 } });
  assert.notDeepEqual(other.train.images, d.train.images);
});

test('synth-digits through loadDataset, and bad options', () => {
  assert.equal(parseDatasetName('synth-digits'), 'synth-digits');
  clearSynthDigitsCache();
  const opts = { cache: false, limit: { train: 12, test: 8 } } as const;
  const a = loadDataset('synth-digits', opts);
  assert.equal(a.train.count, 12);
  assert.equal(a.test.count, 8);
  assert.deepEqual(a.train.images, loadSynthDigits(opts).train.images);
  for (const bad of [
    { seed: 1.5 },
    { counts: { train: -1 } },
    { counts: { test: 2.5 } },
    { limit: { train: -3, test: 1 } },
    { dir: tmp },
  ]) {
    assert.throws(() => loadSynthDigits({ cache: false, ...bad }), AdvxError, JSON.stringify(bad));
  }
});
