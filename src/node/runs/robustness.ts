/**
 * A run of `advx robustness`: a model (on disk or served) against several attacks over a range of
 * ε on a dataset's test images, with config.json, examples.jsonl (the per-example records),
 * results.json, the curves and report.html in its run folder. With a shard (shards.ts), only
 * config.json, examples.jsonl and the shard's own results.json; `advx merge` writes the rest from
 * the records of all shards, through the same summary and the same writers.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { concatFloat32 } from '../../core/arrays.ts';
import { ServiceError } from '../../core/errors.ts';
import { toTensors } from '../../data/types.ts';
import { evaluateRobustnessExamples, robustnessSetup, summarizeRobustness, type ExampleRecord, type RobustnessBlock, type RobustnessCandidates, type RobustnessOutcome, type RobustnessReport, type SuiteName } from '../../eval/robustness.ts';
import { Classifier } from '../../models/classifier.ts';
import { isRemoteModel, RemoteModel } from '../../models/remote.ts';
import { lineChartSvg } from '../../report/plot.ts';
import { writeFileAtomic } from '../io/files.ts';
import { progress, type Progress } from '../io/progress.ts';
import { canRenderPng, svgToPng } from '../io/svg-png.ts';
import { exampleFiles, perturbationScale, writeAttackGrid, writeExamplePngs, type ExampleResult } from './attack.ts';
import type { RunFolder } from './folder.ts';
import { loadModelAndData, loadRemoteAndData, type RemoteFlags } from './inputs.ts';
import { ROBUSTNESS_FIGURES, writeRobustnessReport } from './reports.ts';
import { writeRunConfig } from './options.ts';
import { writeResults as writeRunResults } from './results.ts';
import { readShards, writeExamples, writeShardConfig, type Shard } from './shards.ts';

/** What a robustness run is made of (the options of `advx robustness`, checked). */
export interface RobustnessRunOptions extends RemoteFlags {
  model: string;
  data: string;
  limit: number;
  /** The attacks in the order they run: the suite's when there is one. */
  attacks: string[];
  suite?: SuiteName;
  /** Sorted, distinct. */
  eps: number[];
  norm: 'linf' | 'l2';
  steps?: number;
  stepSize?: number;
  queries?: number;
  restarts?: number;
  seed: number;
  batch: number;
  fullTable?: boolean;
  backend?: string;
  /** Run only this shard of the run's blocks. */
  shard?: Shard;
  /** No progress on stderr. */
  quiet?: boolean;
}

/**
 * The options that make a robustness run what it is, as config.json records them: the shards of
 * one run agree on all of them (merge checks), and none that only says how it runs (--threads,
 * --timeout, --retries) is among them.
 */
const IDENTITY = ['model', 'data', 'limit', 'attacks', 'suite', 'eps', 'norm', 'steps', 'stepSize', 'queries', 'restarts', 'seed', 'batch', 'fullTable', 'protocol', 'labelsOnly', 'outputs', 'backend'] as const;


/** What a served model answered, all told: clean predictions, the attacks' queries and the re-checks. */
export interface EndpointUse {
  url: string;
  protocol?: string;
  access: RemoteModel['access'];
  queries: number;
  requests: number;
}

/**
 * An input's picture, kept in its record (so that shards merge into the same report): the first
 * candidate that broke it (the smallest ε, the first attack there) or, never broken, the last one
 * tried (the largest ε), with the predictions and confidences the attack report labels it with.
 */
export interface RobustnessFigure extends ExampleResult {
  attack: string;
  at_eps: number;
}

type FigureRecord = ExampleRecord & { figure?: RobustnessFigure };

/** The report with the endpoint's use and the labels note: the line --json prints. */
export type RobustnessSummary = RobustnessReport & { endpoint?: EndpointUse; labels?: 'model predictions'; shard?: Shard };

/**
 * Loads the model and data (the backend started), evaluates, and writes into `run` when there is
 * one. Each block of inputs is kept in the run folder as it is done (blocks/), so that the same
 * command run again after a kill or an outage goes on from the blocks done; a finished run deletes
 * them. When a served model stops answering, the blocks finished are written as the run's files,
 * marked partial, before the ServiceError goes on.
 */
export async function runRobustness(o: RobustnessRunOptions, run?: RunFolder): Promise<RobustnessSummary> {
  const { classifier, data, labelsNote } = isRemoteModel(o.model) ? await loadRemoteAndData(o.model, o, o.data, 'test', o.limit) : await loadModelAndData(o.model, o.data, 'test', o.limit);
  const endpoint = () => (classifier instanceof RemoteModel ? { endpoint: { url: o.model, protocol: o.protocol, access: classifier.access, queries: classifier.queries, requests: classifier.requests } } : {});
  const { x, y } = toTensors(data);
  const picked = new Map<number, Picked>();
  const finished = run ? doneBlocks(run, writeShardConfig(run.dir, o, IDENTITY), picked) : new Map<number, RobustnessBlock>();
  const resumed = [...finished.values()].reduce((s, b) => s + b.examples.length, 0);
  if (finished.size && !o.quiet) process.stderr.write(`robustness: ${run!.dir} holds ${finished.size} block${finished.size > 1 ? 's' : ''} of this run done earlier (same options, model and data): going on from there\n`);
  let bar: Progress | undefined;
  // Only a model of our own: a served one's confidences would cost queries the report does not count.
  const onCandidates = run && classifier instanceof Classifier ? (c: RobustnessCandidates) => pick(picked, c) : undefined;
  const { report, examples } = await evaluateRobustnessExamples(classifier, x, y, {
    onCandidates,
    attacks: o.suite ? undefined : o.attacks,
    suite: o.suite,
    eps: o.eps,
    norm: o.norm,
    steps: o.steps,
    stepSize: o.stepSize,
    restarts: o.restarts,
    queries: o.queries,
    seed: o.seed,
    batchSize: o.batch,
    cascade: !o.fullTable,
    shard: o.shard,
    finished,
    onBlock: run ? (b) => keepBlock(run, b, picked) : undefined,
    // Progress goes to stderr, also with --json: stdout keeps only the JSON line.
    // The blocks done earlier come first (they were the first done): the bar starts after them.
    onProgress: (p) => {
      bar ??= progress(`robustness (${p.total} inputs, ${o.attacks.length} attack${o.attacks.length > 1 ? 's' : ''} × ${o.eps.length} ε)`, p.total, o.quiet, resumed);
      if (p.done >= resumed) bar.update(p.done, {});
    },
  }).catch((e) => {
    bar?.stop();
    if (e instanceof ServiceError && e.partial && run) {
      const partial = e.partial as RobustnessOutcome;
      writeRunFiles(run, o, { ...partial.report, ...endpoint(), ...labelsNote, ...(o.shard ? { shard: o.shard } : {}) }, partial.examples, data.classNames);
    }
    throw e;
  });
  bar?.stop();
  tf.dispose([x, y]);
  if (run && classifier instanceof Classifier) await writeFigures(run, classifier, data, picked, examples);
  // Said before the files are written, so that a failure there still leaves them on stderr.
  for (const w of report.warnings) process.stderr.write(`warning: ${w}\n`);
  const summary: RobustnessSummary = { ...report, ...endpoint(), ...labelsNote, ...(o.shard ? { shard: o.shard } : {}) };
  if (run) {
    writeRunFiles(run, o, summary, examples, data.classNames);
    run.removeRecorded(BLOCKS); // examples.jsonl holds them all now
  }
  return summary;
}

/**
 * A block done, as its file keeps it for a resume: the block (its records and seconds) and the
 * pictures' candidates picked among its inputs (see pick), pixels as numbers, each a float32.
 */
interface BlockFile extends RobustnessBlock {
  figures: Array<Omit<Picked, 'pixels'> & { index: number; pixels: number[] }>;
}

/** Where a run keeps its blocks as they are done (recorded, so that a rerun may delete them), until it has finished. */
const BLOCKS = 'blocks';
const blockFile = (b: number) => `${BLOCKS}/${String(b).padStart(5, '0')}.json`;

/**
 * The blocks a run folder holds from an earlier, unfinished run of the same options, model and
 * data (`same`: its config.json said exactly this), their pictures put back into `picked`. Those
 * of another run are deleted. A block file that cannot be read is run again.
 */
function doneBlocks(run: RunFolder, same: boolean, picked: Map<number, Picked>): Map<number, RobustnessBlock> {
  const found = new Map<number, RobustnessBlock>();
  if (!same) {
    run.removeRecorded(BLOCKS);
    return found;
  }
  for (const name of run.files.filter((f) => f.startsWith(`${BLOCKS}/`))) {
    let kept: BlockFile;
    try {
      kept = JSON.parse(readFileSync(run.path(name), 'utf8')) as BlockFile;
    } catch {
      continue;
    }
    if (name !== blockFile(kept.block)) continue;
    found.set(kept.block, { block: kept.block, examples: kept.examples, seconds: kept.seconds });
    for (const { index, pixels, ...f } of kept.figures) picked.set(index, { ...f, pixels: Float32Array.from(pixels) });
  }
  return found;
}

/** Writes a block just done (whole, by rename) into the run folder, with its inputs' picked candidates. */
function keepBlock(run: RunFolder, b: RobustnessBlock, picked: Map<number, Picked>): void {
  const figures = b.examples.flatMap((e) => {
    const p = picked.get(e.index);
    return p ? [{ index: e.index, attack: p.attack, eps: p.eps, broken: p.broken, pixels: Array.from(p.pixels) }] : [];
  });
  const name = blockFile(b.block);
  run.record([name]);
  writeFileAtomic(run.path(name), JSON.stringify({ ...b, figures } satisfies BlockFile));
}

/** A candidate kept for an input's picture. */
interface Picked {
  attack: string;
  eps: number;
  pixels: Float32Array;
  broken: boolean;
}

/** Keeps, per input among the first ROBUSTNESS_FIGURES, its first breaking candidate, else the latest (the passes come in ε order). */
async function pick(picked: Map<number, Picked>, c: RobustnessCandidates): Promise<void> {
  const rows = c.indices.flatMap((i, j) => (i < ROBUSTNESS_FIGURES && !picked.get(i)?.broken ? [j] : []));
  if (!rows.length) return;
  const data = (await c.adversarial.data()) as Float32Array;
  const size = data.length / c.indices.length;
  for (const j of rows) picked.set(c.indices[j], { attack: c.attack, eps: c.eps, pixels: data.slice(j * size, (j + 1) * size), broken: c.broken[j] });
}

/** The picked inputs' PNGs (examples/, named as the attack command names them) and their figures, added to their records. */
async function writeFigures(run: RunFolder, classifier: Classifier, data: { images: Float32Array; shape: [number, number, number]; classNames: string[] }, picked: Map<number, Picked>, examples: FigureRecord[]): Promise<void> {
  run.removeRecorded('examples');
  run.removeRecorded('grid.png');
  const rows = examples.filter((e) => picked.has(e.index));
  if (!rows.length) return;
  const size = data.shape[0] * data.shape[1] * data.shape[2];
  const clean = rows.map((e) => data.images.subarray(e.index * size, (e.index + 1) * size));
  const adv = rows.map((e) => picked.get(e.index)!.pixels);
  const probabilities = async (images: Float32Array[]) => {
    const t = tf.tensor(concatFloat32(images), [images.length, ...data.shape]);
    const p = classifier.probabilities(t);
    const values = (await p.data()) as Float32Array;
    tf.dispose([t, p]);
    return values;
  };
  const [cp, ap] = [await probabilities(clean), await probabilities(adv)];
  const k = classifier.info.numClasses;
  const top = (p: Float32Array, r: number) => {
    let best = 0;
    for (let j = 1; j < k; j++) if (p[r * k + j] > p[r * k + best]) best = j;
    return best;
  };
  rows.forEach((e, r) => {
    const { attack, eps, broken } = picked.get(e.index)!;
    let [linf, l2] = [0, 0];
    for (let j = 0; j < size; j++) {
      const d = adv[r][j] - clean[r][j];
      linf = Math.max(linf, Math.abs(d));
      l2 += d * d;
    }
    const [c, a] = [top(cp, r), top(ap, r)];
    e.figure = { index: e.index, label: e.label, clean_prediction: c, clean_confidence: cp[r * k + c], adversarial_prediction: a, adversarial_confidence: ap[r * k + a], success: broken, linf, l2: Math.sqrt(l2), attack, at_eps: eps };
  });
  const files = rows.map((e) => exampleFiles(e.figure!, data.classNames));
  run.record(files.flatMap((f) => [f.original, f.perturbation, f.adversarial]));
  rows.forEach((e, r) => writeExamplePngs(run, files[r], clean[r], adv[r], data.shape, figureScale(e.figure!)));
}

const figureScale = (f: RobustnessFigure): number => perturbationScale(f, f.attack, f.at_eps);

/**
 * `advx merge` for robustness runs: the records of all the shards in `dirs` (checked to be the
 * shards of one run) summarised as the unsharded run does, and its files written into the run
 * folder `openRun` opens:
 * the same config.json, examples.jsonl and results.json, but for the seconds, which are the sums
 * over the shards (time spent, not time waited), and the endpoint's use, also summed.
 */
export function mergeRobustness(dirs: string[], openRun: () => RunFolder): RobustnessSummary {
  const { shards, config, examples, seconds } = readShards<FigureRecord>(dirs, 'robustness');
  const run = openRun(); // after the checks: a refused merge leaves no folder behind
  const o = config as unknown as RobustnessRunOptions;
  const summaries = shards.map((s) => s.results.summary as unknown as RobustnessSummary);
  const setup = robustnessSetup({ attacks: o.suite ? undefined : o.attacks, suite: o.suite, eps: o.eps, norm: o.norm, cascade: !o.fullTable }, isRemoteModel(o.model));
  const sum = (f: (s: RobustnessSummary) => number) => summaries.reduce((t, s) => t + f(s), 0);
  const report = summarizeRobustness(examples, setup, { total: seconds, attacks: setup.attacks.map((_, i) => sum((s) => s.attacks[i].seconds)) });
  const endpoints = summaries.flatMap((s) => (s.endpoint ? [s.endpoint] : []));
  const endpoint = endpoints.length ? { endpoint: { ...endpoints[0], queries: endpoints.reduce((t, e) => t + e.queries, 0), requests: endpoints.reduce((t, e) => t + e.requests, 0) } } : {};
  const summary: RobustnessSummary = { ...report, ...endpoint, ...(summaries[0].labels ? { labels: summaries[0].labels } : {}) };
  const classNames = (shards[0].results.classes as string[] | undefined) ?? [];
  // The pictures' PNGs: each input's from the shard that attacked it.
  const home = new Map(shards.flatMap((s) => s.examples.map((e) => [e.index, s.dir] as const)));
  const figures = examples.flatMap((e) => (e.figure ? [e.figure] : []));
  const names = figures.flatMap((f) => Object.values(exampleFiles(f, classNames)) as string[]);
  run.record(names);
  for (const f of figures) for (const name of Object.values(exampleFiles(f, classNames)) as string[]) writeFileAtomic(run.path(name), readFileSync(join(home.get(f.index)!, name)));
  writeRunConfig(run.dir, config);
  writeRunFiles(run, o, summary, examples, classNames);
  return summary;
}

/** examples.jsonl, results.json; unless a shard, curve.svg, curve.png (where resvg and its font are installed) and report.html. */
function writeRunFiles(run: RunFolder, o: RobustnessRunOptions, report: RobustnessSummary, examples: FigureRecord[], classNames: string[]): void {
  writeExamples(run.dir, examples);
  if (o.shard) {
    writeResults(run, o, report, classNames);
    return;
  }
  // grid.png from the PNGs as written, as the attack command composes it (so merge's is the same file).
  const figures = examples.flatMap((e) => (e.figure ? [e.figure] : []));
  if (figures.length) writeAttackGrid(run, figures.map((f) => exampleFiles(f, classNames)), figures, (e) => figureScale(e as RobustnessFigure), classNames);
  const { attacks, eps } = o;
  const series = [
    ...attacks.map((a) => ({ name: a, x: eps, y: eps.map((e) => report.per_attack[a][String(e)]) })),
    ...(attacks.length > 1 ? [{ name: 'worst case', x: eps, y: eps.map((e) => report.robust_accuracy[String(e)]), dashed: true }] : []),
  ];
  const svg = lineChartSvg(series, { title: `Robust accuracy, ${report.count} ${o.data} test images`, xLabel: `ε (${o.norm === 'linf' ? 'L∞' : 'L2'})`, yLabel: 'accuracy', yDomain: [0, 1] });
  writeResults(run, o, report, classNames);
  writeFileAtomic(run.path('curve.svg'), svg);
  if (canRenderPng()) writeFileAtomic(run.path('curve.png'), svgToPng(svg));
  // The cascade at each ε: robust accuracy from clean (0) through each attack in order.
  const cascadeSvg =
    report.mode === 'cascade' && attacks.length > 1
      ? lineChartSvg(
          eps.filter((e) => e > 0).map((e) => ({ name: `ε ${e}`, x: attacks.map((_, i) => i).concat(attacks.length), y: [report.clean_accuracy, ...attacks.map((a) => report.per_attack[a][String(e)])] })),
          { title: 'Robust accuracy after each attack', xLabel: `attacks run (0 = clean; ${attacks.map((a, i) => `${i + 1} = ${a}`).join(', ')})`, yLabel: 'accuracy', yDomain: [0, 1] },
        )
      : undefined;
  writeRobustnessReport(run.dir, report, { model: o.model, data: o.data, attacks, curveSvg: svg, cascadeSvg, examples, figures, classNames, grid: figures.length ? readFileSync(run.path('grid.png')) : undefined });
}

/** results.json: the report (the line --json prints) with the model and data, `partial` when a served model stopped answering; the class names for merge's pictures. */
function writeResults(run: RunFolder, o: RobustnessRunOptions, report: object, classNames: string[]): void {
  writeRunResults(run.dir, 'robustness', { model: o.model, data: o.data, ...report }, { classes: classNames });
}
