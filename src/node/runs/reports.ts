/**
 * report.html for the CLI commands `attack`, `robustness`, `transfer` and `train`: one
 * self-contained page per run folder (no scripts, no network; pictures embedded as data: URIs,
 * so the file opens from disk, copied anywhere). Written atomically, next to the run's JSON.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ATTACKS } from '../../attacks/index.ts';
import type { EpochInfo } from '../../train/fit.ts';
import { SUITES, type ExampleRecord, type RobustnessReport } from '../../eval/robustness.ts';
import type { TransferMatrix } from '../../eval/transfer.ts';
import { renderReport, type Block } from '../../report/html.ts';
import { histogramSvg, lineChartSvg, type Series } from '../../report/plot.ts';
import { amplification, EOT_SURVIVAL_TRIALS, exampleCaption, exampleFiles, perturbationScale, type AttackRunSummary, type ExampleResult } from './attack.ts';
import { writeFileAtomic } from '../io/files.ts';

export const REPORT_FILE = 'report.html';
/** The per-example table lists at most this many rows (results.json has them all). */
export const MAX_EXAMPLE_ROWS = 200;
/** The report shows at most this many examples as labelled triplets (grid.png and examples/ have them all). */
export const MAX_FIGURES = 32;
/** The robustness report pictures the correctly classified inputs among the first this many. */
export const ROBUSTNESS_FIGURES = 8;

const normName = (n: string): string => (n === 'l2' ? 'L2' : 'L∞');

/** Linear-interpolation quantile (q in [0, 1]) of ascending `sorted`. */
export function quantile(sorted: number[], q: number): number {
  if (!sorted.length) return NaN;
  const pos = (sorted.length - 1) * q;
  const i = Math.floor(pos);
  return i + 1 < sorted.length ? sorted[i] + (pos - i) * (sorted[i + 1] - sorted[i]) : sorted[i];
}

/**
 * What the attack's budget is, as the report's title and first line say it: "ε = 0.3 (L∞)" for a
 * fixed-ε attack; for a minimal-norm one (ε is no budget for it) "minimal L2 perturbation".
 */
export function attackBudget(s: Pick<AttackRunSummary, 'attack' | 'eps' | 'norm'>): { title: string; text: string; minimal: boolean } {
  const d = ATTACKS[s.attack];
  if (d?.budget !== 'minimal-norm') return { title: `ε = ${s.eps}`, text: `ε = ${s.eps} (${normName(s.norm)})`, minimal: false };
  const own = d.norms.includes(s.norm as 'linf' | 'l2') ? s.norm : d.norms[0];
  return {
    title: `minimal ${normName(own)} perturbation`,
    text: `minimal ${normName(own)} perturbation (no ε budget: success is meeting the goal with the smallest perturbation the attack found, whatever its size, and the norms are those found; advx robustness counts it at ε = ${s.eps} only where, projected onto the ε-ball, it still fools)`,
    minimal: true,
  };
}

/**
 * The queries block of a black-box attack's report: mean and median, quantiles, a histogram. The
 * robustness report has one per black-box attack (`title`), over its runs on each input at each ε.
 */
function queryBlocks(examples: Pick<ExampleResult, 'queries' | 'success'>[], title = 'Queries', per = 'example'): Block[] {
  const all = examples.filter((e) => e.queries !== undefined);
  if (!all.length) return [];
  const row = (name: string, xs: typeof examples) => {
    const q = xs.map((e) => e.queries!).sort((a, b) => a - b);
    const mean = q.length ? q.reduce((a, b) => a + b, 0) / q.length : NaN;
    const f = (v: number) => (Number.isFinite(v) ? (Number.isInteger(v) ? String(v) : v.toFixed(1)) : '–');
    return [name, q.length, f(mean), f(q[0] ?? NaN), f(quantile(q, 0.25)), f(quantile(q, 0.5)), f(quantile(q, 0.75)), f(quantile(q, 0.9)), f(q.at(-1) ?? NaN)];
  };
  const sorted = all.map((e) => e.queries!).sort((a, b) => a - b);
  const mean = sorted.reduce((a, b) => a + b, 0) / sorted.length;
  const ok = all.filter((e) => e.success);
  return [
    { kind: 'heading', text: title },
    { kind: 'text', text: `Queries to the model per ${per} (the attack's own, re-checks not included): mean ${mean.toFixed(1)}, median ${quantile(sorted, 0.5)} over ${all.length} ${per}s${ok.length ? `; mean ${(ok.reduce((a, e) => a + e.queries!, 0) / ok.length).toFixed(1)} over the ${ok.length} successful` : ''}.` },
    { kind: 'table', columns: [`${per}s`, 'n', 'mean', 'min', '25%', 'median', '75%', '90%', 'max'], rows: [row('all', all), row('successful', ok), row('failed', all.filter((e) => !e.success))] },
    { kind: 'image', src: svgDataUri(histogramSvg(sorted, { title: `${title} per ${per}`, xLabel: 'queries', bins: 12 })), caption: `Histogram of the queries each ${per} took` },
  ];
}

/**
 * The first examples whose PNGs the run wrote, as labelled triplets (the labels grid.png carries,
 * here as HTML); `scaleOf` is what an example's perturbation colours saturate at, `note` an addition to its caption.
 */
function figureBlocks(dir: string, examples: ExampleResult[], classNames: string[], scaleOf: (e: ExampleResult) => number, note: (e: ExampleResult) => string = () => ''): Block[] {
  const items: Extract<Block, { kind: 'figures' }>['items'] = [];
  for (const e of examples) {
    if (items.length >= MAX_FIGURES) break;
    const f = exampleFiles(e, classNames);
    const paths = [f.original, f.perturbation, f.adversarial].map((p) => join(dir, p));
    if (!paths.every((p) => existsSync(p))) continue;
    const [a, d, b] = paths.map((p) => pngDataUri(readFileSync(p)));
    items.push({
      images: [
        { src: a, alt: `original ${e.index}`, note: 'original' },
        { src: d, alt: `perturbation ${e.index}`, note: `perturbation ${amplification(scaleOf(e))}` },
        { src: b, alt: `adversarial ${e.index}`, note: 'adversarial' },
      ],
      caption: `#${e.index}: ${exampleCaption(e, classNames)}${e.success ? '' : ' (not fooled)'}${note(e)}`,
    });
  }
  return items.length ? [{ kind: 'figures', items }] : [];
}

export const pct = (v: number): string => (Number.isFinite(v) ? `${(100 * v).toFixed(1)}%` : '–');
const fixed = (v: number, digits = 4): string => (Number.isFinite(v) ? v.toFixed(digits) : '–');

export function svgDataUri(svg: string): string {
  return `data:image/svg+xml;base64,${Buffer.from(svg, 'utf8').toString('base64')}`;
}

export function pngDataUri(png: Uint8Array): string {
  return `data:image/png;base64,${Buffer.from(png).toString('base64')}`;
}

function commandLine(): string {
  return `Command: advx ${process.argv.slice(2).join(' ')}`;
}

export function writeAttackReport(dir: string, s: AttackRunSummary, options: { model: string; data: string; grid?: Uint8Array; classNames?: string[] }): void {
  const name = (k: number) => {
    const n = options.classNames?.[k];
    return n && n !== String(k) ? `${k} (${n})` : String(k);
  };
  const budget = attackBudget(s);
  const blocks: Block[] = [
    {
      kind: 'text',
      text: `${s.attack}, ${budget.text}${s.targeted ? `, targeted at class ${s.examples[0]?.target ?? '?'}` : ', untargeted'}, on the first ${s.count} ${options.data} test images; model ${options.model}.`,
    },
    ...(s.partial ? [{ kind: 'text' as const, text: `⚠ Partial: the model stopped answering after ${s.count} of ${s.partial.planned} images (${s.partial.error}).` }] : []),
    {
      kind: 'table',
      columns: ['images', 'clean accuracy', 'adversarial accuracy', 'success rate', 'mean L∞', 'mean L2', 'iterations', 'seconds'],
      rows: [[s.count, pct(s.clean_accuracy), pct(s.adversarial_accuracy), pct(s.success_rate), fixed(s.mean_linf), fixed(s.mean_l2), s.iterations, fixed(s.seconds, 1)]],
    },
    {
      kind: 'text',
      text: s.targeted
        ? 'Success rate: share of the images not already of the target class that the attack moved to it. Mean norms over those images.'
        : 'Success rate: share of the correctly classified images that the attack made the model misclassify. Mean norms over those images.',
    },
  ];
  if (s.survival_rate !== undefined) {
    const fooled = s.examples.filter((e) => e.success && e.survival !== undefined);
    blocks.push(
      { kind: 'heading', text: 'Survival under transformations' },
      {
        kind: 'text',
        text: `Survival rate ${pct(s.survival_rate)}: the share of ${EOT_SURVIVAL_TRIALS} random transformations per example (rotation, scaling, translation, lighting, noise; drawn afresh, not those the attack optimised over) under which the adversarial example still ${s.targeted ? 'reaches the target' : 'fools the model'}, averaged over the ${fooled.length} successful examples.`,
      },
      ...(fooled.length > 1 ? [{ kind: 'image' as const, src: svgDataUri(histogramSvg(fooled.map((e) => e.survival!), { title: 'Survival per successful example', xLabel: 'share of transformations still fooling', bins: 10 })), caption: 'Histogram of the survival of each successful adversarial example' }] : []),
    );
  }
  if (options.grid) {
    blocks.push(
      { kind: 'heading', text: 'Examples' },
      {
        kind: 'image',
        src: pngDataUri(options.grid),
        caption: `Each triplet: original | perturbation (blue −, red +, amplified ${budget.minimal ? "to its own L∞, the factor under it" : `${amplification(s.eps)}, to ±ε`}) | adversarial example; above it, clean prediction (confidence) → adversarial prediction (confidence)`,
      },
      ...figureBlocks(dir, s.examples, options.classNames ?? [], (e) => perturbationScale(e, s.attack, s.eps)),
    );
  }
  blocks.push(...queryBlocks(s.examples));
  const hasQueries = s.examples.some((e) => e.queries !== undefined);
  const hasSurvival = s.examples.some((e) => e.survival !== undefined);
  const rows = s.examples.slice(0, MAX_EXAMPLE_ROWS).map((e) => [
    e.index,
    name(e.label),
    ...(s.targeted ? [name(e.target ?? -1)] : []),
    `${name(e.clean_prediction)} (${pct(e.clean_confidence)})`,
    `${name(e.adversarial_prediction)} (${pct(e.adversarial_confidence)})`,
    e.success ? 'yes' : 'no',
    fixed(e.linf),
    fixed(e.l2),
    ...(hasQueries ? [e.queries ?? '–'] : []),
    ...(hasSurvival ? [e.survival !== undefined ? pct(e.survival) : '–'] : []),
  ]);
  blocks.push(
    { kind: 'heading', text: 'Per example' },
    { kind: 'table', columns: ['index', 'label', ...(s.targeted ? ['target'] : []), 'clean prediction', 'adversarial prediction', 'success', 'L∞', 'L2', ...(hasQueries ? ['queries'] : []), ...(hasSurvival ? ['survival'] : [])], rows },
  );
  if (s.examples.length > MAX_EXAMPLE_ROWS) blocks.push({ kind: 'text', text: `The first ${MAX_EXAMPLE_ROWS} of ${s.examples.length} examples; results.json holds them all.` });
  blocks.push({ kind: 'text', text: commandLine() });
  writeFileAtomic(join(dir, REPORT_FILE), renderReport(`advx attack: ${s.attack}, ${budget.title}`, blocks));
}

export function writeRobustnessReport(
  dir: string,
  r: RobustnessReport,
  options: { model: string; data: string; attacks: string[]; curveSvg: string; cascadeSvg?: string; examples?: ExampleRecord[]; figures?: (ExampleResult & { attack: string; at_eps: number })[]; classNames?: string[]; grid?: Uint8Array },
): void {
  const norm = r.norm === 'l2' ? 'L2' : 'L∞';
  const cascade = r.mode === 'cascade';
  const blocks: Block[] = [
    { kind: 'text', text: `Model ${options.model} on the first ${r.count} ${options.data} test images: clean accuracy ${pct(r.clean_accuracy)}.${r.suite ? ` Suite: ${SUITES[r.suite].title}.` : ''}` },
    ...(r.partial ? [{ kind: 'text' as const, text: `⚠ Partial: the model stopped answering after ${r.count} of ${r.partial.planned} images (${r.partial.error}). The same command run again goes on from there: the blocks done are kept.` }] : []),
    {
      kind: 'text',
      text: cascade
        ? 'Each attack ran only on the inputs every earlier attack failed on; a column gives the robust accuracy after that attack and all before it. Every counted adversarial example was re-classified and its norm and bounds checked.'
        : 'Each attack ran on every correctly classified input; a column gives that attack\'s own robust accuracy. Every counted adversarial example was re-classified and its norm and bounds checked.',
    },
    { kind: 'image', src: svgDataUri(options.curveSvg), caption: `Robust accuracy against ε (${norm}) per attack${options.attacks.length > 1 ? ', and the per-example worst case over the attacks' : ''}` },
    {
      kind: 'table',
      columns: [`ε (${norm})`, ...options.attacks, ...(options.attacks.length > 1 ? ['worst case'] : [])],
      rows: r.eps.map((e) => [String(e), ...options.attacks.map((a) => pct(r.per_attack[a][String(e)])), ...(options.attacks.length > 1 ? [pct(r.robust_accuracy[String(e)])] : [])]),
    },
    { kind: 'heading', text: 'The attacks in the order they ran' },
    {
      kind: 'table',
      columns: ['#', 'attack', 'access', 'budget', 'norm', ...r.eps.map((e) => `ε ${e}: attacked → broken`), 'seconds'],
      rows: r.attacks.map((a, i) => [String(i + 1), a.name, a.access, a.budget === 'minimal-norm' ? 'minimal norm (projected onto the ε-ball)' : 'fixed ε', a.norm === 'l2' ? 'L2' : 'L∞', ...r.eps.map((e) => `${a.attacked[String(e)]} → ${a.broken[String(e)]}`), fixed(a.seconds, 1)]),
    },
    ...(options.cascadeSvg ? [{ kind: 'image' as const, src: svgDataUri(options.cascadeSvg), caption: 'Robust accuracy after each attack of the cascade, per ε' }] : []),
    {
      kind: 'text',
      text: `${Number.isNaN(r.zero_gradient_share) ? 'A served model: no gradients, no gradient checks' : `Share of correctly classified inputs whose loss gradient is exactly zero: ${pct(r.zero_gradient_share)}`}. ${r.seconds.toFixed(1)} s.`,
    },
  ];
  if (r.warnings.length) blocks.push({ kind: 'heading', text: 'Warnings (possible gradient masking or a weak attack)' }, ...r.warnings.map((w) => ({ kind: 'text' as const, text: `⚠ ${w}` })));
  const figures = options.figures ?? [];
  if (options.grid && figures.length) {
    const at = new Map(figures.map((f) => [f.index, f]));
    blocks.push(
      { kind: 'heading', text: 'Examples' },
      {
        kind: 'image',
        src: pngDataUri(options.grid),
        caption: `The correctly classified inputs among the first ${ROBUSTNESS_FIGURES} (${figures.length}), each with the first adversarial example that broke it (the smallest ε, the first attack there) or, never broken, the last one tried. Each triplet: original | perturbation (blue −, red +, amplified to ±ε, or to its own L∞ for a minimal-norm attack; the factor under it) | adversarial example; above it, clean prediction (confidence) → adversarial prediction (confidence)`,
      },
      ...figureBlocks(dir, figures, options.classNames ?? [], (e) => perturbationScale(e, at.get(e.index)!.attack, at.get(e.index)!.at_eps), (e) => `, ${at.get(e.index)!.attack} at ε ${at.get(e.index)!.at_eps}`),
    );
  }
  // One queries block per black-box attack: its runs on each input at each ε.
  for (const a of r.attacks) {
    const runs = (options.examples ?? []).flatMap((e) => Object.values(e.attacks[a.name] ?? {}).flatMap((o) => (o.queries !== undefined ? [{ queries: o.queries, success: o.broken }] : [])));
    blocks.push(...queryBlocks(runs, `Queries: ${a.name}`, 'run'));
  }
  blocks.push({ kind: 'text', text: commandLine() });
  writeFileAtomic(join(dir, REPORT_FILE), renderReport(`advx robustness: ${options.attacks.join(', ')}`, blocks));
}

export function writeTransferReport(dir: string, m: TransferMatrix, options: { data: string; count: number; attack: string; eps: number; norm: string }): void {
  const label = (i: number) => `[${i + 1}]`;
  const blocks: Block[] = [
    {
      kind: 'text',
      text: `${options.attack}, ε = ${options.eps} (${options.norm === 'l2' ? 'L2' : 'L∞'}), run white-box on each source model over the first ${options.count} ${options.data} test images. Each cell: the share of the examples both models classify correctly that the source's adversarial examples make the target misclassify (the diagonal is the white-box success rate).`,
    },
    { kind: 'table', columns: ['model', 'path', 'clean accuracy'], rows: m.names.map((n, i) => [label(i), n, pct(m.accuracy[i])]) },
    { kind: 'heading', text: `Transfer matrix (rows: source, columns: target${m.sources.length < m.names.length ? '; served models are targets only' : ''})` },
    { kind: 'table', columns: ['source \\ target', ...m.names.map((_, i) => label(i))], rows: m.rates.map((row, i) => [label(m.sources[i]), ...row.map((v, j) => `${pct(v)} (n = ${m.counts[i][j]})`)]) },
    { kind: 'text', text: commandLine() },
  ];
  writeFileAtomic(join(dir, REPORT_FILE), renderReport(`advx transfer: ${options.attack}, ε = ${options.eps}`, blocks));
}

export function writeTrainReport(dir: string, history: Array<EpochInfo & { test_accuracy: number }>, config: Record<string, unknown>): void {
  const epochs = history.map((h) => h.epoch);
  const series = (name: string, key: 'loss' | 'accuracy' | 'test_accuracy', dashed = false): Series => ({ name, x: epochs, y: history.map((h) => h[key]), dashed });
  const blocks: Block[] = [
    { kind: 'text', text: `Model ${String(config.model)} on ${String(config.data)}${config.limit ? ` (first ${String(config.limit)} training images)` : ''}; batch ${String(config.batch)}, learning rate ${String(config.lr)}${config.adv ? `, adversarial training ${String(config.adv)}` : ''}. ${history.length} epochs.` },
  ];
  if (history.length) {
    const last = history.at(-1)!;
    blocks.push({ kind: 'text', text: `Final test accuracy ${pct(last.test_accuracy)} after epoch ${last.epoch}.` });
    blocks.push(
      { kind: 'image', src: svgDataUri(lineChartSvg([series('training loss', 'loss')], { title: 'Training loss per epoch', xLabel: 'epoch', yLabel: 'cross-entropy', integerTicks: true })), caption: 'Mean training loss per epoch' },
      {
        kind: 'image',
        src: svgDataUri(lineChartSvg([series('train accuracy', 'accuracy', true), series('test accuracy', 'test_accuracy')], { title: 'Accuracy per epoch', xLabel: 'epoch', yLabel: 'accuracy', yDomain: [0, 1], integerTicks: true })),
        caption: 'Training accuracy (on the training batches, dashed) and test accuracy per epoch',
      },
      { kind: 'table', columns: ['epoch', 'loss', 'train accuracy', 'test accuracy', 'learning rate', 'seconds'], rows: history.map((h) => [h.epoch, fixed(h.loss), pct(h.accuracy), pct(h.test_accuracy), String(h.learningRate), fixed(h.seconds, 1)]) },
    );
  } else {
    blocks.push({ kind: 'text', text: 'No epoch has finished yet.' });
  }
  blocks.push({ kind: 'text', text: 'From metrics.jsonl; config.json holds every option of the run.' }, { kind: 'text', text: commandLine() });
  writeFileAtomic(join(dir, REPORT_FILE), renderReport(`advx train: ${String(config.model)} on ${String(config.data)}`, blocks));
}
