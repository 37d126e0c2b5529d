/**
 * The report of a domain adaptation run: how far apart the domains' features are (proxy
 * A-distance, PCA and t-SNE pictures of source vs target test images), the learning curves, the
 * accuracies, and the same pictures of a baseline run for a before/after view. Written next to
 * the run's model as embedding.json, *.svg, summary.json and report.html.
 */
import type * as tf from '@tensorflow/tfjs-core';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AdvxError } from '../../core/errors.ts';
import { domainSeparability } from '../../da/a-distance.ts';
import { featureMatrix } from '../../da/evaluate.ts';
import type { ImageDataset } from '../../data/types.ts';
import { pca2, tsne2 } from '../../eval/embedding.ts';
import { renderReport, type Block } from '../../report/html.ts';
import { lineChartSvg, type Series } from '../../report/plot.ts';
import { COLORS } from '../../report/charts.ts';
import { scatterPanelsSvg, scatterSvg, type LegendKey, type ScatterGroup } from '../../report/scatter.ts';
import { writeFileAtomic } from '../io/files.ts';
import { encodePng, imageGrid } from '../io/png.ts';
import { readResults, RESULTS_FILE, writeResults } from './results.ts';

export interface AdaptSummary {
  method: string;
  source: string;
  target: string;
  lambda?: number;
  source_accuracy: number;
  target_accuracy: number;
  a_distance: number;
  domain_classifier_accuracy: number;
  /** Test accuracy per class (NaN: no test image of it), in each domain. */
  per_class_accuracy?: { source: number[]; target: number[] };
  /** finetune: the same of the pretrained network, before fine-tuning (when its head is kept). */
  per_class_accuracy_before?: { source: number[]; target: number[] };
  /** λ selection by SND: one entry per λ tried. */
  lambda_selection?: Array<{ lambda: number; snd: number; target_accuracy: number }>;
}

/** Points of one run's embeddings: n source then n target test images. */
export interface Embedding {
  n: number;
  labels: number[];
  pca: number[];
  tsne?: number[];
}

export interface EpochRecord {
  epoch: number;
  phase: string;
  [key: string]: number | string | null;
}


/** A-distance and 2-D embeddings of the first `count` test images of each domain. */
export async function measureFeatures(
  features: (x: tf.Tensor) => tf.Tensor,
  source: ImageDataset,
  target: ImageDataset,
  options: { count: number; seed: number; tsne: boolean },
): Promise<{ aDistance: number; domainAccuracy: number; embedding: Embedding }> {
  const n = Math.min(options.count, source.count, target.count);
  if (n < 2) throw new AdvxError(`the report needs at least 2 test images per domain, got ${n}`);
  const sep = await domainSeparability(features, source, target, { seed: options.seed, count: n });
  const both = [await featureMatrix(features, source, n), await featureMatrix(features, target, n)];
  const dim = both[0].length / n;
  const all = new Float32Array(2 * n * dim);
  all.set(both[0]);
  all.set(both[1], n * dim);
  const labels = [...source.labels.subarray(0, n), ...target.labels.subarray(0, n)];
  const embedding: Embedding = { n, labels, pca: [...pca2(all, 2 * n, dim)] };
  // t-SNE needs n ≥ 3·perplexity + 1: small runs get a smaller perplexity.
  if (options.tsne) embedding.tsne = [...tsne2(all, 2 * n, dim, { seed: options.seed, perplexity: Math.min(30, Math.floor((2 * n - 1) / 3)) })];
  return { aDistance: sep.aDistance, domainAccuracy: sep.accuracy, embedding };
}

/**
 * Points coloured by class, the domain as marker shape (● source, ✕ target): whether features of
 * one class lie together across domains is what adaptation is for. The legend names the classes
 * once and the two shapes.
 */
function domainGroups(labels: number[], n: number, source: string, target: string): { groups: ScatterGroup[]; keys: LegendKey[] } {
  const classes = [...new Set(labels)].sort((a, b) => a - b);
  const groups: ScatterGroup[] = [];
  for (const [domain, marker] of [[0, 'circle'], [1, 'cross']] as const) {
    for (const c of classes) {
      const indices = labels.flatMap((l, i) => (l === c && (i < n) === (domain === 0) ? [i] : []));
      groups.push({ label: domain === 0 ? `class ${c}` : `class ${c} (target)`, color: COLORS[c % COLORS.length], indices, marker, legend: domain === 0 });
    }
  }
  const keys: LegendKey[] = [
    { label: `source (${source})`, color: '#222', marker: 'circle' },
    { label: `target (${target})`, color: '#222', marker: 'cross' },
  ];
  return { groups, keys };
}

function domainPicture(e: Embedding, points: number[], title: string, source: string, target: string): string {
  const { groups, keys } = domainGroups(e.labels, e.n, source, target);
  return scatterSvg(Float32Array.from(points), groups, { title, keys });
}

/** What each fine-tuning phase of metrics.jsonl trains, as its curve is named. */
const FINETUNE_PHASES: Record<string, string> = {
  'finetune-head': 'fine-tune, head only: labelled target train accuracy',
  'finetune-all': 'fine-tune, whole network: labelled target train accuracy',
};

/**
 * The accuracies per epoch. A finetune run's phases (source-only training, then fine-tuning the
 * head, then the whole network) are separate series, so the epoch where each starts shows.
 */
function curves(history: EpochRecord[]): string {
  const series = (phase: string, key: string, name: string, dashed = false): Series | undefined => {
    const rows = history.filter((h) => h.phase === phase && typeof h[key] === 'number' && Number.isFinite(h[key]));
    return rows.length ? { name, x: rows.map((h) => h.epoch), y: rows.map((h) => h[key] as number), dashed } : undefined;
  };
  const tuned = history.some((h) => h.phase in FINETUNE_PHASES);
  const first = tuned ? 'source-only: ' : '';
  const all = [
    series('train', 'source_accuracy', `${first}source test accuracy`),
    series('train', 'target_accuracy', `${first}target test accuracy`),
    series('train', 'label_accuracy', `${first}source train accuracy`, true),
    series('train', 'domain_accuracy', 'domain head accuracy', true),
    ...Object.entries(FINETUNE_PHASES).map(([phase, name]) => series(phase, 'label_accuracy', name)),
  ].filter((s): s is Series => s !== undefined);
  return lineChartSvg(all, { title: 'Learning curves', xLabel: 'epoch', yLabel: 'accuracy', yDomain: [0, 1], integerTicks: true });
}

/** Source and target test images shown side by side in the report. */
const SAMPLE_IMAGES = 16;

function imagesPng(d: ImageDataset, n: number): Buffer {
  const [h, w, c] = d.shape;
  const grid = imageGrid(d.images.subarray(0, n * h * w * c), n, h, w, c, 8);
  return encodePng(grid.pixels, grid.width, grid.height, grid.channels as 1 | 3);
}

/**
 * Test accuracy per class in each domain, before and after adaptation: before is the pretrained
 * network (finetune) or the --baseline run, where they were measured.
 */
function perClassBlocks(summary: AdaptSummary, baseline?: { dir: string; summary: AdaptSummary }): Block[] {
  const after = summary.per_class_accuracy;
  if (!after) return [];
  const before = summary.per_class_accuracy_before ?? baseline?.summary.per_class_accuracy;
  const who = summary.per_class_accuracy_before ? 'before fine-tuning' : `baseline (${baseline?.summary.method})`;
  // A class without test images is NaN here, null once read back from a baseline's results.json.
  const known = (v: number | null | undefined): v is number => typeof v === 'number' && Number.isFinite(v);
  const pct = (v: number | undefined) => (known(v) ? `${(100 * v).toFixed(1)}%` : '–');
  const change = (a: number | undefined, b: number) => (known(a) && known(b) ? `${b >= a ? '+' : ''}${(100 * (b - a)).toFixed(1)}` : '–');
  const rows = after.target.map((_, k) => [
    String(k),
    ...(before ? [pct(before.source[k])] : []),
    pct(after.source[k]),
    ...(before ? [pct(before.target[k])] : []),
    pct(after.target[k]),
    ...(before ? [change(before.target[k], after.target[k])] : []),
  ]);
  const columns = before
    ? ['class', `source, ${who}`, `source, ${summary.method}`, `target, ${who}`, `target, ${summary.method}`, 'target change (points)']
    : ['class', 'source test accuracy', 'target test accuracy'];
  return [{ kind: 'heading', text: 'Accuracy per class' }, { kind: 'table', columns, rows }];
}

/**
 * Reads a baseline run's results (results.json's summary; summary.json for runs from before it) and
 * embedding.json; AdvxError if it is not a finished adapt run.
 */
export function readBaseline(dir: string): { summary: AdaptSummary; embedding: Embedding } {
  const results = readResults(dir);
  const legacy = join(dir, 'summary.json');
  const embeddingFile = join(dir, 'embedding.json');
  if (results && results.command !== 'adapt') throw new AdvxError(`--baseline ${dir} is a run of \`advx ${results.command}\`, not of \`advx adapt\``);
  if (!results && !existsSync(legacy)) throw new AdvxError(`--baseline ${dir} is not a finished \`advx adapt\` run folder: ${join(dir, RESULTS_FILE)} is missing`);
  if (!existsSync(embeddingFile)) throw new AdvxError(`--baseline ${dir} is not a finished \`advx adapt\` run folder: ${embeddingFile} is missing`);
  try {
    const summary = (results?.summary ?? JSON.parse(readFileSync(legacy, 'utf8'))) as AdaptSummary;
    return { summary, embedding: JSON.parse(readFileSync(embeddingFile, 'utf8')) };
  } catch (e) {
    throw new AdvxError(`--baseline ${dir}: cannot read its summary (${(e as Error).message})`);
  }
}

/** Writes results.json, embedding.json, the SVG pictures and report.html into `dir`. */
export function writeAdaptReport(
  dir: string,
  run: { summary: AdaptSummary; embedding: Embedding; history: EpochRecord[]; command: string; source?: ImageDataset; target?: ImageDataset },
  baseline?: { dir: string; summary: AdaptSummary; embedding: Embedding },
): void {
  const { summary, embedding } = run;
  writeResults(dir, 'adapt', summary);
  writeFileAtomic(join(dir, 'embedding.json'), JSON.stringify(embedding));
  writeFileAtomic(join(dir, 'curves.svg'), curves(run.history));
  const pictures: Array<{ file: string; caption: string }> = [];
  const draw = (e: Embedding, prefix: string, who: string) => {
    for (const kind of ['pca', 'tsne'] as const) {
      const points = e[kind];
      if (!points) continue;
      const file = `${prefix}${kind}.svg`;
      const title = `${kind === 'pca' ? 'PCA' : 't-SNE'} of the features, ${who}`;
      writeFileAtomic(join(dir, file), domainPicture(e, points, title, summary.source, summary.target));
      pictures.push({ file, caption: `${title}: ${e.n} source and ${e.n} target test images` });
    }
  };
  if (baseline) draw(baseline.embedding, 'baseline-', `baseline (${baseline.summary.method})`);
  draw(embedding, '', summary.method);
  // With a baseline, each embedding also side by side (before | after), on the report.
  const pairs: Array<{ file: string; caption: string }> = [];
  for (const kind of baseline ? (['pca', 'tsne'] as const) : []) {
    const [before, after] = [baseline!.embedding[kind], embedding[kind]];
    if (!before || !after || baseline!.embedding.n !== embedding.n || baseline!.embedding.labels.join() !== embedding.labels.join()) continue;
    const { groups, keys } = domainGroups(embedding.labels, embedding.n, summary.source, summary.target);
    const name = kind === 'pca' ? 'PCA' : 't-SNE';
    const file = `before-after-${kind}.svg`;
    writeFileAtomic(join(dir, file), scatterPanelsSvg(
      [{ title: `before: baseline (${baseline!.summary.method})`, points: Float32Array.from(before) }, { title: `after: ${summary.method}`, points: Float32Array.from(after) }],
      groups, { title: `${name} of the features: colour is the class, shape the domain`, keys },
    ));
    pairs.push({ file, caption: `${name} of the features before (baseline) and after (${summary.method}) adaptation: ${embedding.n} source (●) and ${embedding.n} target (✕) test images, coloured by class` });
  }
  const row = (s: AdaptSummary, who: string) => [who, s.method, s.source_accuracy, s.target_accuracy, s.a_distance];
  const blocks: Block[] = [
    { kind: 'text', text: `${summary.source} → ${summary.target}. Target labels are used only to measure accuracy${summary.method === 'finetune' ? ', and for the few labelled images fine-tuning trains on' : ''}.` },
    { kind: 'table', columns: ['run', 'method', 'source test accuracy', 'target test accuracy', 'proxy A-distance'], rows: [...(baseline ? [row(baseline.summary, `baseline (${baseline.dir})`)] : []), row(summary, 'this run')] },
    { kind: 'text', text: 'Proxy A-distance 2(1 − 2ε) of a linear domain classifier on the features (0: the domains look alike, 2: fully separable).' },
  ];
  if (summary.lambda_selection) {
    blocks.push(
      { kind: 'heading', text: 'λ chosen by soft neighbourhood density (no target labels)' },
      { kind: 'table', columns: ['λ', 'SND (higher is chosen)', 'target test accuracy (not used to choose)'], rows: summary.lambda_selection.map((s) => [s.lambda, s.snd, s.target_accuracy]) },
    );
  }
  blocks.push(...perClassBlocks(summary, baseline));
  if (run.source && run.target) {
    const n = Math.min(SAMPLE_IMAGES, run.source.count, run.target.count);
    writeFileAtomic(join(dir, 'source-images.png'), imagesPng(run.source, n));
    writeFileAtomic(join(dir, 'target-images.png'), imagesPng(run.target, n));
    blocks.push(
      { kind: 'heading', text: 'The two domains' },
      { kind: 'image', src: 'source-images.png', caption: `the first ${n} ${summary.source} test images (source)` },
      { kind: 'image', src: 'target-images.png', caption: `the first ${n} ${summary.target} test images (target)` },
    );
  }
  const phases = summary.method === 'finetune' ? ': source-only training, then fine-tuning (head only, then the whole network) on the labelled target images, each its own series' : '';
  blocks.push({ kind: 'heading', text: 'Training' }, { kind: 'image', src: 'curves.svg', caption: `Accuracies per epoch${phases}` });
  const shown = pairs.length ? pairs : pictures;
  blocks.push({ kind: 'heading', text: 'Features of the two domains' }, ...shown.map((p) => ({ kind: 'image' as const, src: p.file, caption: p.caption })));
  blocks.push({ kind: 'text', text: `Command: ${run.command}` });
  writeFileAtomic(join(dir, 'report.html'), renderReport(`advx adapt: ${summary.method}, ${summary.source} → ${summary.target}`, blocks));
}
