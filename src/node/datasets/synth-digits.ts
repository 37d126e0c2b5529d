/**
 * Synthetic digits ('synth-digits') for Node: a "Syn Numbers"-style source domain (DANN paper),
 * generated deterministically by src/data/synth-digits.ts, with resvg (`@resvg/resvg-js`) as the
 * rasteriser and the 20 DejaVu variants of `dejavu-fonts-ttf` as the fonts. 28×28×3 images,
 * classes '0'..'9', labels balanced and shuffled. Default SYNTH_DIGITS_COUNTS (25 000 training,
 * 9 000 test images) and seed SYNTH_DIGITS_SEED; the two splits draw from different seeds.
 *
 * The bytes depend on resvg's and the fonts' versions, so both are part of the cache key. The
 * cache file (src/node/datasets/split-cache.ts's format, written atomically) and the in-memory copy work as
 * MNIST-M's (src/node/datasets/mnistm.ts): a call with both limits and no cache file yet generates only the
 * images it returns (the first n images do not depend on n); any other call makes and caches all.
 * The full set takes about 25 s of CPU (one core). resvg-js 2.6 frees a rendered sheet only in a
 * finalizer, which Node runs once the event loop turns, so while this synchronous loader generates
 * the full set it holds about 1.5 GB of rendered sheets (freed soon after it returns).
 */
import type * as ResvgJs from '@resvg/resvg-js';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { AdvxError } from '../../core/errors.ts';
import { Rng } from '../../core/rng.ts';
import { generateSynthDigits, type Rasterize } from '../../data/synth-digits.ts';
import type { DatasetSplits } from '../../data/types.ts';
import { checkLimits, defaultCacheDir, MNIST_CLASSES, type LoadDatasetOptions } from './npm.ts';
import { loadPackage, packageDir, packageVersion } from '../io/packages.ts';
import { generatedSplits, lazySplits, unitDataset, type RawSplit, type RawSplits } from './split-cache.ts';

export const SYNTH_DIGITS_SEED = 0;
export const SYNTH_DIGITS_COUNTS = { train: 25000, test: 9000 } as const;

export interface LoadSynthDigitsOptions extends LoadDatasetOptions {
  /** Seed of the whole dataset (each split derives its own from it). */
  seed?: number;
  /** Split sizes, default SYNTH_DIGITS_COUNTS; a different size is a different dataset (labels are balanced over all of it). */
  counts?: { train?: number; test?: number };
}

const PURPOSE = 'the synth-digits dataset';

/** The DejaVu files behind SYNTH_FONTS (ExtraLight and the maths font are left out). */
export const SYNTH_FONT_FILES = [
  'DejaVuSans.ttf', 'DejaVuSans-Bold.ttf', 'DejaVuSans-Oblique.ttf', 'DejaVuSans-BoldOblique.ttf',
  'DejaVuSansCondensed.ttf', 'DejaVuSansCondensed-Bold.ttf', 'DejaVuSansCondensed-Oblique.ttf', 'DejaVuSansCondensed-BoldOblique.ttf',
  'DejaVuSerif.ttf', 'DejaVuSerif-Bold.ttf', 'DejaVuSerif-Italic.ttf', 'DejaVuSerif-BoldItalic.ttf',
  'DejaVuSerifCondensed.ttf', 'DejaVuSerifCondensed-Bold.ttf', 'DejaVuSerifCondensed-Italic.ttf', 'DejaVuSerifCondensed-BoldItalic.ttf',
  'DejaVuSansMono.ttf', 'DejaVuSansMono-Bold.ttf', 'DejaVuSansMono-Oblique.ttf', 'DejaVuSansMono-BoldOblique.ttf',
];

function fontFiles(): string[] {
  const dir = path.join(packageDir('dejavu-fonts-ttf', PURPOSE), 'ttf');
  return SYNTH_FONT_FILES.map((name) => {
    const file = path.join(dir, name);
    if (!fs.existsSync(file)) throw new AdvxError(`font ${file} is missing; reinstall it: npm install dejavu-fonts-ttf`);
    return file;
  });
}

/** resvg with only the DejaVu fonts (no system fonts, so every machine renders the same). */
export function resvgRasterizer(): Rasterize {
  const files = fontFiles();
  const { Resvg } = loadPackage<typeof ResvgJs>('@resvg/resvg-js', PURPOSE);
  return (svg, width, height) => {
    const image = new Resvg(svg, {
      fitTo: { mode: 'original' },
      background: '#ffffff',
      font: { fontFiles: files, loadSystemFonts: false, defaultFontFamily: 'DejaVu Sans' },
    }).render();
    if (image.width !== width || image.height !== height) {
      throw new Error(`resvg rendered ${image.width}×${image.height}, expected ${width}×${height}`);
    }
    return image.pixels; // a getter that copies: read it once
  };
}

const SHAPE: [number, number, number] = [28, 28, 3];
const memory = new Map<string, RawSplits>();

/** Forgets the synthetic digits kept in memory (the cache file stays). */
export function clearSynthDigitsCache(): void {
  memory.clear();
}

function count(what: string, n: unknown, fallback: number): number {
  const v = n ?? fallback;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw new AdvxError(`${what} must be a non-negative integer, got ${String(n)}`);
  return v;
}

/** The synthetic digits' training and test splits, images in [0, 1], shape [28, 28, 3]. */
export function loadSynthDigits(options: LoadSynthDigitsOptions = {}): DatasetSplits {
  const limit = checkLimits(options);
  if (options.dir !== undefined) throw new AdvxError('synth-digits is generated, it reads no source folder: leave out dir');
  const seed = options.seed ?? SYNTH_DIGITS_SEED;
  if (!Number.isInteger(seed)) throw new AdvxError(`synth-digits seed must be an integer, got ${seed}`);
  const counts = {
    train: count('counts.train', options.counts?.train, SYNTH_DIGITS_COUNTS.train),
    test: count('counts.test', options.counts?.test, SYNTH_DIGITS_COUNTS.test),
  };
  const source = JSON.stringify({
    version: 1,
    seed,
    counts,
    resvg: packageVersion('@resvg/resvg-js', PURPOSE),
    fonts: packageVersion('dejavu-fonts-ttf', PURPOSE),
  });
  const cacheDir = options.cache === false ? undefined : path.resolve(options.cacheDir ?? defaultCacheDir());
  const cacheFile = cacheDir === undefined ? undefined : path.join(cacheDir, `synth-digits-seed${seed}-${counts.train}-${counts.test}.bin`);
  // Each split has its own seed, drawn from the dataset's, so no split repeats another's styles.
  const root = new Rng(seed);
  const seeds = { train: root.seed(), test: root.seed() };
  let rasterize: Rasterize | undefined;
  const make = (which: 'train' | 'test', n?: number): RawSplit => {
    rasterize ??= resvgRasterizer();
    return generateSynthDigits({ total: counts[which], count: n === undefined ? undefined : Math.min(n, counts[which]), seed: seeds[which], rasterize });
  };
  const splits = generatedSplits({ source, shape: SHAPE, memory, cacheFile, limit, make });
  const info = { name: 'synth-digits', shape: SHAPE, classNames: MNIST_CLASSES };
  return lazySplits((which) => unitDataset(splits[which], info, limit[which]));
}
