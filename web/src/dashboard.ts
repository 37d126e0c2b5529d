/**
 * The runs dashboard: the run folders under `advx lab --runs`, their metrics.jsonl curves and
 * each kind's own picture (a robustness or demo run's accuracy against ε, a sweep's result against its swept flag), drawn from the same
 * chart option as the CLI's reports but live (hover, zoom, smoothing, log axes); config, images
 * and report.html; tick several runs to compare their curves.
 */
import type { ChartOptions, Series } from '../../src/report/plot.ts';
import { highlightHtml, HIGHLIGHT_CSS, originalHtml } from '../../src/text/highlight.ts';
import type { Segment, TextEdit } from '../../src/text/edit.ts';
import { lineChartFigure } from './chart-view.ts';
import { clearError, errorMessage, fetchJson, h, showError } from './ui.ts';

interface RunListItem {
  name: string;
  /** The advx command that made the run (train, adapt, gan train, attack, robustness, …). */
  command: string | null;
  config: Record<string, unknown> | null;
  /** results.json's summary: what the run found. */
  summary: Record<string, unknown> | null;
  lines: number;
  last: Record<string, unknown> | null;
  warnings: string[];
  modified: number;
  hasReport: boolean;
}

interface RunDetail {
  name: string;
  command: string | null;
  config: Record<string, unknown> | null;
  summary: Record<string, unknown> | null;
  /** results.json's class names, where the run wrote them (a text attack). */
  classes: string[] | null;
  metrics: Record<string, unknown>[];
  warnings: string[];
  files: string[];
}

const X_KEYS = ['epoch', 'step', 'iteration', 'iter'];
const IMAGE = /\.(png|jpe?g|gif|webp|svg)$/i;

export function runUrl(name: string, file: string): string {
  const enc = (p: string) => p.split('/').map(encodeURIComponent).join('/');
  return `runs/${enc(name)}/${enc(file)}`;
}

function fmt(v: unknown): string {
  if (typeof v !== 'number') return v === undefined || v === null ? '' : String(v);
  if (Number.isInteger(v)) return String(v);
  return Math.abs(v) >= 100 ? v.toFixed(1) : v.toPrecision(4);
}

/** The x axis of a run's metrics: the first of epoch/step/… every row has, else the line number. */
function xKey(rows: Record<string, unknown>[]): string | null {
  return X_KEYS.find((k) => rows.length > 0 && rows.every((r) => typeof r[k] === 'number')) ?? null;
}

/** A chart to draw: its title (the figure's data-chart), series and options. */
export interface ChartSpec {
  title: string;
  series: Series[];
  options: ChartOptions;
}

/** Charts for the metrics of `runs`: all accuracies in one, all losses in one, every other numeric key alone. */
export function metricCharts(runs: RunDetail[]): ChartSpec[] {
  const groups = new Map<string, Array<{ run: string; key: string; x: number[]; y: number[] }>>();
  let xLabel = 'line';
  for (const run of runs) {
    const xk = xKey(run.metrics);
    if (xk) xLabel = xk;
    const keys = new Set<string>();
    for (const r of run.metrics) for (const [k, v] of Object.entries(r)) if (typeof v === 'number' && Number.isFinite(v) && k !== xk) keys.add(k);
    for (const key of keys) {
      const x: number[] = [];
      const y: number[] = [];
      run.metrics.forEach((r, i) => {
        const v = r[key];
        if (typeof v === 'number' && Number.isFinite(v)) {
          x.push(xk ? (r[xk] as number) : i + 1);
          y.push(v);
        }
      });
      if (!x.length) continue;
      const group = /acc/i.test(key) ? 'accuracy' : /loss/i.test(key) ? 'loss' : key;
      if (!groups.has(group)) groups.set(group, []);
      groups.get(group)!.push({ run: run.name, key, x, y });
    }
  }
  const order = (g: string) => (g === 'accuracy' ? 0 : g === 'loss' ? 1 : 2);
  return [...groups.entries()]
    .sort((a, b) => order(a[0]) - order(b[0]) || a[0].localeCompare(b[0]))
    .map(([group, items]) => {
      // Training-set curves are dashed where the same run also has a held-out (test/val) curve here.
      const heldOut = (run: string) => items.some((o) => o.run === run && /^(test|val)/i.test(o.key));
      const series: Series[] = items.map((it) => ({
        name: runs.length > 1 ? (items.some((o) => o.key !== it.key) ? `${it.run} · ${it.key}` : it.run) : it.key,
        x: it.x,
        y: it.y,
        dashed: !/^(test|val)/i.test(it.key) && heldOut(it.run),
      }));
      // A constant curve (a fixed learning rate, say) gets a range around its value, so it has ticks.
      const ys = series.flatMap((s) => s.y);
      const [lo, hi] = [Math.min(...ys), Math.max(...ys)];
      const pad = Math.abs(lo) * 0.1 || 1;
      const yDomain: [number, number] | undefined = lo === hi ? [lo - pad, hi + pad] : undefined;
      return { title: group, series, options: { title: group, xLabel, yLabel: group, width: 560, height: 320, yDomain } };
    });
}

/** The numbers of a results summary worth a glance: accuracies, rates and losses. */
function headline(summary: Record<string, unknown> | null): string {
  if (!summary) return '';
  return Object.entries(summary)
    .filter(([k, v]) => typeof v === 'number' && /acc|rate|loss|fid/i.test(k))
    .slice(0, 3)
    .map(([k, v]) => `${k} ${fmt(v)}`)
    .join(', ');
}

/**
 * A robustness run's curve: accuracy against ε for each attack and the worst case, from
 * results.json (per_attack and robust_accuracy map ε to accuracy). Null for other runs.
 */
export function robustnessChart(run: RunDetail): ChartSpec | null {
  const s = run.summary;
  const worst = s?.robust_accuracy as Record<string, number> | undefined;
  if (run.command !== 'robustness' || !worst || typeof worst !== 'object') return null;
  const eps = Object.keys(worst).map(Number).sort((a, b) => a - b);
  const perAttack = (s!.per_attack ?? {}) as Record<string, Record<string, number>>;
  const series: Series[] = [
    ...Object.entries(perAttack).map(([name, byEps]) => ({ name, x: eps, y: eps.map((e) => byEps[String(e)]) })),
    { name: 'worst case', x: eps, y: eps.map((e) => worst[String(e)]), dashed: true },
  ];
  const title = 'robust accuracy';
  return { title, series, options: { title, xLabel: `ε (${String(s!.norm ?? 'linf')})`, yLabel: 'accuracy', width: 560, height: 320, yDomain: [0, 1] } };
}

/**
 * A demo run's curve: accuracy against ε per attack, from results.json's results (one row per
 * attack and ε; ε = 0 is the clean accuracy). Null for other runs.
 */
export function demoChart(run: RunDetail): ChartSpec | null {
  const rows = run.summary?.results;
  if (run.command !== 'demo' || !Array.isArray(rows)) return null;
  const byAttack = new Map<string, Array<[number, number]>>();
  for (const r of rows as Array<Record<string, unknown>>) {
    if (typeof r.attack !== 'string' || typeof r.eps !== 'number' || typeof r.adversarial_accuracy !== 'number') continue;
    if (!byAttack.has(r.attack)) byAttack.set(r.attack, typeof r.clean_accuracy === 'number' ? [[0, r.clean_accuracy]] : []);
    byAttack.get(r.attack)!.push([r.eps, r.adversarial_accuracy]);
  }
  if (!byAttack.size) return null;
  const series = [...byAttack].map(([name, pts]) => {
    pts.sort((a, b) => a[0] - b[0]);
    return { name, x: pts.map((p) => p[0]), y: pts.map((p) => p[1]) };
  });
  const title = 'robust accuracy';
  return { title, series, options: { title, xLabel: 'ε (L∞)', yLabel: 'accuracy', width: 560, height: 320, yDomain: [0, 1] } };
}

/**
 * A sweep's curve: its headline result (the first accuracy, rate or loss of the points' JSON
 * lines, else the first number but the counts and seconds) against the first swept flag whose
 * values are numbers, one line per combination of the other flags; from results.json's points.
 * Null for other runs, and for sweeps with nothing numeric to put on the x axis.
 */
export function sweepChart(run: RunDetail): ChartSpec | null {
  const points = run.summary?.points;
  if (run.command !== 'sweep' || !Array.isArray(points)) return null;
  type Point = { flags: Record<string, unknown>; result: Record<string, unknown> };
  const rows = (points as Partial<Point>[]).filter((p): p is Point => typeof p.flags === 'object' && p.flags !== null && typeof p.result === 'object' && p.result !== null);
  if (rows.length < 2) return null;
  const flags = Object.keys(rows[0]!.flags);
  const xFlag = flags.find((f) => rows.every((r) => typeof r.flags[f] === 'number') && new Set(rows.map((r) => r.flags[f])).size > 1);
  const numbers = Object.keys(rows[0]!.result).filter((k) => typeof rows[0]!.result[k] === 'number');
  const metric = numbers.find((k) => /acc|rate|loss|fid|kid/i.test(k)) ?? numbers.find((k) => !/^(seconds|count)$/.test(k));
  if (!xFlag || !metric) return null;
  const others = flags.filter((f) => f !== xFlag);
  const lines = new Map<string, Array<[number, number]>>();
  for (const r of rows) {
    const y = r.result[metric];
    if (typeof y !== 'number') continue;
    const name = others.map((f) => `${f} ${String(r.flags[f])}`).join(', ') || metric;
    lines.set(name, [...(lines.get(name) ?? []), [r.flags[xFlag] as number, y]]);
  }
  const series: Series[] = [...lines].map(([name, pts]) => {
    pts.sort((a, b) => a[0] - b[0]);
    return { name, x: pts.map((p) => p[0]), y: pts.map((p) => p[1]) };
  });
  const title = `${metric} against ${xFlag}`;
  return { title, series, options: { title, xLabel: xFlag, yLabel: metric, width: 560, height: 320, ...(/acc|rate/i.test(metric) ? { yDomain: [0, 1] as [number, number] } : {}) } };
}

/** Each kind of run's own picture, then the metrics.jsonl curves of all runs shown. */
export function runCharts(details: RunDetail[]): ChartSpec[] {
  const own = details.flatMap((d) => [robustnessChart(d), demoChart(d), sweepChart(d)].filter((c): c is ChartSpec => c !== null));
  return [...own, ...metricCharts(details)];
}

export async function mountDashboard(root: HTMLElement): Promise<{ open(name: string | null): Promise<void> }> {
  const list = h('tbody');
  const summary = h('p', { class: 'hint', id: 'runs-root' }, '');
  const refreshBtn = h('button', { type: 'button', id: 'runs-refresh' }, 'Refresh');
  const detail = h('div', { id: 'run-detail' });
  root.append(
    h('h1', { id: 'runs-title' }, 'Runs'),
    h('div', { class: 'row' }, summary, refreshBtn),
    h(
      'table',
      { id: 'runs-table' },
      h('thead', {}, h('tr', {}, h('th', {}, 'compare'), h('th', {}, 'run'), h('th', {}, 'command'), h('th', {}, 'model / data'), h('th', {}, 'lines'), h('th', {}, 'last metrics / results'), h('th', {}, 'report'))),
      list,
    ),
    detail,
  );

  let runs: RunListItem[] = [];
  let current: string | null = null;
  const compared = new Set<string>();

  async function load(): Promise<void> {
    try {
      const data = await fetchJson<{ root: string; exists: boolean; runs: RunListItem[] }>('api/runs');
      runs = data.runs;
      summary.textContent = data.exists ? `${runs.length} run folder${runs.length === 1 ? '' : 's'} in ${data.root}` : `${data.root} does not exist yet: runs written there by the CLI (--out) will show here`;
    } catch (e) {
      showError(`could not list the runs: ${errorMessage(e)}`);
      runs = [];
    }
    list.replaceChildren(
      ...runs.map((r) => {
        const box = h('input', { type: 'checkbox', 'aria-label': `compare ${r.name}`, 'data-run': r.name, checked: compared.has(r.name) });
        box.addEventListener('change', () => {
          if (box.checked) compared.add(r.name);
          else compared.delete(r.name);
          void open(current ?? r.name);
        });
        const link = h('a', { href: `#/runs/${encodeURIComponent(r.name)}`, class: 'run-link', 'data-run': r.name }, r.name);
        const cfg = r.config ?? {};
        const last = r.last ? Object.entries(r.last).filter(([k, v]) => typeof v === 'number' && /acc|loss/i.test(k)).map(([k, v]) => `${k} ${fmt(v)}`).join(', ') : headline(r.summary);
        return h(
          'tr',
          { 'data-run': r.name },
          h('td', {}, box),
          h('td', {}, link, r.warnings.length ? h('span', { class: 'warn', title: r.warnings.join('\n') }, ' ⚠') : null),
          h('td', { class: 'command' }, r.command ?? ''),
          h('td', {}, [cfg.model ?? r.summary?.model, cfg.data ?? cfg.source ?? r.summary?.data].filter(Boolean).map(String).join(' / ')),
          h('td', { class: 'num' }, String(r.lines)),
          h('td', { class: 'num' }, last),
          h('td', {}, r.hasReport ? h('a', { href: runUrl(r.name, 'report.html'), target: '_blank', rel: 'noopener' }, 'report.html') : ''),
        );
      }),
    );
  }

  async function open(name: string | null): Promise<void> {
    current = name;
    for (const tr of list.querySelectorAll('tr')) tr.classList.toggle('current', tr.getAttribute('data-run') === name);
    if (!name) {
      detail.replaceChildren(h('p', { class: 'hint' }, runs.length ? 'Choose a run.' : ''));
      return;
    }
    clearError();
    const names = [name, ...[...compared].filter((n) => n !== name)];
    let details: RunDetail[];
    try {
      details = await Promise.all(names.map((n) => fetchJson<RunDetail>(`api/run?name=${encodeURIComponent(n)}`)));
    } catch (e) {
      showError(errorMessage(e));
      detail.replaceChildren();
      return;
    }
    if (current !== name) return;
    const main = details[0];
    const charts = runCharts(details);
    const chartBox = h('div', { class: 'charts', id: 'charts' });
    // ECharts draws text as text nodes, never markup: labels from run folders stay inert.
    for (const c of charts) chartBox.append(lineChartFigure(c.title, c.series, c.options));
    const textExamples = main.command === 'text-attack' && main.files.includes('examples.jsonl') ? await textExamplesSection(main.name, main.classes ?? []) : null;
    if (current !== name) return;
    const images = main.files.filter((f) => IMAGE.test(f));
    const others = main.files.filter((f) => !IMAGE.test(f));
    const warnings = details.flatMap((d) => d.warnings.map((w) => `${d.name}: ${w}`));
    const parts: Array<Node | null> = [
      h('h2', { id: 'run-title' }, details.length > 1 ? `${main.name} (compared with ${details.slice(1).map((d) => d.name).join(', ')})` : main.name),
      warnings.length ? h('div', { class: 'card warn', id: 'run-warnings', role: 'status' }, ...warnings.flatMap((w) => [w, h('br')])) : null,
      main.summary ? resultsTable(main.summary) : null,
      charts.length ? chartBox : textExamples ? null : h('p', { class: 'hint' }, 'No metrics.jsonl lines to plot.'),
      textExamples,
      main.files.includes('report.html') ? h('p', {}, h('a', { href: runUrl(main.name, 'report.html'), target: '_blank', rel: 'noopener', id: 'run-report' }, 'Open report.html')) : null,
      images.length ? h('h2', {}, 'Images') : null,
      images.length ? h('div', { class: 'files' }, ...images.map((f) => h('figure', {}, h('a', { href: runUrl(main.name, f), target: '_blank', rel: 'noopener' }, h('img', { src: runUrl(main.name, f), alt: f, loading: 'lazy' })), h('figcaption', {}, f)))) : null,
      h('details', {}, h('summary', {}, `config.json and ${others.length} other file${others.length === 1 ? '' : 's'}`), h('pre', { class: 'config' }, JSON.stringify(main.config, null, 2)), h('ul', {}, ...others.map((f) => h('li', {}, h('a', { href: runUrl(main.name, f), target: '_blank', rel: 'noopener' }, f))))),
    ];
    detail.replaceChildren(...parts.filter((p): p is Node => p !== null));
    detail.dataset.run = main.name;
    // Long messages scroll in their boxes: show each one from its first edit.
    for (const box of detail.querySelectorAll<HTMLElement>('.text-example .pair > div')) {
      const edit = box.querySelector<HTMLElement>('ins, del, mark');
      if (edit) box.scrollTop = Math.max(0, edit.offsetTop - 24);
    }
  }

  refreshBtn.addEventListener('click', async () => {
    await load();
    await open(current);
  });
  await load();
  root.dataset.ready = 'true';
  return { open };
}

/** One record of a text attack's examples.jsonl, as far as the dashboard reads it. */
interface TextExample {
  index: number;
  original: string;
  edits: TextEdit[];
  segments: Segment[];
  before: number[];
  after: number[];
  success: boolean;
}

/** How many of a text attack's examples the dashboard shows (the rest are in report.html), read from at most the file's first TEXT_BYTES. */
const TEXT_EXAMPLES = 4;
const TEXT_BYTES = 256 * 1024;

/**
 * A text attack's natural picture: its first examples, original → adversarial, the edits marked
 * as report.html marks them (src/text/highlight.ts escapes every piece of text). Null when
 * examples.jsonl cannot be read or is not a text attack's.
 */
async function textExamplesSection(run: string, classes: readonly string[]): Promise<HTMLElement | null> {
  try {
    // Only the file's start: a run over a whole test set writes megabytes of records.
    const res = await fetch(runUrl(run, 'examples.jsonl'), { headers: { Range: `bytes=0-${TEXT_BYTES - 1}` } });
    if (!res.ok) return null;
    const lines = (await res.text()).split('\n');
    if (res.status === 206) lines.pop(); // a record cut at the range's end (or the empty string after the last newline)
    const records = lines.filter(Boolean).slice(0, TEXT_EXAMPLES).map((l) => JSON.parse(l) as TextExample);
    if (!records.length) return null;
    const top = (p: number[]) => {
      const k = p.indexOf(Math.max(...p));
      return `${classes[k] ?? `class ${k}`} (${(100 * p[k]!).toFixed(0)}%)`;
    };
    const section = h('section', { id: 'run-text-examples' }, h('style', {}, HIGHLIGHT_CSS), h('h2', {}, `First ${records.length} examples`));
    for (const r of records) {
      const before = h('div', {});
      before.innerHTML = originalHtml(r.original, r.edits);
      const after = h('div', {});
      after.innerHTML = highlightHtml(r.segments);
      section.append(
        h('div', { class: 'card text-example', 'data-success': String(r.success) }, h('h4', {}, `#${r.index}: ${top(r.before)} → ${top(r.after)}${r.success ? '' : ' (not fooled)'}`), h('div', { class: 'pair' }, before, h('span', { class: 'hint' }, '→'), after)),
      );
    }
    return section;
  } catch {
    // Not what a text attack writes (hand-made or cut short): the run's files are still listed.
    return null;
  }
}

/** results.json's summary as a table of its plain values (nested ones, such as per-ε maps, are drawn or left to the file). */
function resultsTable(summary: Record<string, unknown>): HTMLElement {
  const rows = Object.entries(summary).filter(([, v]) => v === null || typeof v !== 'object');
  return h('table', { id: 'run-results', class: 'results' }, h('caption', {}, 'results.json'), ...rows.map(([k, v]) => h('tr', {}, h('th', {}, k), h('td', { class: 'num' }, fmt(v)))));
}
