/**
 * Runs an attack over a slice of a dataset in batches and writes what a person wants to look at:
 * per-example original / perturbation / adversarial PNGs, a grid, examples.jsonl and results.json.
 * When a served model stops answering mid-run, the batches finished are written (results.json with
 * `partial`) before the ServiceError goes on.
 *
 * A batch is a block (core/shards.ts) attacked with the run's seed: its results do not depend on
 * the other blocks, so shard i of N (`shard`) attacks the blocks b with b mod N = i, writes their
 * records and per-example PNGs (named by the example's index) but no grid, and attack-merge.ts
 * joins the shards into the unsharded run's files through the same summary.
 */
import * as tf from '@tensorflow/tfjs-core';
import { readFileSync } from 'node:fs';
import { ATTACKS, checkAccess, checkAttackRequest, type AttackDescriptor, type AttackGoal, type AttackOptions, type AttackResult, type BlackBoxModel } from '../../attacks/index.ts';
import { survival } from '../../attacks/eot.ts';
import { hashSeed } from '../../core/rng.ts';
import { Classifier } from '../../models/classifier.ts';
import type { ImageDataset } from '../../data/types.ts';
import { gatherBatch } from '../../data/batch.ts';
import { shardBlocks, type Shard } from '../../core/shards.ts';
import { AdvxError, ServiceError } from '../../core/errors.ts';
import { decodePng, encodePng } from '../io/png.ts';
import { writeFileAtomic } from '../io/files.ts';
import { canRenderPng, svgToPng } from '../io/svg-png.ts';
import { escapeHtml } from '../../report/html.ts';
import { writeResults as writeRunResults } from './results.ts';
import { openRunFolder, type RunPaths } from './folder.ts';
import { writeExamples } from './shards.ts';
import type { OnProgress } from '../io/progress.ts';

export interface AttackRunOptions extends AttackOptions {
  attack: string;
  /** Target class for a targeted attack; omitted = untargeted. */
  target?: number;
  batchSize?: number;
  /** Write per-example PNGs for the first this many examples. */
  images?: number;
  /** Also write each adversarial example magnified this many times (nearest neighbour) for printing. */
  printScale?: number;
  /** Attack only this shard's blocks of `batchSize` examples. */
  shard?: Shard;
  /**
   * Told the examples done (of this shard's) before the first block and after each, and within a
   * block, as the attack reports its iterations (onStep), a fractional count: the examples before
   * the block plus the block's size × the attack's share of its steps done.
   */
  onProgress?: OnProgress;
}

export interface ExampleResult {
  index: number;
  label: number;
  target?: number;
  clean_prediction: number;
  clean_confidence: number;
  adversarial_prediction: number;
  adversarial_confidence: number;
  success: boolean;
  linf: number;
  l2: number;
  queries?: number;
  /** EOT: the share of fresh random transformations (EOT_SURVIVAL_TRIALS) under which the adversarial example still meets the goal. */
  survival?: number;
}

/** EOT's survival is measured on this many random transformations per example, drawn afresh (not those the attack optimised over). */
export const EOT_SURVIVAL_TRIALS = 100;

export interface AttackRunSummary {
  attack: string;
  eps: number;
  norm: string;
  targeted: boolean;
  count: number;
  clean_accuracy: number;
  adversarial_accuracy: number;
  /** Among examples the model got right (untargeted) or all (targeted): share where the goal was met. */
  success_rate: number;
  mean_linf: number;
  mean_l2: number;
  /** EOT: the mean survival over the successful examples (those fooling the model untransformed); absent for other attacks. */
  survival_rate?: number;
  iterations: number;
  seconds: number;
  /** With a shard: which one (its figures are over its own examples). */
  shard?: Shard;
  /** Set when the model stopped answering: `count` examples (the first ones) of `planned` were finished. */
  partial?: { error: string; planned: number };
  examples: ExampleResult[];
}

/**
 * `out`: where to write the images and results.json — a run folder (or a sub-folder of one) opened
 * by the caller, or a path, opened here as an `attack` run folder (see runs/folder.ts).
 */
export async function runAttack(classifier: Classifier | BlackBoxModel, data: ImageDataset, options: AttackRunOptions, out?: string | RunPaths): Promise<AttackRunSummary> {
  if (typeof out !== 'string') return attackInto(classifier, data, options, out);
  const run = openRunFolder(out, { command: 'attack' });
  try {
    return await attackInto(classifier, data, options, run);
  } finally {
    run.release();
  }
}

/** How the run sees its model: the attack on it, and its probabilities to re-check the result with. */
interface Attacked {
  attack(x: tf.Tensor, goal: AttackGoal, options: AttackOptions): Promise<AttackResult>;
  probabilities(x: tf.Tensor): Promise<Float32Array>;
}

/**
 * A Classifier takes any attack; a black box only those its access allows, and is re-checked by
 * asking it again (queries beyond the attack's budget). Through its labels only, its answer is
 * one-hot, so the confidences reported are 1.
 */
function attacked(model: Classifier | BlackBoxModel, d: AttackDescriptor): Attacked {
  if (model instanceof Classifier) {
    return { attack: (x, g, o) => d.run(model, x, g, o), probabilities: (x) => readAndDispose(model.probabilities(x)) };
  }
  checkAccess(d, model.access, 'the remote model');
  const k = model.info.numClasses;
  return {
    attack: (x, g, o) => d.runBlackBox!(model, x, g, o),
    probabilities: async (x) => {
      if (model.access === 'score') return readAndDispose(await model.scores(x));
      const labels = await model.label(x);
      const p = new Float32Array(labels.length * k);
      labels.forEach((l, i) => (p[i * k + l] = 1));
      return p;
    },
  };
}

async function readAndDispose(t: tf.Tensor): Promise<Float32Array> {
  const values = (await t.data()) as Float32Array;
  t.dispose();
  return values;
}

async function attackInto(classifier: Classifier | BlackBoxModel, data: ImageDataset, runOptions: AttackRunOptions, outDir?: RunPaths): Promise<AttackRunSummary> {
  const { onProgress, ...options } = runOptions; // the attacks see the options without the callback
  const model = attacked(classifier, checkAttackRequest(options.attack, { norm: options.norm, targeted: options.target !== undefined }));
  const k = classifier.info.numClasses;
  if (options.target !== undefined && !(Number.isInteger(options.target) && options.target >= 0 && options.target < k)) {
    throw new AdvxError(`--target must be a class index in [0, ${k - 1}], got ${options.target}`);
  }
  if (data.count === 0) throw new AdvxError('no examples to attack');
  const batchSize = options.batchSize ?? 128;
  const [h, w, c] = data.shape;
  const size = h * w * c;
  const keepImages = Math.min(options.images ?? 0, data.count);
  const cleanPixels = new Float32Array(keepImages * size);
  const advPixels = new Float32Array(keepImages * size);
  const examples: ExampleResult[] = [];
  let iterations = 0;
  const start = performance.now();
  const blocks = shardBlocks(data.count, batchSize, options.shard);
  const total = blocks.reduce((n, block) => n + Math.min(batchSize, data.count - block * batchSize), 0);
  onProgress?.(0, total);
  try {
    for (const block of blocks) {
      const b = block * batchSize;
      const idx = Array.from({ length: Math.min(batchSize, data.count - b) }, (_, i) => b + i);
      const { x, y } = gatherBatch(data, idx);
      const labels = await y.data();
      const targeted = options.target !== undefined;
      const goalLabels = targeted ? tf.fill([idx.length], options.target!, 'int32') as tf.Tensor1D : y;
      const before = examples.length;
      // Within the block: the attack's iterations move the count on by a share of the block.
      const onStep = onProgress && ((step: number, steps: number) => steps > 0 && onProgress(before + (idx.length * Math.min(step, steps)) / steps, total));
      const result = await model.attack(x, { labels: goalLabels, targeted }, onStep ? { ...options, onStep } : options);
      iterations = Math.max(iterations, result.iterations);
      const cp = await model.probabilities(x);
      const ap = await model.probabilities(result.adversarial);
      // EOT: does it keep fooling under transformations it was not optimised on? A stream of its own, seeded apart from the attack's.
      const survived = options.attack === 'eot' && classifier instanceof Classifier
        ? await survival(classifier, result.adversarial, { labels: goalLabels, targeted }, EOT_SURVIVAL_TRIALS, undefined, hashSeed(`${options.seed ?? 0}/eot-survival`))
        : undefined;
      for (let i = 0; i < idx.length; i++) {
        const argmax = (p: Float32Array | Int32Array | Uint8Array, row: number) => {
          let best = 0;
          for (let j = 1; j < k; j++) if (p[row * k + j] > p[row * k + best]) best = j;
          return best;
        };
        const cpred = argmax(cp, i);
        const apred = argmax(ap, i);
        examples.push({
          index: idx[i],
          label: labels[i],
          ...(targeted ? { target: options.target } : {}),
          clean_prediction: cpred,
          clean_confidence: cp[i * k + cpred],
          adversarial_prediction: apred,
          adversarial_confidence: ap[i * k + apred],
          success: result.success[i],
          linf: result.linf[i],
          l2: result.l2[i],
          // A black-box attack's count of the images it asked the model about (re-checks not included).
          ...(result.queries ? { queries: result.queries[i] } : {}),
          ...(survived ? { survival: survived[i] } : {}),
        });
      }
      const firstKept = Math.max(0, Math.min(idx.length, keepImages - b)); // the pixels of examples b … b + firstKept − 1
      if (firstKept > 0) {
        cleanPixels.set((await x.data()).subarray(0, firstKept * size), b * size);
        advPixels.set((await result.adversarial.data()).subarray(0, firstKept * size), b * size);
      }
      tf.dispose([x, y, goalLabels, result.adversarial]);
      onProgress?.(examples.length, total);
    }
  } catch (e) {
    if (!(e instanceof ServiceError)) throw e;
    const summary = summarizeAttack(examples, options, iterations, (performance.now() - start) / 1000, { error: e.message, planned: data.count });
    e.partial = summary;
    if (outDir) writeAttackResults(outDir, summary, cleanPixels, advPixels, keepImages, data, options);
    throw e;
  }
  const summary = { ...summarizeAttack(examples, options, iterations, (performance.now() - start) / 1000), ...(options.shard ? { shard: options.shard } : {}) };
  if (outDir) writeAttackResults(outDir, summary, cleanPixels, advPixels, keepImages, data, options);
  return summary;
}

/** examples.jsonl, results.json, the examples' PNGs (of those with index < keep) and, unless a shard, the grid. */
function writeAttackResults(outDir: RunPaths, summary: AttackRunSummary, clean: Float32Array, adv: Float32Array, keep: number, data: ImageDataset, options: AttackRunOptions): void {
  const files = writeAttackImages(outDir, summary, clean, adv, keep, data, options.eps, options.printScale);
  if (!options.shard) writeAttackGrid(outDir, files, summary.examples.filter((e) => e.index < keep), (e) => perturbationScale(e, summary.attack, summary.eps), data.classNames);
  writeExamples(outDir.dir, summary.examples);
  writeAttackResultsFile(outDir.dir, summary, data.classNames);
}

/** results.json: the summary, the class names (for merge's report) and the per-example records. */
export function writeAttackResultsFile(dir: string, summary: AttackRunSummary, classNames: string[]): void {
  const { examples, ...numbers } = summary;
  writeRunResults(dir, 'attack', numbers, { classes: classNames, examples });
}

/**
 * The run's numbers from its per-example records (in index order): the one summary of the
 * unsharded run and of merge, so they agree by construction. `iterations` (the most any block
 * took) and `seconds` are the run's, not the records'.
 */
export function summarizeAttack(examples: ExampleResult[], options: Pick<AttackRunOptions, 'attack' | 'eps' | 'norm' | 'target'>, iterations: number, seconds: number, partial?: AttackRunSummary['partial']): AttackRunSummary {
  const targeted = options.target !== undefined;
  // Untargeted: success among correctly classified inputs. Targeted: among inputs not already of the target class.
  const eligible = examples.filter((e) => (targeted ? e.label !== options.target : e.clean_prediction === e.label));
  const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);
  const summary: AttackRunSummary = {
    attack: options.attack,
    eps: options.eps,
    norm: options.norm ?? 'linf',
    targeted,
    count: examples.length,
    clean_accuracy: mean(examples.map((e) => (e.clean_prediction === e.label ? 1 : 0))),
    adversarial_accuracy: mean(examples.map((e) => (e.adversarial_prediction === e.label ? 1 : 0))),
    success_rate: mean(eligible.map((e) => (e.success ? 1 : 0))),
    mean_linf: mean(eligible.map((e) => e.linf)),
    mean_l2: mean(eligible.map((e) => e.l2)),
    ...(examples.some((e) => e.survival !== undefined) ? { survival_rate: mean(eligible.filter((e) => e.success && e.survival !== undefined).map((e) => e.survival!)) } : {}),
    iterations,
    seconds,
    ...(partial ? { partial } : {}),
    examples,
  };
  return summary;
}

/** Diverging colour map for a perturbation scaled to [-1, 1]: blue (−), white (0), red (+). */
export function divergingColors(delta: Float32Array, scale: number, channels: number): Float32Array {
  const n = delta.length / channels;
  const rgb = new Float32Array(n * 3);
  for (let i = 0; i < n; i++) {
    let v = 0;
    for (let ch = 0; ch < channels; ch++) v += delta[i * channels + ch];
    v = Math.max(-1, Math.min(1, v / channels / (scale || 1)));
    rgb[i * 3] = v < 0 ? 1 + v : 1;
    rgb[i * 3 + 1] = 1 - Math.abs(v);
    rgb[i * 3 + 2] = v > 0 ? 1 - v : 1;
  }
  return rgb;
}

function toRgb(pixels: Float32Array, channels: number): Float32Array {
  if (channels === 3) return pixels;
  const rgb = new Float32Array((pixels.length / channels) * 3);
  for (let i = 0; i < pixels.length; i++) rgb.fill(pixels[i], i * 3, i * 3 + 3);
  return rgb;
}

/** The PNGs of one example, named by its index (so a shard names them as the whole run does). */
export function exampleFiles(e: ExampleResult, classNames: string[], printScale?: number): { original: string; perturbation: string; adversarial: string; print?: string } {
  const name = (i: number) => classNames[i] ?? String(i);
  const tag = `${String(e.index).padStart(4, '0')}`;
  return {
    original: `examples/${tag}-original-${name(e.label)}-${(e.clean_confidence * 100).toFixed(0)}pct.png`,
    perturbation: `examples/${tag}-perturbation.png`,
    adversarial: `examples/${tag}-adversarial-${name(e.adversarial_prediction)}-${(e.adversarial_confidence * 100).toFixed(0)}pct.png`,
    ...(printScale && printScale > 1 ? { print: `print/${tag}-adversarial-x${printScale}.png` } : {}),
  };
}

const fileList = (f: ReturnType<typeof exampleFiles>) => Object.values(f).filter((x): x is string => x !== undefined);

/**
 * The PNGs of the examples with index < n (those of this run's blocks; `clean` and `adv` hold the
 * pixels of examples 0 … n − 1 at their index); returns their files in index order.
 */
function writeAttackImages(out: RunPaths, s: AttackRunSummary, clean: Float32Array, adv: Float32Array, n: number, data: ImageDataset, eps: number, printScale?: number): ReturnType<typeof exampleFiles>[] {
  // Remove the images an earlier attack run wrote here, so that they cannot mix in: only those its
  // run folder records, never a file of someone else's.
  out.removeRecorded('examples');
  out.removeRecorded('print');
  out.removeRecorded('grid.png');
  const kept = s.examples.filter((e) => e.index < n);
  const size = data.shape[0] * data.shape[1] * data.shape[2];
  const files = kept.map((e) => exampleFiles(e, data.classNames, printScale));
  // Recorded before they are written, so that a run killed half-way leaves nothing unrecorded.
  out.record(files.flatMap(fileList));
  kept.forEach((e, k) => {
    const a = clean.subarray(e.index * size, (e.index + 1) * size);
    const b = adv.subarray(e.index * size, (e.index + 1) * size);
    writeExamplePngs(out, files[k], a, b, data.shape, perturbationScale(e, s.attack, eps), printScale);
  });
  return files;
}

/**
 * One example's PNGs (`files`, recorded by the caller): original `a`, its perturbation b − a
 * (colours saturating at ±`scale`) and adversarial `b`, and the magnified print if `files` has one.
 */
export function writeExamplePngs(out: RunPaths, f: ReturnType<typeof exampleFiles>, a: Float32Array, b: Float32Array, shape: [number, number, number], scale: number, printScale?: number): void {
  const [h, w, c] = shape;
  const delta = b.map((v, j) => v - a[j]);
  // One row per example: original | perturbation (amplified to ±scale) | adversarial.
  const parts = [toRgb(a, c), divergingColors(delta, scale, c), toRgb(b, c)];
  writeFileAtomic(out.path(f.original), encodePng(parts[0], w, h, 3));
  writeFileAtomic(out.path(f.perturbation), encodePng(parts[1], w, h, 3));
  writeFileAtomic(out.path(f.adversarial), encodePng(parts[2], w, h, 3));
  if (f.print && printScale) {
    // Nearest-neighbour magnification keeps every perturbed pixel a crisp square on paper.
    const big = magnify(parts[2], w, h, 3, printScale);
    writeFileAtomic(out.path(f.print), encodePng(big, w * printScale, h * printScale, 3));
  }
}

/**
 * What the perturbation PNG's colours saturate at: ε for a fixed-ε attack; for a minimal-norm
 * attack (ε is no budget for it) the example's own L∞, so that each perturbation found shows.
 */
export function perturbationScale(e: ExampleResult, attack: string, eps: number): number {
  return ATTACKS[attack]?.budget === 'minimal-norm' && e.linf > 0 ? e.linf : eps;
}

/** The perturbation's amplification as printed under it: "×10" for colours saturating at 0.1. */
export function amplification(scale: number): string {
  if (!(scale > 0)) return '×1';
  const k = 1 / scale;
  return `×${k >= 10 ? Math.round(k) : Number(k.toPrecision(2))}`;
}

/**
 * The label papers put on an adversarial example: "7 (99%) → 8 (100%)", the clean prediction and
 * its confidence, then the adversarial one (class names where the dataset has them); where the
 * clean prediction is already wrong, the true class after it.
 */
export function exampleCaption(e: ExampleResult, classNames: string[]): string {
  const name = (i: number) => classNames[i] ?? String(i);
  const p = (v: number) => `${Math.round(100 * v)}%`;
  const truth = e.clean_prediction === e.label ? '' : ` [true ${name(e.label)}]`;
  return `${name(e.clean_prediction)} (${p(e.clean_confidence)})${truth} → ${name(e.adversarial_prediction)} (${p(e.adversarial_confidence)})`;
}

/** Nearest-neighbour enlargement for the grid: about 112 px a side (4× for 28-px digits, 3× for 32 px). */
export function gridZoom(h: number): number {
  return Math.max(1, Math.floor(112 / h));
}

const GRID = { cols: 4, gap: 2, margin: 12, top: 22, bottom: 18 } as const;
/** Above this many pixels the grid is enlarged less (to no enlargement) and, past it still, left unlabelled. */
export const MAX_GRID_PIXELS = 40_000_000;

/**
 * grid.png, four triplets a row, from the examples' PNGs as written (`examples`: their records, in the same order): the unsharded run and merge
 * (which has only the shards' PNGs and records) compose it alike, so their grids are the same file.
 * Each image enlarged (nearest neighbour, gridZoom); above each triplet its label (exampleCaption),
 * under the perturbation its amplification. The labels are text, drawn with resvg and DejaVu Sans
 * where those optional packages are installed; without them (or past MAX_GRID_PIXELS) the grid has
 * the same layout, unlabelled (report.html carries the labels as captions either way).
 */
export function writeAttackGrid(out: RunPaths, files: ReturnType<typeof exampleFiles>[], examples: ExampleResult[], scaleOf: (e: ExampleResult) => number, classNames: string[]): void {
  if (!files.length) return;
  out.record(['grid.png']);
  const images = files.flatMap((f) => [f.original, f.perturbation, f.adversarial]).map((f) => decodePng(readFileSync(out.path(f))));
  const { width: w0, height: h0 } = images[0];
  const cols = Math.min(files.length, GRID.cols);
  const rows = Math.ceil(files.length / cols);
  const size = (z: number) => {
    const cellW = 3 * w0 * z + 2 * GRID.gap;
    return { cellW, cellH: GRID.top + h0 * z + GRID.bottom, width: GRID.margin + cols * (cellW + GRID.margin), height: rows * (GRID.top + h0 * z + GRID.bottom) + GRID.margin };
  };
  // Many examples: less enlargement, down to none, so that the grid stays a picture one can open.
  let z = gridZoom(h0);
  while (z > 1 && size(z).width * size(z).height > MAX_GRID_PIXELS) z--;
  const [w, h] = [w0 * z, h0 * z];
  const { cellW, cellH, width, height } = size(z);
  const pixels = new Float32Array(width * height * 3).fill(1);
  const labels: string[] = [];
  files.forEach((_, k) => {
    const x0 = GRID.margin + (k % cols) * (cellW + GRID.margin);
    const y0 = Math.floor(k / cols) * cellH + GRID.top;
    for (let j = 0; j < 3; j++) {
      const big = magnify(images[3 * k + j].pixels, w0, h0, 3, z);
      const xj = x0 + j * (w + GRID.gap);
      for (let y = 0; y < h; y++) pixels.set(big.subarray(y * w * 3, (y + 1) * w * 3), ((y0 + y) * width + xj) * 3);
    }
    const e = examples[k];
    const color = e.success ? '#b00000' : '#333333';
    labels.push(`<text x="${x0 + cellW / 2}" y="${y0 - 7}" text-anchor="middle" font-size="12" fill="${color}">${escapeHtml(exampleCaption(e, classNames))}</text>`);
    labels.push(`<text x="${x0 + w + GRID.gap + w / 2}" y="${y0 + h + 13}" text-anchor="middle" font-size="11" fill="#555555">${amplification(scaleOf(e))}</text>`);
  });
  const png = encodePng(pixels, width, height, 3);
  if (!canRenderPng() || width * height > MAX_GRID_PIXELS) {
    writeFileAtomic(out.path('grid.png'), png);
    return;
  }
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="DejaVu Sans, sans-serif">`
    + `<image x="0" y="0" width="${width}" height="${height}" image-rendering="optimizeSpeed" xlink:href="data:image/png;base64,${png.toString('base64')}"/>${labels.join('')}</svg>`;
  writeFileAtomic(out.path('grid.png'), svgToPng(svg, 1));
}

/** Each pixel becomes a k×k block. */
export function magnify(pixels: Float32Array, w: number, h: number, c: number, k: number): Float32Array {
  const out = new Float32Array(w * k * h * k * c);
  for (let y = 0; y < h * k; y++) {
    for (let x = 0; x < w * k; x++) {
      const src = ((Math.floor(y / k) * w + Math.floor(x / k)) * c);
      out.set(pixels.subarray(src, src + c), (y * w * k + x) * c);
    }
  }
  return out;
}
