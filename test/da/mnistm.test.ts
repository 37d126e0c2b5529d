import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { AdvxError } from '../../src/core/errors.ts';
import { Rng } from '../../src/core/rng.ts';
import { blendMnistM, downscalePhoto, mnistM, toRgb, type Photo } from '../../src/data/mnistm.ts';
import type { ImageDataset } from '../../src/data/types.ts';
import { loadDataset } from '../../src/node/datasets/index.ts';
import { clearMnistMCache, loadMnistM, loadPhoto, MNISTM_TEST_PHOTOS, MNISTM_TRAIN_PHOTOS } from '../../src/node/datasets/mnistm.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'advx-mnistm-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** A photo of one flat colour per name, so each patch's source is recognisable. */
function flatPhoto(name: string, rgb: [number, number, number], width = 40, height = 30): Photo {
  const data = new Uint8Array(width * height * 3);
  for (let i = 0; i < width * height; i++) data.set(rgb, 3 * i);
  return { name, width, height, data };
}

function digits(count: number, seed: number): ImageDataset {
  const rng = new Rng(seed);
  const images = Float32Array.from({ length: count * 784 }, () => (rng.next() < 0.2 ? rng.next() : 0));
  return { name: 'fake', images, labels: new Uint8Array(count).map((_, i) => i % 10), shape: [28, 28, 1], numClasses: 10, classNames: [...'0123456789'], count };
}

test('blend: |patch − 255·binarised digit| per channel, deterministic per seed, prefix-stable', () => {
  const d = digits(20, 1);
  const photos = [flatPhoto('a', [10, 200, 90]), flatPhoto('b', [250, 0, 128])];
  const out = blendMnistM(d, photos, { seed: 5 });
  assert.equal(out.length, 20 * 784 * 3);
  for (let i = 0; i < 20; i++) {
    // The patch's colour is the colour of the non-ink pixels; ink pixels are its negative.
    let bg: number[] | undefined;
    for (let p = 0; p < 784; p++) {
      const px = Array.from(out.subarray((i * 784 + p) * 3, (i * 784 + p) * 3 + 3));
      const ink = d.images[i * 784 + p] > 0;
      const base = ink ? px.map((v) => 255 - v) : px;
      bg ??= base;
      assert.deepEqual(base, bg, `image ${i} pixel ${p}`);
    }
    assert.ok(photos.some((ph) => ph.data[0] === bg![0] && ph.data[1] === bg![1] && ph.data[2] === bg![2]));
  }
  assert.deepEqual(blendMnistM(d, photos, { seed: 5 }), out);
  assert.notDeepEqual(blendMnistM(d, photos, { seed: 6 }), out);
  // The first n images do not depend on how many are generated.
  const first = blendMnistM({ ...d, images: d.images.subarray(0, 5 * 784), labels: d.labels.subarray(0, 5), count: 5 }, photos, { seed: 5 });
  assert.deepEqual(first, out.subarray(0, 5 * 784 * 3));
  // Threshold: only pixels above it count as ink.
  const hi = blendMnistM(d, photos, { seed: 5, threshold: 0.99 });
  assert.notDeepEqual(hi, out);
});

test('blend, toRgb and downscale: bad inputs are AdvxErrors', () => {
  const d = digits(2, 1);
  assert.throws(() => blendMnistM(d, [], { seed: 0 }), AdvxError);
  assert.throws(() => blendMnistM(d, [flatPhoto('small', [0, 0, 0], 20, 20)], { seed: 0 }), AdvxError);
  assert.throws(() => blendMnistM(d, [{ name: 'bad', width: 30, height: 30, data: new Uint8Array(5) }], { seed: 0 }), AdvxError);
  assert.throws(() => blendMnistM(d, [flatPhoto('a', [0, 0, 0])], { seed: 0, threshold: 1 }), AdvxError);
  const rgb = toRgb(d);
  assert.deepEqual(rgb.shape, [28, 28, 3]);
  assert.throws(() => blendMnistM(rgb, [flatPhoto('a', [0, 0, 0])], { seed: 0 }), AdvxError);
  assert.throws(() => toRgb(rgb), AdvxError);
  const m = mnistM(d, [flatPhoto('a', [51, 102, 255])], { seed: 0 });
  assert.deepEqual(m.shape, [28, 28, 3]);
  assert.equal(m.images[0], Math.fround(d.images[0] > 0 ? 204 / 255 : 51 / 255));
  const small = downscalePhoto({ name: 'x', width: 4, height: 2, data: Uint8Array.from({ length: 24 }, (_, i) => i * 10) });
  assert.equal(small.width, 2);
  assert.equal(small.height, 1);
  assert.equal(small.data[0], Math.round((0 + 30 + 120 + 150) / 4));
});

test('mnist-m from the photo packages: shape, range, determinism, digit visible, train/test photos disjoint', () => {
  const disjoint = MNISTM_TRAIN_PHOTOS.filter((p) => (MNISTM_TEST_PHOTOS as readonly string[]).includes(p));
  assert.deepEqual(disjoint, []);
  for (const name of [...MNISTM_TRAIN_PHOTOS, ...MNISTM_TEST_PHOTOS]) {
    const p = loadPhoto(name);
    assert.ok(p.width >= 256 && p.height >= 256 && p.data.length === p.width * p.height * 3, name);
  }
  const opts = { limit: { train: 200, test: 100 }, cacheDir: tmp };
  const a = loadDataset('mnist-m', opts);
  const b = loadDataset('mnist-m', opts);
  const mnist = loadDataset('mnist', { limit: { train: 200, test: 100 } });
  const rgb = loadDataset('mnist-rgb', { limit: { train: 200, test: 100 } });
  for (const split of ['train', 'test'] as const) {
    const m = a[split];
    assert.deepEqual(m.shape, [28, 28, 3]);
    assert.equal(m.count, split === 'train' ? 200 : 100);
    assert.equal(m.images.length, m.count * 784 * 3);
    assert.deepEqual(m.labels, mnist[split].labels);
    assert.deepEqual(m.images, b[split].images, 'same seed, same images');
    assert.deepEqual(rgb[split].shape, [28, 28, 3]);
    let min = Infinity;
    let max = -Infinity;
    let inkDiff = 0;
    let bgDiff = 0;
    let inkN = 0;
    let bgN = 0;
    for (let i = 0; i < m.count * 784; i++) {
      for (let k = 0; k < 3; k++) {
        const v = m.images[3 * i + k];
        if (v < min) min = v;
        if (v > max) max = v;
        assert.equal(rgb[split].images[3 * i + k], mnist[split].images[i]);
      }
      // Neighbouring pixels within a patch are alike, except across the digit's edge.
      if (i % 28 === 27) continue;
      const edge = (mnist[split].images[i] > 0) !== (mnist[split].images[i + 1] > 0);
      const diff = Math.abs(m.images[3 * i] - m.images[3 * i + 3]);
      if (edge) {
        inkDiff += diff;
        inkN++;
      } else {
        bgDiff += diff;
        bgN++;
      }
    }
    assert.ok(min >= 0 && max <= 1, `values in [0, 1], got [${min}, ${max}]`);
    assert.ok(max - min > 0.5, 'colourful');
    assert.ok(inkDiff / inkN > 3 * (bgDiff / bgN), `digit visible: edge contrast ${inkDiff / inkN} vs ${bgDiff / bgN}`);
  }
  const reseeded = loadMnistM({ ...opts, seed: 1 });
  assert.notDeepEqual(reseeded.train.images, a.train.images);
  assert.deepEqual(reseeded.train.labels, a.train.labels);
});

function idx(magic: number, dims: number[], data: Uint8Array): Buffer {
  const header = Buffer.alloc(4 + 4 * dims.length);
  header.writeUInt32BE(magic, 0);
  dims.forEach((d, i) => header.writeUInt32BE(d, 4 + 4 * i));
  return Buffer.concat([header, data]);
}

test('mnist-m cache: full generation writes a cache file that later loads read back', () => {
  const dir = fs.mkdtempSync(path.join(tmp, 'idx-'));
  const cacheDir = path.join(tmp, 'cache');
  const rng = new Rng(9);
  for (const [prefix, n] of [['train', 30], ['t10k', 10]] as const) {
    fs.writeFileSync(path.join(dir, `${prefix}-images-idx3-ubyte`), idx(2051, [n, 28, 28], Uint8Array.from({ length: n * 784 }, () => (rng.next() < 0.2 ? 255 : 0))));
    fs.writeFileSync(path.join(dir, `${prefix}-labels-idx1-ubyte`), idx(2049, [n], Uint8Array.from({ length: n }, (_, i) => i % 10)));
  }
  const full = loadMnistM({ dir, cacheDir });
  assert.equal(full.train.count, 30);
  assert.equal(full.test.count, 10);
  const files = fs.readdirSync(cacheDir).filter((f) => f.startsWith('mnist-m'));
  assert.equal(files.length, 1);
  assert.equal(fs.statSync(path.join(cacheDir, files[0])).size > 40 * 2352, true);
  clearMnistMCache();
  const cached = loadMnistM({ dir, cacheDir, limit: { train: 7, test: 3 } });
  assert.deepEqual(cached.train.images, full.train.images.subarray(0, 7 * 2352));
  assert.deepEqual(cached.test.images, full.test.images.subarray(0, 3 * 2352));
  // Prefix generation without the cache gives the same images.
  const fresh = loadMnistM({ dir, cache: false, limit: { train: 7, test: 3 } });
  assert.deepEqual(fresh.train.images, cached.train.images);
  // A damaged cache file is ignored and rebuilt.
  fs.writeFileSync(path.join(cacheDir, files[0]), 'garbage');
  clearMnistMCache();
  assert.deepEqual(loadMnistM({ dir, cacheDir }).train.images, full.train.images);
  assert.throws(() => loadMnistM({ dir, cacheDir, limit: { train: -1 } }), AdvxError);
  assert.throws(() => loadMnistM({ dir, cacheDir, seed: 0.5 }), AdvxError);
});
