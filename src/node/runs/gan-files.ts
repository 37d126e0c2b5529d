/**
 * Node side of `advx gan`: the generator on disk (TF.js LayersModel + config.json), sample grids and
 * interpolation strips as PNG, and the run's report.html. (Checkpoints and metrics.jsonl are a
 * training run's, in runs/training-run.ts.)
 */
import * as tfl from '@tensorflow/tfjs-layers';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AdvxError } from '../../core/errors.ts';
import type { ImageDataset } from '../../data/types.ts';
import { dcganConfig, latentInterpolation, type DcganConfig, type GanArch, type Generator } from '../../gan/dcgan.ts';
import { sampleImages } from '../../gan/train-images.ts';
import { renderReport, type Block } from '../../report/html.ts';
import { lineChartSvg, type Series } from '../../report/plot.ts';
import { writeFileAtomic } from '../io/files.ts';
import { fileSystemHandler } from '../io/model-files.ts';
import { encodePng, imageGrid } from '../io/png.ts';

/** What `advx gan sample/evaluate` need to know about a saved generator: model/config.json. */
export interface GeneratorInfo extends DcganConfig {
  arch: GanArch;
  conditional: boolean;
  dataset: string;
  classNames: string[];
  loss: string;
  steps: number;
  /** Whether the saved weights are the EMA of the generator's. */
  ema: boolean;
}

export const GENERATOR_CONFIG = 'config.json';

export async function saveGenerator(dir: string, g: Generator, info: Omit<GeneratorInfo, keyof DcganConfig | 'conditional'>): Promise<void> {
  await g.model.save(fileSystemHandler(dir));
  const config: GeneratorInfo = { ...info, ...g.config, conditional: g.config.numClasses > 0 };
  writeFileAtomic(join(dir, GENERATOR_CONFIG), JSON.stringify(config, null, 2));
}

export async function loadGenerator(dir: string): Promise<{ generator: Generator; info: GeneratorInfo }> {
  const configPath = join(dir, GENERATOR_CONFIG);
  if (!existsSync(join(dir, 'model.json'))) throw new AdvxError(`no generator in ${dir}: ${join(dir, 'model.json')} does not exist (pass the model/ folder of an \`advx gan train\` run)`);
  if (!existsSync(configPath)) throw new AdvxError(`${dir} holds a model but no ${GENERATOR_CONFIG}: it was not saved by \`advx gan train\``);
  let info: GeneratorInfo;
  try {
    info = JSON.parse(readFileSync(configPath, 'utf8'));
  } catch (e) {
    throw new AdvxError(`${configPath} is not valid JSON (${(e as Error).message})`);
  }
  const config = dcganConfig(info);
  let model: tfl.LayersModel;
  try {
    model = await tfl.loadLayersModel(fileSystemHandler(dir));
  } catch (e) {
    if (e instanceof AdvxError) throw e;
    throw new AdvxError(`could not load the generator in ${dir}: ${(e as Error).message}`);
  }
  const inDim = (model.inputs[0].shape as number[])[1];
  if (inDim !== config.latentDim + config.numClasses) {
    model.dispose();
    throw new AdvxError(`the generator in ${dir} takes ${inDim} inputs, but its ${GENERATOR_CONFIG} says latent ${config.latentDim} + ${config.numClasses} classes`);
  }
  return { generator: { model, config }, info };
}

function gridPng(pixels: Float32Array, count: number, config: DcganConfig, cols: number): Buffer {
  const grid = imageGrid(pixels, count, config.imageSize, config.imageSize, config.channels, cols);
  return encodePng(grid.pixels, grid.width, grid.height, grid.channels as 1 | 3);
}

/**
 * The training run's sample grid: 8×8 images for an unconditional generator; for a cGAN one column
 * per class (8 rows), so each column should show one class.
 */
export function sampleGridLayout(config: DcganConfig): { n: number; cols: number; labels?: number[] } {
  if (!config.numClasses) return { n: 64, cols: 8 };
  const n = 8 * config.numClasses;
  return { n, cols: config.numClasses, labels: Array.from({ length: n }, (_, k) => k % config.numClasses) };
}

/** Writes a grid of `n` samples (seeded z; labels for a cGAN) as a PNG. */
export async function writeSampleGrid(file: string, g: Generator, o: { n: number; cols: number; seed: number; labels?: ArrayLike<number> }): Promise<void> {
  const pixels = await sampleImages(g, o.n, o.seed, o.labels);
  writeFileAtomic(file, gridPng(pixels, o.n, g.config, o.cols));
}

/**
 * Writes a grid of real training images laid out as the sample grid (`layout`): the first images,
 * or for a cGAN, column k showing the first images of class k, so that it sits beside the samples.
 */
export function writeRealGrid(file: string, data: ImageDataset, layout: { n: number; cols: number; labels?: number[] }): void {
  const [h, w, c] = data.shape;
  const size = h * w * c;
  const picked: number[] = [];
  if (layout.labels) {
    const seen = new Map<number, number[]>();
    for (let i = 0; i < data.count; i++) {
      const list = seen.get(data.labels[i]) ?? [];
      list.push(i);
      seen.set(data.labels[i], list);
    }
    layout.labels.forEach((k, j) => {
      const list = seen.get(k) ?? [];
      const i = list[Math.floor(j / layout.cols)];
      if (i !== undefined) picked.push(i);
    });
  } else for (let i = 0; i < Math.min(layout.n, data.count); i++) picked.push(i);
  const pixels = new Float32Array(picked.length * size);
  picked.forEach((i, j) => pixels.set(data.images.subarray(i * size, (i + 1) * size), j * size));
  const grid = imageGrid(pixels, picked.length, h, w, c, layout.cols);
  writeFileAtomic(file, encodePng(grid.pixels, grid.width, grid.height, grid.channels as 1 | 3));
}

/** Writes `rows` latent interpolation strips of `cols` images (slerp between seeded endpoints); a cGAN row k shows class labels[k]. */
export async function writeInterpolation(file: string, g: Generator, o: { rows: number; cols: number; seed: number; labels?: number[] }): Promise<void> {
  const z = latentInterpolation(g.config.latentDim, o.rows, o.cols, o.seed);
  try {
    const labels = g.config.numClasses ? Array.from({ length: o.rows * o.cols }, (_, k) => o.labels?.[Math.floor(k / o.cols)] ?? Math.floor(k / o.cols) % g.config.numClasses) : undefined;
    const pixels = await sampleImages(g, o.rows * o.cols, o.seed, labels, z);
    writeFileAtomic(file, gridPng(pixels, o.rows * o.cols, g.config, o.cols));
  } finally {
    z.dispose();
  }
}

/** One line of metrics.jsonl. */
export interface GanMetric {
  step: number;
  d_loss: number;
  g_loss: number;
  d_grad_norm: number;
  g_grad_norm: number;
  seconds: number;
  /** At checkpoints (where the dataset has a shipped classifier): FID and KID of a small fixed sample against real training images. */
  fid?: number;
  kid?: number;
}

/** Averages of consecutive rows, so that a long run's curve has at most `points` points. */
function binned(rows: GanMetric[], key: 'd_loss' | 'g_loss', points = 400): Series['x'][] {
  const size = Math.max(1, Math.ceil(rows.length / points));
  const x: number[] = [];
  const y: number[] = [];
  for (let i = 0; i < rows.length; i += size) {
    const chunk = rows.slice(i, i + size);
    x.push(chunk.at(-1)!.step);
    y.push(chunk.reduce((a, r) => a + r[key], 0) / chunk.length);
  }
  return [x, y];
}

export interface GanReport {
  title: string;
  command: string;
  summary: Record<string, string | number>;
  metrics: GanMetric[];
  /** Sample grids over training, as paths relative to the run folder, with their step. */
  samples: Array<{ src: string; step: number }>;
  /** A grid of real training images, shown beside the final samples. */
  real?: string;
  /** The images per side FID/KID were measured on, if they were. */
  qualitySamples?: number;
  interpolation?: string;
}

/** Writes curves.svg and report.html into the run folder. */
export function writeGanReport(dir: string, r: GanReport): void {
  const blocks: Block[] = [
    { kind: 'text', text: r.command },
    { kind: 'table', columns: Object.keys(r.summary), rows: [Object.values(r.summary)] },
  ];
  if (r.metrics.length) {
    const [dx, dy] = binned(r.metrics, 'd_loss');
    const [gx, gy] = binned(r.metrics, 'g_loss');
    const svg = lineChartSvg(
      [
        { name: 'discriminator loss', x: dx, y: dy },
        { name: 'generator loss', x: gx, y: gy },
      ],
      { title: 'Losses', xLabel: 'step', yLabel: 'loss', integerTicks: true },
    );
    writeFileAtomic(join(dir, 'curves.svg'), svg);
    blocks.push({ kind: 'heading', text: 'Losses' }, { kind: 'image', src: 'curves.svg', caption: 'Discriminator and generator losses (averaged over bins of steps)' });
  }
  const measured = r.metrics.filter((m) => m.kid !== undefined && m.fid !== undefined);
  if (measured.length) {
    const chart = (key: 'fid' | 'kid', name: string) =>
      lineChartSvg([{ name, x: measured.map((m) => m.step), y: measured.map((m) => m[key]!) }], { title: name, xLabel: 'step', yLabel: name, integerTicks: true });
    writeFileAtomic(join(dir, 'kid.svg'), chart('kid', 'KID'));
    writeFileAtomic(join(dir, 'fid.svg'), chart('fid', 'FID'));
    const last = measured.at(-1)!;
    blocks.push(
      { kind: 'heading', text: 'FID and KID over training' },
      { kind: 'text', text: `At each checkpoint: ${r.qualitySamples ?? ''} generated images (fixed z) against as many real training images, in the features of the dataset's classifier; lower is closer. Last (step ${last.step}): KID ${last.kid!.toFixed(4)}, FID ${last.fid!.toFixed(2)}. Small samples bias FID upwards: compare checkpoints of this run, not these numbers with \`advx gan evaluate\`'s.` },
      { kind: 'image', src: 'kid.svg', caption: 'KID (unbiased MMD² of the features) at each checkpoint' },
      { kind: 'image', src: 'fid.svg', caption: 'FID at each checkpoint' },
    );
  }
  if (r.samples.length) {
    blocks.push({ kind: 'heading', text: 'Samples' });
    // At most 6 grids: the last one and others spread over the run.
    const pick = r.samples.length <= 6 ? r.samples : [...Array.from({ length: 5 }, (_, k) => r.samples[Math.floor((k * (r.samples.length - 1)) / 5)]), r.samples.at(-1)!];
    for (const s of pick) blocks.push({ kind: 'image', src: s.src, caption: `samples after step ${s.step} (fixed z)` });
    if (r.real) blocks.push({ kind: 'image', src: r.real, caption: 'real training images, laid out as the samples' });
  }
  if (r.interpolation) blocks.push({ kind: 'heading', text: 'Latent interpolation' }, { kind: 'image', src: r.interpolation, caption: 'each row: slerp between two random latent vectors' });
  writeFileAtomic(join(dir, 'report.html'), renderReport(r.title, blocks));
}
