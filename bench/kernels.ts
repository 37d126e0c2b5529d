/**
 * Times the reference CNN (WORKLOADS.md) on the WASM backend at batch 128: one train step
 * (softmax cross-entropy, Adam 1e-3), the input gradient and the forward pass; median of 5
 * after 2 warm-ups; then a per-kernel breakdown (tf.profile) of one train step.
 *
 *   node --import tsx bench/kernels.ts            # with advx's gradient kernels
 *   node --import tsx bench/kernels.ts --baseline # TF.js's own WASM kernels only
 *   node --import tsx bench/kernels.ts --js       # advx's kernels without the native (C) ones
 *   node --import tsx bench/kernels.ts --workload dann-step   # a WORKLOADS.md workload instead
 *   options: --backend cpu, --runs N, --batch N, --top N, --threads N, --by-shape (per kernel and input shapes),
 *            --profiles N (workload: median of N profiled steps),
 *            --cpu-time (workload: per-kernel process CPU time instead of tf.profile's wall time)
 */
import * as tf from '@tensorflow/tfjs-core';
import { cnn } from '../src/models/zoo.ts';
import { Rng } from '../src/core/rng.ts';
import { median } from '../src/core/arrays.ts';

const args = process.argv.slice(2);
function opt(name: string, def: string): string {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : def;
}
const baseline = args.includes('--baseline');
const backendName = opt('backend', 'wasm');
const runs = Number(opt('runs', '5'));
const batch = Number(opt('batch', '128'));
const top = Number(opt('top', '12'));
const byShape = args.includes('--by-shape');
const threads = args.includes('--threads') ? Number(opt('threads', '1')) : undefined;

if (backendName === 'wasm' && baseline) {
  await import('@tensorflow/tfjs-backend-wasm');
  await tf.setBackend('wasm');
  await tf.ready();
} else {
  if (args.includes('--js')) (await import('../src/backend/kernels/native.ts')).NATIVE.enabled = false;
  const { useBackend, parseBackend } = await import('../src/backend/index.ts');
  await useBackend(parseBackend(backendName), threads === undefined ? {} : { threads });
}

const workloadName = args.includes('--workload') ? opt('workload', '') : undefined;
if (workloadName !== undefined) {
  await profileWorkload(workloadName);
  process.exit(0);
}

/** Times one workload of bench/workloads.ts (its own batch unless --batch) and profiles one step. */
async function profileWorkload(name: string): Promise<void> {
  const { WORKLOADS } = await import('./workloads.ts');
  const spec = WORKLOADS.find((w) => w.name === name);
  if (!spec) throw new Error(`unknown workload "${name}": ${WORKLOADS.map((w) => w.name).join(', ')}`);
  const b = args.includes('--batch') ? batch : spec.batch;
  const w = spec.make(b);
  console.log(`backend ${tf.getBackend()}${args.includes('--js') ? ' (advx kernels, JS only)' : ''}, ${name} batch ${b}`);
  for (let i = 0; i < 2; i++) await w.step();
  const before = tf.memory().numTensors;
  const t: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await w.step();
    t.push(performance.now() - t0);
  }
  console.log(`${name.padEnd(12)} ${median(t).toFixed(1).padStart(8)} ms  (runs: ${t.map((v) => v.toFixed(0)).join(' ')})`);
  if (args.includes('--cpu-time')) await cpuBreakdown(name, () => w.step());
  else await breakdown(name, () => w.step(), Number(opt('profiles', '1')));
  const after = tf.memory().numTensors;
  console.log(`\ntensors before ${before}, after ${after}${after > before ? '  (LEAK?)' : ''}`);
  w.dispose();
}

/**
 * Per-kernel process CPU time of `f` (medians over --runs calls), by kernel and input shapes:
 * steadier than tf.profile's wall times when other jobs share the cores. Every kernel of the
 * backend is wrapped for the duration; a kernel that calls another through the registry (the JS
 * fallbacks) counts that one's time twice. With threads, time on worker threads counts too.
 */
async function cpuBreakdown(name: string, f: () => Promise<void>): Promise<void> {
  const cpu = () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000;
  };
  let cur = new Map<string, number>();
  const wrapped = tf.getKernelsForBackend(backendName);
  for (const k of wrapped) {
    const inner = k.kernelFunc;
    tf.unregisterKernel(k.kernelName, backendName);
    tf.registerKernel({
      ...k,
      kernelFunc: (a) => {
        const c = cpu();
        const r = inner(a);
        const shapes = Object.values(a.inputs).filter((t) => t != null).map((t) => `[${t.shape}]`).join(' ');
        const key = `${k.kernelName} ${shapes}`;
        cur.set(key, (cur.get(key) ?? 0) + cpu() - c);
        return r;
      },
    });
  }
  const samples = new Map<string, number[]>();
  const steps: number[] = [];
  for (let i = 0; i < runs; i++) {
    cur = new Map();
    const c = cpu();
    await f();
    steps.push(cpu() - c);
    for (const [k, v] of cur) samples.set(k, [...(samples.get(k) ?? []), v]);
  }
  for (const k of wrapped) {
    tf.unregisterKernel(k.kernelName, backendName);
    tf.registerKernel(k);
  }
  const rows = [...samples].map(([k, v]) => [k, median(v)] as const).sort((p, q) => q[1] - p[1]);
  const total = rows.reduce((acc, [, v]) => acc + v, 0);
  console.log(`\nper-kernel CPU time ${name} (step ${median(steps).toFixed(1)} CPU-ms, ${total.toFixed(1)} in kernels; medians of ${runs}):`);
  for (const [k, ms] of rows.slice(0, top)) console.log(`  ${k.padEnd(60)} ${ms.toFixed(2).padStart(8)} ms`);
}

const rng = new Rng(7);
const xData = new Float32Array(batch * 28 * 28);
for (let i = 0; i < xData.length; i++) xData[i] = rng.next();
const labels = new Int32Array(batch);
for (let i = 0; i < batch; i++) labels[i] = rng.int(10);
const x = tf.tensor4d(xData, [batch, 28, 28, 1]);
const y = tf.tidy(() => tf.cast(tf.oneHot(tf.tensor1d(labels, 'int32'), 10), 'float32'));

const model = cnn({ inputShape: [28, 28, 1], numClasses: 10, seed: 1 });
const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
const optimizer = tf.train.adam(1e-3);

const lossOf = (input: tf.Tensor): tf.Scalar =>
  tf.losses.softmaxCrossEntropy(y, model.apply(input) as tf.Tensor) as tf.Scalar;

function trainStep(): void {
  const cost = optimizer.minimize(() => lossOf(x), true, vars);
  cost?.dataSync();
  cost?.dispose();
}
const inputGradFn = tf.grad((input: tf.Tensor) => lossOf(input));
function inputGrad(): void {
  const g = inputGradFn(x);
  g.dataSync();
  g.dispose();
}
function forward(): void {
  const out = model.predict(x, { batchSize: batch }) as tf.Tensor;
  out.dataSync();
  out.dispose();
}

function time(name: string, f: () => void): number | undefined {
  try {
    for (let i = 0; i < 2; i++) f();
    const t: number[] = [];
    for (let i = 0; i < runs; i++) {
      const t0 = performance.now();
      f();
      t.push(performance.now() - t0);
    }
    const med = median(t);
    console.log(`${name.padEnd(12)} ${med.toFixed(1).padStart(8)} ms  (runs: ${t.map((v) => v.toFixed(0)).join(' ')})`);
    return med;
  } catch (e) {
    console.log(`${name.padEnd(12)}   FAILED: ${(e as Error).message.split('\n')[0]}`);
    return undefined;
  }
}

const flavour = baseline ? ' (baseline: TF.js kernels only)' : args.includes('--js') ? ' (advx kernels, JS only)' : ' (advx kernels)';
console.log(`backend ${tf.getBackend()}${flavour}, batch ${batch}`);
time('train-step', trainStep);
const before = tf.memory().numTensors; // after Adam has made its slot variables
time('input-grad', inputGrad);
time('forward', forward);

/**
 * Per-kernel times of `f` from tf.profile, summed per kernel name (or name and input shapes with
 * --by-shape); with `repeats` > 1, each row is the median of that many profiled calls, which
 * steadies the figures on a busy machine.
 */
async function breakdown(name: string, f: () => void | Promise<void>, repeats = 1): Promise<void> {
  const samples = new Map<string, { ms: number[]; n: number }>();
  let calls = 0;
  const totals: number[] = [];
  for (let r = 0; r < repeats; r++) {
    let info: Awaited<ReturnType<typeof tf.profile>>;
    try {
      info = await tf.profile(f as () => Promise<void>);
    } catch (e) {
      console.log(`\nprofile ${name}: FAILED: ${(e as Error).message.split('\n')[0]}`);
      return;
    }
    calls = info.kernels.length;
    const agg = new Map<string, { ms: number; n: number }>();
    let total = 0;
    for (const k of info.kernels) {
      const ms = Number(k.kernelTimeMs) || 0;
      total += ms;
      const key = byShape ? `${k.name} ${k.inputShapes.map((sh) => `[${sh}]`).join(' ')}` : k.name;
      const e = agg.get(key) ?? { ms: 0, n: 0 };
      e.ms += ms;
      e.n++;
      agg.set(key, e);
    }
    totals.push(total);
    for (const [k, { ms, n }] of agg) {
      const s = samples.get(k) ?? { ms: [], n };
      s.ms.push(ms);
      samples.set(k, s);
    }
  }
  const rows = [...samples.entries()].map(([k, { ms, n }]) => [k, median(ms), n] as const).sort((a, b) => b[1] - a[1]).slice(0, top);
  const of = repeats > 1 ? `, medians of ${repeats} profiles` : '';
  console.log(`\nper-kernel ${name} (${calls} kernel calls, ${median(totals).toFixed(1)} ms in kernels${of}):`);
  for (const [k, ms, n] of rows) {
    console.log(`  ${k.padEnd(byShape ? 60 : 24)} ${ms.toFixed(2).padStart(8)} ms  ×${n}`);
  }
}
await breakdown('train-step', trainStep);
if (args.includes('--profile-all')) {
  await breakdown('input-grad', inputGrad);
  await breakdown('forward', forward);
}
const after = tf.memory().numTensors;
console.log(`\ntensors before ${before}, after ${after}${after > before ? '  (LEAK?)' : ''}`);
