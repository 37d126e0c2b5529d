/**
 * Raw (byte) splits, shared by the dataset loaders: scaling them to an ImageDataset, and the
 * decoded-dataset cache file. The file's layout: "ADVXDSET" (8 bytes), format version (uint32
 * LE), header length (uint32 LE), header (UTF-8 JSON: source, shape, train and test counts), then
 * train images, train labels, test images, test labels as raw bytes. A file whose version, source
 * or length does not match is ignored (and rebuilt).
 */
import * as fs from 'node:fs';
import type { DatasetSplits, ImageDataset } from '../../data/types.ts';
import { writeFileAtomic } from '../io/files.ts';

export interface RawSplit {
  images: Uint8Array;
  labels: Uint8Array;
  count: number;
}

export interface RawSplits {
  shape: [number, number, number];
  train: RawSplit;
  test: RawSplit;
}

/** What a raw split lacks to be an ImageDataset. */
export interface SplitInfo {
  name: string;
  shape: [number, number, number];
  classNames: string[];
}

const TO_UNIT = Float32Array.from({ length: 256 }, (_, i) => i / 255);

/** The first `n` images of a raw split (all when n is absent or larger), scaled to [0, 1]. */
export function unitDataset(raw: RawSplit, info: SplitInfo, n?: number): ImageDataset {
  const count = n === undefined ? raw.count : Math.min(n, raw.count);
  const size = info.shape[0] * info.shape[1] * info.shape[2];
  const images = new Float32Array(count * size);
  for (let i = 0; i < images.length; i++) images[i] = TO_UNIT[raw.images[i]];
  return { name: info.name, images, labels: raw.labels.subarray(0, count), shape: [...info.shape], numClasses: info.classNames.length, classNames: info.classNames, count };
}

/**
 * Splits made when first read, each once: a command that reads only the test split never scales
 * the training split to floats (MNIST's: 47 million values, about 0.4 s of every process start).
 */
export function lazySplits(make: (which: 'train' | 'test') => ImageDataset): DatasetSplits {
  const made: Partial<DatasetSplits> = {};
  return {
    get train() {
      return (made.train ??= make('train'));
    },
    get test() {
      return (made.test ??= make('test'));
    },
  };
}

const CACHE_MAGIC = 'ADVXDSET';
const CACHE_VERSION = 1;

interface CacheHeader {
  source: string;
  shape: [number, number, number];
  train: number;
  test: number;
}

export function encodeSplitCache(raw: RawSplits, source: string): Buffer {
  const header: CacheHeader = { source, shape: raw.shape, train: raw.train.count, test: raw.test.count };
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const prefix = Buffer.alloc(16);
  prefix.write(CACHE_MAGIC, 0, 'latin1');
  prefix.writeUInt32LE(CACHE_VERSION, 8);
  prefix.writeUInt32LE(json.length, 12);
  return Buffer.concat([prefix, json, raw.train.images, raw.train.labels, raw.test.images, raw.test.labels]);
}

/** The cached splits of `source`, or undefined when the file is missing, stale or damaged. */
export function readSplitCache(file: string, source: string, numClasses: number): RawSplits | undefined {
  let buf: Buffer;
  try {
    buf = fs.readFileSync(file);
  } catch {
    return undefined;
  }
  if (buf.length < 16 || buf.toString('latin1', 0, 8) !== CACHE_MAGIC || buf.readUInt32LE(8) !== CACHE_VERSION) return undefined;
  const jsonLength = buf.readUInt32LE(12);
  if (16 + jsonLength > buf.length) return undefined;
  let header: CacheHeader;
  try {
    header = JSON.parse(buf.toString('utf8', 16, 16 + jsonLength)) as CacheHeader;
  } catch {
    return undefined;
  }
  if (header.source !== source || !Array.isArray(header.shape)) return undefined;
  const size = header.shape[0] * header.shape[1] * header.shape[2];
  const counts = [header.train, header.test];
  if (!counts.every((n) => Number.isInteger(n) && n >= 0) || !Number.isInteger(size) || size <= 0) return undefined;
  let offset = 16 + jsonLength;
  if (buf.length !== offset + (header.train + header.test) * (size + 1)) return undefined;
  const take = (n: number) => {
    const view = new Uint8Array(buf.buffer, buf.byteOffset + offset, n);
    offset += n;
    return view;
  };
  const train: RawSplit = { images: take(header.train * size), labels: take(header.train), count: header.train };
  const test: RawSplit = { images: take(header.test * size), labels: take(header.test), count: header.test };
  for (const split of [train, test]) {
    for (let i = 0; i < split.count; i++) if (split.labels[i] >= numClasses) return undefined;
  }
  return { shape: header.shape, train, test };
}

export interface GeneratedSplitsOptions {
  /** Everything the images depend on (versions, seeds, counts): the key of both caches. */
  source: string;
  shape: [number, number, number];
  memory: Map<string, RawSplits>;
  /** The cache file, or undefined for no file cache. */
  cacheFile: string | undefined;
  limit: { train?: number; test?: number };
  /** Generates a split, or its first n images (which must not depend on n). */
  make: (which: 'train' | 'test', n?: number) => RawSplit;
}

/**
 * The raw splits of a generated dataset (MNIST-M, synthetic digits): from memory, else from the
 * cache file, else generated. A call with both limits and nothing cached generates only the images
 * it asks for and caches nothing (small runs stay fast); otherwise both whole splits are made,
 * kept in memory and written to the cache file atomically (a failed write is only a warning).
 */
export function generatedSplits(o: GeneratedSplitsOptions): { train: RawSplit; test: RawSplit } {
  let full = o.memory.get(o.source);
  if (!full && o.cacheFile !== undefined) {
    const cached = readSplitCache(o.cacheFile, o.source, 10);
    full = cached && cached.shape.join() === o.shape.join() ? cached : undefined;
    if (full) o.memory.set(o.source, full);
  }
  if (full) return full;
  if (o.limit.train !== undefined && o.limit.test !== undefined) return { train: o.make('train', o.limit.train), test: o.make('test', o.limit.test) };
  full = { shape: o.shape, train: o.make('train'), test: o.make('test') };
  o.memory.set(o.source, full);
  if (o.cacheFile !== undefined) {
    try {
      writeFileAtomic(o.cacheFile, encodeSplitCache(full, o.source));
    } catch (err) {
      process.emitWarning(`advx: could not write the dataset cache ${o.cacheFile}: ${(err as Error).message}`);
    }
  }
  return full;
}
