/**
 * `npm run bench`: times the workloads of ../shared/bench/WORKLOADS.md and bench/WORKLOADS.md in advx on each available backend and, when
 * /usr/bin/python3 has torch, the PyTorch reference in the same session; prints one JSON line per
 * workload and backend and rewrites the table in BENCHMARKS.md.
 *
 *   npm run bench -- [--only cnn-train,cnn-forward] [--backends wasm,cpu] [--runs 5] [--json] [--no-write]
 */
import * as tf from '@tensorflow/tfjs-core';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { BACKENDS, parseBackend, useBackend, type BackendName } from '../src/backend/index.ts';
import { appendSection, replaceSection } from './sections.ts';
import { WORKLOADS } from './workloads.ts';
import { median } from '../src/core/arrays.ts';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const { values: args } = parseArgs({
  options: {
    only: { type: 'string' },
    backends: { type: 'string' },
    runs: { type: 'string', default: '5' },
    json: { type: 'boolean', default: false },
    'no-write': { type: 'boolean', default: false },
    torch: { type: 'string', default: join(root, '../shared/bench/torch_reference.py') },
    /** advx's own workloads (bench/WORKLOADS.md), beside the shared reference's. */
    'torch-own': { type: 'string', default: join(root, 'bench/torch_workloads.py') },
  },
});
const only = args.only ? args.only.split(',') : WORKLOADS.map((w) => w.name);
for (const name of only) if (!WORKLOADS.some((w) => w.name === name)) throw new Error(`unknown workload "${name}": ${WORKLOADS.map((w) => w.name).join(', ')}`);
const runs = Number(args.runs);
/** A backend whose single step takes longer than this is reported as skipped. */
const MAX_STEP_MS = 8000;
/** How many times MAX_STEP_MS a first step may take (worker start-up, kernel compilation). */
const WARM_UP_ALLOWANCE = 4;

interface Row {
  workload: string;
  backend: string;
  advx_ms: number | null;
  torch_ms: number | null;
  ratio: number | null;
  note?: string;
}


async function timeWorkload(name: string): Promise<{ ms: number | null; note?: string }> {
  const spec = WORKLOADS.find((w) => w.name === name)!;
  const w = spec.make(spec.batch);
  try {
    // The first step also starts the kernels' workers and fills caches, so it is allowed more time;
    // the second is the one judged.
    let t0 = performance.now();
    await w.step();
    const first = performance.now() - t0;
    if (first > WARM_UP_ALLOWANCE * MAX_STEP_MS) return { ms: null, note: `skipped: ${(first / 1000).toFixed(1)} s for the first step` };
    t0 = performance.now();
    await w.step();
    const second = performance.now() - t0;
    if (second > MAX_STEP_MS) return { ms: null, note: `skipped: ${(second / 1000).toFixed(1)} s per step` };
    const times: number[] = [];
    // pgd40 is 40 gradient steps; like the reference, fewer runs of it.
    const n = name === 'pgd40' ? Math.max(3, Math.floor(runs / 2)) : runs;
    for (let i = 0; i < n; i++) {
      const t = performance.now();
      await w.step();
      times.push(performance.now() - t);
    }
    return { ms: median(times) };
  } catch (e) {
    return { ms: null, note: `failed: ${(e as Error).message.split('\n')[0]}` };
  } finally {
    w.dispose();
  }
}

/** PyTorch's medians from both reference scripts (each times the workloads of --only it knows). */
function torchTimes(): Map<string, number> {
  const out = new Map<string, number>();
  if (!existsSync('/usr/bin/python3')) return out;
  for (const script of [args.torch!, args['torch-own']!]) {
    if (!existsSync(script)) continue;
    try {
      const text = execFileSync('/usr/bin/python3', [script, '--only', only.join(','), '--runs', String(Math.max(5, runs))], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
      for (const line of text.split('\n')) if (line.trim()) {
        const r = JSON.parse(line);
        out.set(r.workload, r.ms);
      }
    } catch (e) {
      process.stderr.write(`PyTorch reference ${script} not run (${(e as Error).message.split('\n')[0]}); install it with: apt-get install -y python3-torch\n`);
    }
  }
  return out;
}

const backends: BackendName[] = args.backends ? args.backends.split(',').map(parseBackend) : [...BACKENDS];
const timings: Array<{ workload: string; backend: string; ms: number | null; note?: string }> = [];
for (const backend of backends) {
  try {
    await useBackend(backend);
  } catch (e) {
    process.stderr.write(`backend ${backend} unavailable: ${(e as Error).message}\n`);
    continue;
  }
  for (const name of only) {
    // pgd40 is 40 input gradients: don't start it where one input gradient already takes too long.
    const grad = timings.find((t) => t.backend === backend && t.workload === 'cnn-input-grad');
    if (name === 'pgd40' && grad && (grad.ms === null || grad.ms * 40 > MAX_STEP_MS * 4)) {
      timings.push({ workload: name, backend, ms: null, note: 'skipped: 40 input gradients would take too long on this backend' });
      continue;
    }
    const skip = WORKLOADS.find((w) => w.name === name)!.skip?.[backend];
    const r = skip ? { ms: null, note: skip } : await timeWorkload(name);
    timings.push({ workload: name, backend, ...r });
    process.stderr.write(`${backend} ${name}: ${r.ms === null ? r.note : r.ms.toFixed(1) + ' ms'}\n`);
  }
}
const torch = torchTimes();
const rows: Row[] = timings.map((t) => {
  const torchMs = torch.get(t.workload) ?? null;
  return {
    workload: t.workload,
    backend: t.backend,
    advx_ms: t.ms === null ? null : Math.round(t.ms * 100) / 100,
    torch_ms: torchMs,
    ratio: t.ms !== null && torchMs !== null ? Math.round((torchMs / t.ms) * 1000) / 1000 : null,
    ...(t.note ? { note: t.note } : {}),
  };
});
for (const r of rows) process.stdout.write(JSON.stringify(r) + '\n');

if (!args['no-write'] && !args.only && !args.backends) {
  const path = join(root, 'BENCHMARKS.md');
  const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}, Node ${process.version}, TF.js ${tf.version_core}`;
  const table = [
    `Measured ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC on ${machine}; PyTorch reference: \`${args.torch}\` and \`${args['torch-own']}\` in the same session.`,
    '',
    '| workload | backend | advx ms | torch ms | ratio (torch/advx) | note |',
    '| --- | --- | ---: | ---: | ---: | --- |',
    ...rows.map((r) => `| ${r.workload} | ${r.backend} | ${r.advx_ms ?? '—'} | ${r.torch_ms ?? '—'} | ${r.ratio ?? '—'} | ${r.note ?? ''} |`),
  ].join('\n');
  replaceSection(path, 'bench', table, { note: '(written by `npm run bench`; do not edit by hand)', newFile: '# Benchmarks\n', ifMissing: appendSection() });
  process.stderr.write(`wrote ${path}\n`);
}
process.exit(0);
