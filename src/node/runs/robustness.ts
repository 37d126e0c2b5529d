/**
 * A run of `advx robustness`: a model (on disk or served) against several attacks over a range of
 * ε on a dataset's test images, with config.json, examples.jsonl (the per-example records),
 * results.json, the curves and report.html in its run folder. With a shard (shards.ts), only
 * config.json, examples.jsonl and the shard's own results.json; `advx merge` writes the rest from
 * the records of all shards, through the same summary and the same writers.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ServiceError } from '../../core/errors.ts';
import { toTensors } from '../../data/types.ts';
import { evaluateRobustnessExamples, robustnessSetup, summarizeRobustness, type ExampleRecord, type RobustnessOutcome, type RobustnessReport, type SuiteName } from '../../eval/robustness.ts';
import { isRemoteModel, RemoteModel } from '../../models/remote.ts';
import { lineChartSvg } from '../../report/plot.ts';
import { writeFileAtomic } from '../io/files.ts';
import { progress, type Progress } from '../io/progress.ts';
import { canRenderPng, svgToPng } from '../io/svg-png.ts';
import type { RunFolder } from './folder.ts';
import { loadModelAndData, loadRemoteAndData, type RemoteFlags } from './inputs.ts';
import { writeRobustnessReport } from './reports.ts';
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

/** The report with the endpoint's use and the labels note: the line --json prints. */
export type RobustnessSummary = RobustnessReport & { endpoint?: EndpointUse; labels?: 'model predictions'; shard?: Shard };

/**
 * Loads the model and data (the backend started), evaluates, and writes into `run` when there is
 * one. When a served model stops answering, the ε values finished are written, marked partial,
 * before the ServiceError goes on.
 */
export async function runRobustness(o: RobustnessRunOptions, run?: RunFolder): Promise<RobustnessSummary> {
  const { classifier, data, labelsNote } = isRemoteModel(o.model) ? await loadRemoteAndData(o.model, o, o.data, 'test', o.limit) : await loadModelAndData(o.model, o.data, 'test', o.limit);
  const endpoint = () => (classifier instanceof RemoteModel ? { endpoint: { url: o.model, protocol: o.protocol, access: classifier.access, queries: classifier.queries, requests: classifier.requests } } : {});
  const { x, y } = toTensors(data);
  if (run) writeShardConfig(run.dir, o, IDENTITY);
  let bar: Progress | undefined;
  const { report, examples } = await evaluateRobustnessExamples(classifier, x, y, {
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
    // Progress goes to stderr, also with --json: stdout keeps only the JSON line.
    onProgress: (p) => {
      if (p.done === 0) {
        bar?.stop();
        bar = progress(`${p.attack} ε=${p.eps} (${p.total} inputs)`, p.total, o.quiet);
      }
      bar?.update(p.done, {});
    },
  }).catch((e) => {
    bar?.stop();
    if (e instanceof ServiceError && e.partial && run) {
      const partial = e.partial as RobustnessOutcome;
      writeExamples(run.dir, partial.examples);
      writeResults(run, o, { ...partial.report, ...endpoint(), ...labelsNote });
    }
    throw e;
  });
  bar?.stop();
  tf.dispose([x, y]);
  // Said before the files are written, so that a failure there still leaves them on stderr.
  for (const w of report.warnings) process.stderr.write(`warning: ${w}\n`);
  const summary: RobustnessSummary = { ...report, ...endpoint(), ...labelsNote, ...(o.shard ? { shard: o.shard } : {}) };
  if (run) writeRunFiles(run, o, summary, examples);
  return summary;
}

/**
 * `advx merge` for robustness runs: the records of all the shards in `dirs` (checked to be the
 * shards of one run) summarised as the unsharded run does, and its files written into the run
 * folder `openRun` opens:
 * the same config.json, examples.jsonl and results.json, but for the seconds, which are the sums
 * over the shards (time spent, not time waited), and the endpoint's use, also summed.
 */
export function mergeRobustness(dirs: string[], openRun: () => RunFolder): RobustnessSummary {
  const { shards, config, examples, seconds } = readShards<ExampleRecord>(dirs, 'robustness');
  const run = openRun(); // after the checks: a refused merge leaves no folder behind
  const o = config as unknown as RobustnessRunOptions;
  const summaries = shards.map((s) => s.results.summary as unknown as RobustnessSummary);
  const setup = robustnessSetup({ attacks: o.suite ? undefined : o.attacks, suite: o.suite, eps: o.eps, norm: o.norm, cascade: !o.fullTable }, isRemoteModel(o.model));
  const sum = (f: (s: RobustnessSummary) => number) => summaries.reduce((t, s) => t + f(s), 0);
  const report = summarizeRobustness(examples, setup, { total: seconds, attacks: setup.attacks.map((_, i) => sum((s) => s.attacks[i].seconds)) });
  const endpoints = summaries.flatMap((s) => (s.endpoint ? [s.endpoint] : []));
  const endpoint = endpoints.length ? { endpoint: { ...endpoints[0], queries: endpoints.reduce((t, e) => t + e.queries, 0), requests: endpoints.reduce((t, e) => t + e.requests, 0) } } : {};
  const summary: RobustnessSummary = { ...report, ...endpoint, ...(summaries[0].labels ? { labels: summaries[0].labels } : {}) };
  writeRunConfig(run.dir, config);
  writeRunFiles(run, o, summary, examples);
  return summary;
}

/** examples.jsonl, results.json; unless a shard, curve.svg, curve.png (where resvg and its font are installed) and report.html. */
function writeRunFiles(run: RunFolder, o: RobustnessRunOptions, report: RobustnessSummary, examples: ExampleRecord[]): void {
  writeExamples(run.dir, examples);
  if (o.shard) {
    writeResults(run, o, report);
    return;
  }
  const { attacks, eps } = o;
  const series = [
    ...attacks.map((a) => ({ name: a, x: eps, y: eps.map((e) => report.per_attack[a][String(e)]) })),
    ...(attacks.length > 1 ? [{ name: 'worst case', x: eps, y: eps.map((e) => report.robust_accuracy[String(e)]), dashed: true }] : []),
  ];
  const svg = lineChartSvg(series, { title: `Robust accuracy, ${report.count} ${o.data} test images`, xLabel: `ε (${o.norm === 'linf' ? 'L∞' : 'L2'})`, yLabel: 'accuracy', yDomain: [0, 1] });
  writeResults(run, o, report);
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
  writeRobustnessReport(run.dir, report, { model: o.model, data: o.data, attacks, curveSvg: svg, cascadeSvg });
}

/** results.json: the report (the line --json prints) with the model and data, `partial` when a served model stopped answering. */
function writeResults(run: RunFolder, o: RobustnessRunOptions, report: object): void {
  writeRunResults(run.dir, 'robustness', { model: o.model, data: o.data, ...report });
}
