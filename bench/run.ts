/**
 * `npm run bench`: times the workloads of ../shared/bench/WORKLOADS.md and bench/WORKLOADS.md in advx on each available backend and, when
 * /usr/bin/python3 has torch, the PyTorch reference in the same session; prints one JSON line per
 * workload and backend and rewrites the tables in BENCHMARKS.md: the workloads (time and peak
 * memory beside PyTorch's) and the kernels' FLOP rates (bench/flops.ts) beside PyTorch's and the
 * machine's peak.
 *
 * Each workload runs in a process of its own (advx and PyTorch alike), so that its peak resident
 * memory is its own: the process's maxRSS, start-up included (each runtime's start-up alone is
 * given too).
 *
 *   npm run bench -- [--only cnn-train,cnn-forward] [--backends wasm,cpu] [--runs 5] [--trials 3] [--json] [--no-write]
 *                    [--no-kernels] [--simd relaxed|plain|ab]
 *
 * Trials: PyTorch's median on this shared 2-core machine moves by up to 2–3× from one process to
 * the next (its OpenMP threads suffer from any other work), advx's by ~20%. So each wasm workload
 * is timed in --trials processes per side, advx's and PyTorch's in turn, and each side is
 * reported by the best of its process medians (what the code does when the machine lets it), with
 * the range beside it. The cpu backend, far slower and not the comparison that matters, gets one.
 *
 * --simd picks the build of advx's native wasm kernels: relaxed SIMD (fused multiply-adds) or
 * plain SIMD. By default, what the CLI gets: relaxed where the engine has it (on Node 20 behind
 * --experimental-wasm-relaxed-simd, which the CLI and this script turn on), unless
 * ADVX_RELAXED_SIMD=0. --simd ab times both in one process, step by step in turn (ABBA), and
 * prints each one's median and the median of the paired ratios plain/relaxed: on a loaded machine
 * the pairs share the load, where separate runs do not.
 */
import * as tf from '@tensorflow/tfjs-core';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { BACKENDS, kernelInfo, parseBackend, useBackend, type BackendName } from '../src/backend/index.ts';
import { NATIVE } from '../src/backend/kernels/native.ts';
import { relaxedSimdAvailable } from '../src/backend/relaxed-simd.ts';
import { enableRelaxedSimd } from '../src/cli/relaxed-simd.ts';
import { appendSection, replaceSection } from './sections.ts';
import { WORKLOADS } from './workloads.ts';
import { KERNELS, kernelFlops, kernelRates } from './flops.ts';
import { median } from '../src/core/arrays.ts';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const { values: args } = parseArgs({
  options: {
    only: { type: 'string' },
    backends: { type: 'string' },
    runs: { type: 'string', default: '5' },
    /** wasm workloads: processes per side, advx's and PyTorch's in turn; the best of their medians is reported, with the range. */
    trials: { type: 'string', default: '3' },
    json: { type: 'boolean', default: false },
    'no-write': { type: 'boolean', default: false },
    torch: { type: 'string', default: join(root, '../shared/bench/torch_reference.py') },
    /** advx's own workloads (bench/WORKLOADS.md), beside the shared reference's. */
    'torch-own': { type: 'string', default: join(root, 'bench/torch_workloads.py') },
    'no-kernels': { type: 'boolean', default: false },
    simd: { type: 'string' },
    /** Internal: this process times one thing ("backend:workload", "backend:kernels" or "backend:none") and prints it as JSON. */
    child: { type: 'string' },
  },
});
const only = args.only ? args.only.split(',') : WORKLOADS.map((w) => w.name);
for (const name of only) if (!WORKLOADS.some((w) => w.name === name)) throw new Error(`unknown workload "${name}": ${WORKLOADS.map((w) => w.name).join(', ')}`);
const runs = Number(args.runs);
const trials = Number(args.trials);
if (!Number.isInteger(trials) || trials < 1) throw new Error(`--trials: a positive integer, not "${args.trials}"`);
if (args.simd !== undefined && !['relaxed', 'plain', 'ab'].includes(args.simd)) throw new Error(`--simd: relaxed, plain or ab, not "${args.simd}"`);
if (args.simd === 'plain') NATIVE.relaxed = false;
else enableRelaxedSimd();
if ((args.simd === 'relaxed' || args.simd === 'ab') && !relaxedSimdAvailable()) throw new Error(`--simd ${args.simd}: this engine has no relaxed SIMD`);
/** A backend whose single step takes longer than this is reported as skipped. */
const MAX_STEP_MS = 8000;
/** How many times MAX_STEP_MS a first step may take (worker start-up, kernel compilation). */
const WARM_UP_ALLOWANCE = 4;

interface Row {
  workload: string;
  backend: string;
  /** Which build of the native kernels ran (wasm). */
  simd?: string;
  advx_ms: number | null;
  torch_ms: number | null;
  ratio: number | null;
  /** Fastest and slowest process median over the trials. */
  advx_range?: [number, number];
  torch_range?: [number, number];
  /** PyTorch with each other BLAS found (by name): its best time and advx's ratio against it. */
  torch_other_blas?: Record<string, { torch_ms: number | null; ratio: number | null }>;
  trials: { advx: number; torch: number };
  advx_rss_mb: number | null;
  torch_rss_mb: number | null;
  note?: string;
}

/** This process's peak resident memory so far, in MB. */
const maxRssMb = () => Math.round(process.resourceUsage().maxRSS / 1024);


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
    // An attack's loop is many gradient steps; like the reference, fewer runs of it.
    const n = spec.gradients ? Math.max(3, Math.floor(runs / 2)) : runs;
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

/** --simd ab: the two builds in turn, step by step (ABBA), on the same workload instance. */
async function timeAb(name: string): Promise<{ plain: number; relaxed: number; ratio: number }> {
  const spec = WORKLOADS.find((w) => w.name === name)!;
  const w = spec.make(spec.batch);
  const step = async (relaxed: boolean) => {
    NATIVE.relaxed = relaxed;
    const t = performance.now();
    await w.step();
    return performance.now() - t;
  };
  try {
    for (const r of [false, true, false, true]) await step(r); // warm-up: workers, caches
    const plain: number[] = [];
    const relaxed: number[] = [];
    const ratios: number[] = [];
    for (let i = 0; i < runs; i++) {
      const first = i % 2 === 0;
      const a = await step(first);
      const b = await step(!first);
      const [p, r] = first ? [b, a] : [a, b];
      plain.push(p);
      relaxed.push(r);
      ratios.push(p / r);
    }
    return { plain: median(plain), relaxed: median(relaxed), ratio: median(ratios) };
  } finally {
    NATIVE.relaxed = true;
    w.dispose();
  }
}

/**
 * Runs this file as a child timing one thing on one backend; its last stdout line, parsed. A
 * workload child is stopped once it has run longer than its steps may take (a first step of at
 * most WARM_UP_ALLOWANCE·MAX_STEP_MS, the others of MAX_STEP_MS, 10 s for start-up), rather than
 * left to finish a first step that is only reported as skipped.
 */
function inChild<T>(what: string): T {
  const simd = args.simd ? ['--simd', args.simd] : [];
  const limitMs = what.endsWith(':kernels') || what.endsWith(':none') ? undefined : 10_000 + WARM_UP_ALLOWANCE * MAX_STEP_MS + (runs + 1) * MAX_STEP_MS;
  const r = spawnSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), '--child', what, '--runs', String(runs), ...simd], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 1 << 24, timeout: limitMs });
  if (r.error && (r.error as NodeJS.ErrnoException).code === 'ETIMEDOUT') return { ms: null, note: `skipped: no result within ${(limitMs! / 1000).toFixed(0)} s` } as T;
  // TF.js's cpu backend greets every new Node process with a boxed hint about tfjs-node: once is enough.
  const errors = r.stderr.replace(/\n*=+\nHi, looks like you are running TensorFlow\.js in Node\.js[\s\S]*?=+\n/g, '\n').trim();
  if (errors) process.stderr.write(`${errors}\n`);
  const last = r.stdout.trim().split('\n').at(-1) ?? '';
  try {
    return JSON.parse(last) as T;
  } catch {
    return { note: `failed: child exited ${r.status ?? r.signal} without a result` } as T;
  }
}

type Timing = { ms: number | null; note?: string; max_rss_mb?: number; unavailable?: string; simd?: string };

/** The child's side: start the backend, time one workload (or the kernels, or nothing), print the result. */
async function child(what: string): Promise<void> {
  const [backend, name] = what.split(':') as [string, string];
  try {
    await useBackend(parseBackend(backend));
  } catch (e) {
    process.stdout.write(`${JSON.stringify({ ms: null, unavailable: (e as Error).message.split('\n')[0] })}\n`);
    return;
  }
  if (name === 'kernels') {
    process.stdout.write(`${JSON.stringify({ gflops: await kernelRates(runs) })}\n`);
    return;
  }
  const timing = name === 'none' ? { ms: null } : await timeWorkload(name);
  const k = await kernelInfo();
  const simd = k.native ? (k.relaxedSimd ? 'relaxed' : 'plain') : undefined;
  if (args.simd && k.native && simd !== args.simd) throw new Error(`--simd ${args.simd}: the ${simd} kernels loaded`);
  process.stdout.write(`${JSON.stringify({ ...timing, max_rss_mb: maxRssMb(), ...(simd ? { simd } : {}) })}\n`);
}

const PYTHON = '/usr/bin/python3';
/** Runs a reference script as __main__, then prints the process's peak RSS (MB) as a last JSON line. */
const WITH_RSS = 'import json, resource, runpy, sys\nsys.argv = sys.argv[1:]\ntry:\n  runpy.run_path(sys.argv[0], run_name="__main__")\nfinally:\n  print(json.dumps({"max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}), flush=True)';

/**
 * The BLAS libraries PyTorch's matrix products can load here, each by the directory of its
 * libblas.so.3 (Debian's alternatives; LD_LIBRARY_PATH picks one per process). Debian's
 * python3-torch pulls in the reference BLAS (libblas3, ~6 GFLOP/s); with libopenblas0-pthread
 * installed the same PyTorch runs its dense layers ~15× faster. Its convolutions use oneDNN either way.
 */
const BLAS = [
  { name: 'OpenBLAS', dir: '/usr/lib/x86_64-linux-gnu/openblas-pthread' },
  { name: 'reference BLAS', dir: '/usr/lib/x86_64-linux-gnu/blas' },
].filter((b) => existsSync(join(b.dir, 'libblas.so.3')));
type Blas = (typeof BLAS)[number];
const blasEnv = (blas: Blas | undefined) => (blas ? { ...process.env, LD_LIBRARY_PATH: blas.dir } : process.env);

/** PyTorch's median and peak RSS for one workload with `blas`, in a process of its own, from whichever reference script has it; undefined without torch. */
function torchTime(name: string, blas: Blas | undefined): { ms: number; rss: number } | undefined {
  if (!existsSync(PYTHON)) return undefined;
  for (const script of [args.torch!, args['torch-own']!]) {
    if (!existsSync(script)) continue;
    try {
      const text = execFileSync(PYTHON, ['-c', WITH_RSS, script, '--only', name, '--runs', String(Math.max(5, runs))], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: blasEnv(blas) });
      const lines = text.trim().split('\n').map((l) => JSON.parse(l) as { workload?: string; ms?: number; max_rss_mb?: number });
      const timed = lines.find((l) => l.workload === name);
      if (timed) return { ms: timed.ms!, rss: lines.at(-1)!.max_rss_mb! };
    } catch (e) {
      process.stderr.write(`PyTorch reference ${script} not run (${(e as Error).message.split('\n')[0]}); install it with: apt-get install -y python3-torch libopenblas0-pthread\n`);
      return undefined;
    }
  }
  return undefined;
}

/** The best of several trials' times, their range and the largest peak RSS. */
interface Trials {
  ms: number;
  range: [number, number];
  rss: number;
}

function summarizeTrials(times: Array<{ ms: number; rss: number }>): Trials | undefined {
  if (!times.length) return undefined;
  const ms = times.map((t) => t.ms);
  return { ms: Math.min(...ms), range: [Math.min(...ms), Math.max(...ms)], rss: Math.max(...times.map((t) => t.rss)) };
}

/** PyTorch's GFLOP/s on KERNELS and its 2048² sgemm (the machine's measured peak), or undefined without torch. */
function torchKernelRates(): { gflops: number[]; peak: number; threads: number } | undefined {
  if (!existsSync(PYTHON)) return undefined;
  try {
    const text = execFileSync(PYTHON, [join(root, 'bench/torch_kernels.py'), '--runs', String(Math.max(5, runs))], { input: JSON.stringify(KERNELS), encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'], env: blasEnv(BLAS[0]) });
    const lines = text.trim().split('\n').map((l) => JSON.parse(l) as { gflops?: number; peak_sgemm_gflops?: number; threads?: number });
    const last = lines.at(-1)!;
    return { gflops: lines.slice(0, -1).map((l) => l.gflops!), peak: last.peak_sgemm_gflops!, threads: last.threads! };
  } catch (e) {
    process.stderr.write(`PyTorch kernel rates not measured (${(e as Error).message.split('\n')[0]})\n`);
    return undefined;
  }
}

/**
 * Nominal peaks from /proc/cpuinfo's listed clock (turbo can run above it): the machine's, from the
 * widest fused multiply-add it lists (AVX-512: 2 units × 16 lanes × 2 FLOP; AVX2: 2 × 8 × 2), and
 * the ceiling of 128-bit WASM SIMD on the same cores (2 units × 4 lanes, × 2 with relaxed SIMD's FMA).
 */
function nominalPeaks(relaxed: boolean): { machine: number; wasm: number; how: string } | undefined {
  if (!existsSync('/proc/cpuinfo')) return undefined;
  const info = readFileSync('/proc/cpuinfo', 'utf8');
  const mhz = Number(/cpu MHz\s*:\s*([\d.]+)/.exec(info)?.[1]);
  if (!mhz || !/\bfma\b/.test(info)) return undefined;
  const [isa, perCycle] = /\bavx512f\b/.test(info) ? ['AVX-512', 64] : /\bavx2\b/.test(info) ? ['AVX2', 32] : [undefined, 0];
  if (!isa) return undefined;
  const wasmPerCycle = relaxed ? 16 : 8;
  const base = cpus().length * (mhz / 1000);
  return {
    machine: base * perCycle,
    wasm: base * wasmPerCycle,
    how: `${cpus().length} cores × ${(mhz / 1000).toFixed(2)} GHz (listed clock) × ${perCycle} FLOP/cycle for ${isa} FMA, × ${wasmPerCycle} for 128-bit WASM SIMD${relaxed ? ' with FMA' : ' without FMA'}`,
  };
}

if (args.child) {
  await child(args.child);
  process.exit(0);
}

const loadAtStart = loadavg();
const backends: BackendName[] = args.backends ? args.backends.split(',').map(parseBackend) : [...BACKENDS];
if (args.simd === 'ab') {
  await useBackend('wasm');
  for (const name of only) {
    const ab = await timeAb(name);
    const round = (x: number) => Math.round(x * 100) / 100;
    process.stdout.write(JSON.stringify({ workload: name, backend: 'wasm', plain_ms: round(ab.plain), relaxed_ms: round(ab.relaxed), plain_over_relaxed: Math.round(ab.ratio * 1000) / 1000, pairs: runs }) + '\n');
  }
  process.exit(0);
}
const timings: Array<{ workload: string; backend: string; range?: [number, number]; processes: number } & Timing> = [];
/** PyTorch's processes per workload and BLAS (the first of BLAS is the row's reference; the others get their own column). */
const torchRuns = new Map<string, Array<{ ms: number; rss: number }>>();
const torchKey = (name: string, blas: Blas | undefined) => `${name}|${blas?.name ?? 'default'}`;
const blasChoices: Array<Blas | undefined> = BLAS.length ? BLAS : [undefined];
/** One PyTorch process for `name` with each BLAS, the results kept with the workload's others. */
const timeTorch = (name: string) => {
  for (const blas of blasChoices) {
    const ref = torchTime(name, blas);
    if (ref) torchRuns.set(torchKey(name, blas), [...(torchRuns.get(torchKey(name, blas)) ?? []), ref]);
  }
};
const idleRss = new Map<string, number>();
for (const backend of backends) {
  const idle = inChild<Timing>(`${backend}:none`);
  if (idle.unavailable) {
    process.stderr.write(`backend ${backend} unavailable: ${idle.unavailable}\n`);
    continue;
  }
  if (idle.max_rss_mb) idleRss.set(backend, idle.max_rss_mb);
  for (const name of only) {
    const spec = WORKLOADS.find((w) => w.name === name)!;
    // PyTorch is timed in turn with the wasm trials (or once, beside the first backend without them).
    const withTorch = () => backend === 'wasm' || !torchRuns.has(torchKey(name, blasChoices[0]));
    // An attack's loop is many input gradients: don't start it where one already takes too long.
    const grad = timings.find((t) => t.backend === backend && t.workload === 'cnn-input-grad');
    if (spec.gradients && grad && (grad.ms === null || grad.ms * spec.gradients > MAX_STEP_MS * 4)) {
      timings.push({ workload: name, backend, ms: null, processes: 0, note: `skipped: ${spec.gradients} input gradients would take too long on this backend` });
      if (withTorch()) timeTorch(name);
      continue;
    }
    const runsHere: Timing[] = [];
    for (let t = 0; t < (backend === 'wasm' ? trials : 1); t++) {
      const r: Timing = spec.skip?.[backend] ? { ms: null, note: spec.skip[backend] } : inChild<Timing>(`${backend}:${name}`);
      runsHere.push(r);
      if (withTorch()) timeTorch(name);
      process.stderr.write(`${backend} ${name}: ${r.ms === null ? r.note : `${r.ms.toFixed(1)} ms, ${r.max_rss_mb} MB`}\n`);
      if (r.ms === null) break;
    }
    const timed = runsHere.filter((r) => r.ms !== null).map((r) => ({ ms: r.ms!, rss: r.max_rss_mb ?? 0 }));
    const best = summarizeTrials(timed);
    timings.push(best ? { workload: name, backend, ...runsHere[0]!, ms: best.ms, range: best.range, max_rss_mb: best.rss, processes: timed.length } : { workload: name, backend, ...runsHere.at(-1)!, processes: 0 });
  }
}
const round2 = (x: number) => Math.round(x * 100) / 100;
const rows: Row[] = timings.map((t) => {
  const [ref, ...others] = blasChoices.map((blas) => summarizeTrials(torchRuns.get(torchKey(t.workload, blas)) ?? []));
  const ratio = (torchMs: number | undefined) => (t.ms !== null && torchMs !== undefined ? Math.round((torchMs / t.ms) * 1000) / 1000 : null);
  return {
    workload: t.workload,
    backend: t.backend,
    advx_ms: t.ms === null ? null : round2(t.ms),
    torch_ms: ref?.ms ?? null,
    ratio: ratio(ref?.ms),
    ...(others.length
      ? { torch_other_blas: Object.fromEntries(blasChoices.slice(1).map((b, i) => [b!.name, { torch_ms: others[i]?.ms ?? null, ratio: ratio(others[i]?.ms) }])) }
      : {}),
    advx_range: t.range?.map(round2) as [number, number] | undefined,
    torch_range: ref?.range,
    trials: { advx: t.processes, torch: torchRuns.get(torchKey(t.workload, blasChoices[0]))?.length ?? 0 },
    advx_rss_mb: t.ms === null ? null : (t.max_rss_mb ?? null),
    torch_rss_mb: ref?.rss ?? null,
    ...(t.note ? { note: t.note } : {}),
    ...(t.simd ? { simd: t.simd } : {}),
  };
});
for (const r of rows) process.stdout.write(JSON.stringify(r) + '\n');

const measureKernels = !args['no-kernels'] && backends.includes('wasm');
const advxRates = measureKernels ? inChild<{ gflops?: number[] }>('wasm:kernels').gflops : undefined;
const torchRates = measureKernels ? torchKernelRates() : undefined;
const torchIdle = existsSync(PYTHON) ? (() => {
  try {
    return Number(execFileSync(PYTHON, ['-c', 'import resource, torch; print(round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))'], { encoding: 'utf8' }).trim());
  } catch {
    return undefined;
  }
})() : undefined;
if (advxRates) {
  KERNELS.forEach((k, i) => process.stdout.write(`${JSON.stringify({ kernel: k.name, op: k.op, advx_gflops: Math.round(advxRates[i]! * 100) / 100, torch_gflops: torchRates?.gflops[i] ?? null })}\n`));
}

if (!args['no-write'] && !args.only && !args.backends) {
  const path = join(root, 'BENCHMARKS.md');
  const builds = [...new Set(timings.map((t) => t.simd).filter(Boolean))].join(' and ');
  const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}, Node ${process.version}, TF.js ${tf.version_core}${builds ? `, advx's native kernels: ${builds} SIMD build` : ''}`;
  const mb = (v: number | null | undefined) => (v === null || v === undefined ? '—' : String(v));
  const blasNote = BLAS.length ? `, ${BLAS[0]!.name}` : '';
  const otherBlas = BLAS.slice(1).map((b) => b.name);
  const range = (r: [number, number] | undefined) => (r && r[0] !== r[1] ? `${r[0]}–${r[1]}` : '—');
  const table = [
    `Measured ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC on ${machine}; PyTorch reference: \`${args.torch}\` and \`${args['torch-own']}\` in the same session${BLAS.length ? `, its matrix products on ${BLAS[0]!.name}${BLAS.length > 1 ? ` (and, in the columns so named, on ${BLAS.slice(1).map((b) => b.name).join(', ')}: Debian's python3-torch alone brings only the reference BLAS; \`apt-get install -y libopenblas0-pthread\` adds OpenBLAS)` : ''}` : ''} (load average ${loadAtStart.map((l) => l.toFixed(2)).join(' ')} at the start, ${loadavg().map((l) => l.toFixed(2)).join(' ')} at the end). Each wasm workload ran in ${trials} processes per side, advx's and PyTorch's in turn; each side's time is the best of its process medians (each process's median of its timed steps), the range is fastest–slowest; the cpu backend ran once. Peak RSS is the largest of a side's processes', start-up included (start-up alone: advx ${[...idleRss].map(([b, v]) => `${b} ${v} MB`).join(', ')}; PyTorch ${mb(torchIdle)} MB).`,
    '',
    `| workload | backend | advx ms | torch ms${blasNote} | ratio (torch/advx) |${otherBlas.map((b) => ` torch ms, ${b} | ratio |`).join('')} advx range ms | torch range ms | advx peak RSS MB | torch peak RSS MB | note |`,
    `| --- | --- | ---: | ---: | ---: |${otherBlas.map(() => ' ---: | ---: |').join('')} ---: | ---: | ---: | ---: | --- |`,
    ...rows.map((r) => `| ${r.workload} | ${r.backend} | ${r.advx_ms ?? '—'} | ${r.torch_ms ?? '—'} | ${r.ratio ?? '—'} |${otherBlas.map((b) => ` ${r.torch_other_blas?.[b]?.torch_ms ?? '—'} | ${r.torch_other_blas?.[b]?.ratio ?? '—'} |`).join('')} ${range(r.advx_range)} | ${range(r.torch_range)} | ${mb(r.advx_rss_mb)} | ${mb(r.torch_rss_mb)} | ${r.note ?? ''} |`),
  ].join('\n');
  replaceSection(path, 'bench', table, { note: '(written by `npm run bench`; do not edit by hand)', newFile: '# Benchmarks\n', ifMissing: appendSection() });
  if (advxRates) {
    const peak = nominalPeaks(builds === 'relaxed');
    const pct = (v: number, of: number | undefined) => (of ? `${((v / of) * 100).toFixed(0)}%` : '—');
    const kernels = [
      `The heavy kernels of cnn-train and dann-step at batch 128 (bench/flops.ts), wasm backend, beside PyTorch on the same shapes (bench/torch_kernels.py; its convolutions are oneDNN's, its matrix products ${BLAS[0]?.name ?? 'its default BLAS'}'s), same session. Multiply-adds count 2 FLOP, a convolution's as many as its direct form has, on both sides: advx's 3×3 and 5×5 stride-1 convolutions with ≥ 16 channels run Winograd (4× and 2.78× fewer multiplies, src/backend/kernels/winograd.ts), so their rates are effective ones and can pass the WASM peak. ${peak ? `Nominal peaks: machine ${peak.machine.toFixed(0)} GFLOP/s, 128-bit WASM SIMD ${peak.wasm.toFixed(0)} GFLOP/s (${peak.how}). ` : ''}PyTorch's 2048² sgemm on ${torchRates?.threads ?? '—'} threads: ${torchRates?.peak ?? '—'} GFLOP/s.`,
      '',
      '| kernel | op | GFLOP | advx GFLOP/s | torch GFLOP/s | advx/torch | advx of WASM peak | torch of machine peak |',
      '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |',
      ...KERNELS.map((k, i) => {
        const a = advxRates[i]!;
        const t = torchRates?.gflops[i];
        return `| ${k.name} | ${k.op} | ${(kernelFlops(k) / 1e9).toFixed(3)} | ${a.toFixed(1)} | ${t === undefined ? '—' : t.toFixed(1)} | ${t ? (a / t).toFixed(2) : '—'} | ${pct(a, peak?.wasm)} | ${t === undefined ? '—' : pct(t, peak?.machine)} |`;
      }),
    ].join('\n');
    replaceSection(path, 'bench-kernels', kernels, { note: '(written by `npm run bench`; do not edit by hand)', ifMissing: appendSection('## Kernel FLOP rates') });
  }
  process.stderr.write(`wrote ${path}\n`);
}
process.exit(0);
