/**
 * Single- vs multi-threaded WASM (bench/workloads.ts): the reference CNN's forward at batch 128
 * and 1024, its input gradient and one Adam training step at batch 128, and the DANN and DCGAN
 * training steps (the convolution kernels' scaling). Each thread count runs in its own process,
 * since a process can hold only one 'wasm' backend; median of 5 runs after 2 warm-ups. With
 * --rounds R the processes alternate R times and each cell is the best of the R medians, which
 * filters out other load on a shared machine (threaded timings suffer most from it).
 *
 *   node --import tsx bench/threads.ts [--threads 1,2] [--runs 5] [--rounds 1] [--json]
 */
import * as tf from '@tensorflow/tfjs-core';
import { getThreadsCount } from '@tensorflow/tfjs-backend-wasm';
import { execFileSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { useBackend } from '../src/backend/index.ts';
import { WORKLOADS } from './workloads.ts';
import { median } from '../src/core/arrays.ts';

const NAMES = ['cnn-forward', 'cnn-forward-1024', 'cnn-input-grad', 'cnn-train', 'dann-step', 'dcgan-step'];
const WARMUPS = 2;

const { values: args } = parseArgs({
  options: {
    threads: { type: 'string', default: [...new Set([1, availableParallelism()])].join(',') },
    runs: { type: 'string', default: '5' },
    rounds: { type: 'string', default: '1' },
    json: { type: 'boolean', default: false },
    child: { type: 'string' },
  },
});
const runs = Number(args.runs);

interface Result {
  threads: number;
  /** What XNNPACK actually runs with, read back from the backend. */
  actualThreads: number;
  initMs: number;
  ms: Record<string, number | string>;
}


async function child(threads: number): Promise<Result> {
  const t0 = performance.now();
  await useBackend('wasm', { threads });
  const initMs = performance.now() - t0;
  const ms: Result['ms'] = {};
  for (const name of NAMES) {
    const spec = WORKLOADS.find((w) => w.name === name)!;
    const w = spec.make(spec.batch);
    try {
      for (let i = 0; i < WARMUPS; i++) await w.step();
      const times: number[] = [];
      for (let i = 0; i < runs; i++) {
        const t = performance.now();
        await w.step();
        times.push(performance.now() - t);
      }
      ms[name] = Math.round(median(times) * 10) / 10;
    } catch (e) {
      ms[name] = `failed: ${e instanceof Error ? e.message : String(e)}`;
    } finally {
      w.dispose();
    }
  }
  return { threads, actualThreads: getThreadsCount(), initMs: Math.round(initMs), ms };
}

if (args.child !== undefined) {
  const result = await child(Number(args.child));
  console.log(JSON.stringify(result));
  // Tensors are disposed per workload; the count left is only the backend's own.
  if (tf.memory().numTensors > 0) console.error(`note: ${tf.memory().numTensors} tensors alive at exit`);
} else {
  const self = fileURLToPath(import.meta.url);
  const counts = args.threads.split(',').map(Number);
  const best = new Map<number, Result>();
  for (let round = 0; round < Number(args.rounds); round++) {
    for (const threads of counts) {
      const out = execFileSync(process.execPath, [...process.execArgv, self, '--child', String(threads), '--runs', String(runs)], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      const r = JSON.parse(out.trim().split('\n').at(-1)!) as Result;
      if (args.json) console.log(JSON.stringify({ round, ...r }));
      const prev = best.get(threads);
      if (prev) {
        for (const [k, v] of Object.entries(r.ms)) {
          const p = prev.ms[k];
          if (typeof v === 'number' && (typeof p !== 'number' || v < p)) prev.ms[k] = v;
        }
        prev.initMs = Math.min(prev.initMs, r.initMs);
      } else best.set(threads, r);
    }
  }
  const results = counts.map((t) => best.get(t)!);
  if (!args.json) {
    const base = results[0];
    const rounds = Number(args.rounds) > 1 ? `, best of ${args.rounds} rounds` : '';
    console.log(`WASM backend, reference CNN, median of ${runs} after ${WARMUPS} warm-ups${rounds} (ms)`);
    console.log(['workload'.padEnd(18), ...results.map((r) => `${r.threads} thr (${r.actualThreads})`.padStart(14)), 'speed-up'.padStart(10)].join(''));
    for (const name of NAMES) {
      const cells = results.map((r) => String(r.ms[name]).padStart(14));
      const a = base.ms[name];
      const b = results.at(-1)!.ms[name];
      const speedup = typeof a === 'number' && typeof b === 'number' ? `${(a / b).toFixed(2)}×` : '-';
      console.log([name.padEnd(18), ...cells, speedup.padStart(10)].join(''));
    }
    console.log(['backend init'.padEnd(18), ...results.map((r) => String(r.initMs).padStart(14))].join(''));
  }
}
