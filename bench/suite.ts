/**
 * `npm run bench:suite`: how long AutoAttack's standard suite takes on the first `--limit` MNIST
 * test images of a robust model (each attack on what the earlier ones left), and, in the same run,
 * the pgd40 workload in advx and in PyTorch (`torch_reference.py`), so the suite's per-gradient
 * cost can be set beside PyTorch's. No PyTorch port of the whole suite exists here, so the
 * comparison is per input gradient: APGD-CE's and APGD-T's seconds per (image × step) against
 * pgd40's ms / (128 images × 40 steps) on the same CNN architecture (random weights there).
 * Rewrites the suite section of BENCHMARKS.md.
 *
 *   npm run bench:suite -- [--model models/mnist-robust] [--limit 500] [--threads N] [--no-write]
 */
import * as tf from '@tensorflow/tfjs-core';
import { execFileSync } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { useBackend } from '../src/backend/index.ts';
import { subset, toTensors } from '../src/data/types.ts';
import { evaluateRobustness } from '../src/eval/robustness.ts';
import { loadDataset } from '../src/node/datasets/index.ts';
import { appendSection, markSection, replaceSection } from './sections.ts';
import { loadClassifier } from '../src/node/io/load-model.ts';
import { WORKLOADS } from './workloads.ts';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const { values: args } = parseArgs({
  options: {
    model: { type: 'string', default: 'models/mnist-robust' },
    limit: { type: 'string', default: '500' },
    threads: { type: 'string' },
    'no-write': { type: 'boolean', default: false },
    torch: { type: 'string', default: join(root, '../shared/bench/torch_reference.py') },
  },
});
const log = (msg: string) => process.stderr.write(`${msg}\n`);
// The machine's load before and after: other jobs on the cores distort both sides, PyTorch's more.
const loadBefore = loadavg()[0];
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

await useBackend('wasm', { threads: args.threads ? Number(args.threads) : undefined });
const { classifier } = await loadClassifier(resolve(root, args.model));
const { x, y } = toTensors(subset(loadDataset('mnist').test, 0, Number(args.limit)));
const report = await evaluateRobustness(classifier, x, y, { suite: 'standard', eps: [0.3], seed: 0, batchSize: 250, onBlock: (b) => void log(`block ${b.block}: ${b.examples.length} images done`) });
tf.dispose([x, y]);

// pgd40 in advx, then in PyTorch, right after the suite on the same machine.
const spec = WORKLOADS.find((w) => w.name === 'pgd40')!;
const w = spec.make(spec.batch);
await w.step();
const times: number[] = [];
for (let i = 0; i < 3; i++) {
  const t = performance.now();
  await w.step();
  times.push(performance.now() - t);
}
w.dispose();
const advxPgd = median(times);
let torchPgd: number | null = null;
try {
  const out = execFileSync('/usr/bin/python3', [args.torch!, '--only', 'pgd40', '--runs', '9'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  torchPgd = JSON.parse(out.trim().split('\n').at(-1)!).ms;
} catch (e) {
  log(`PyTorch reference not run (${(e as Error).message.split('\n')[0]}); install it with: apt-get install -y python3-torch libopenblas0-pthread`);
}
const perGrad = (ms: number) => ms / (spec.batch * 40);
const rows = report.attacks.map((a) => {
  const n = a.attacked['0.3'];
  // Input gradients per image: APGD-CE 100, APGD-T 100 per target; FAB-T 100 per target (one
  // Jacobian row pair each); Square asks for scores, not gradients.
  return { ...a, n, perImage: n ? a.seconds / n : 0 };
});
const note = '(written by `npm run bench:suite`; do not edit by hand)';
const lines = [
  `Measured ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC on ${cpus().length} × ${cpus()[0]?.model}, wasm backend${args.threads ? `, ${args.threads} thread(s)` : ''}: AutoAttack's standard suite (L∞ ε = 0.3) on the first ${report.count} MNIST test images of \`${args.model}\`, each attack on the images the earlier ones left; ${report.seconds.toFixed(0)} s in all (${((1000 * report.seconds) / report.count).toFixed(0)} ms per image), worst case ${(100 * report.robust_accuracy['0.3']).toFixed(2)}%. Load average ${loadBefore.toFixed(1)} at the start, ${loadavg()[0].toFixed(1)} at the end (above the core count, other jobs shared the machine and the times are upper bounds).`,
  '',
  '| attack | images attacked | s | s per attacked image |',
  '| --- | ---: | ---: | ---: |',
  ...rows.map((r) => `| ${r.name} | ${r.n} | ${r.seconds.toFixed(1)} | ${r.perImage.toFixed(3)} |`),
  '',
  `Per input gradient, in the same run: advx pgd40 ${advxPgd.toFixed(0)} ms per 128 images × 40 steps = ${(1000 * perGrad(advxPgd)).toFixed(1)} µs per image-step; PyTorch ${torchPgd === null ? 'not run' : `${torchPgd.toFixed(0)} ms = ${(1000 * perGrad(torchPgd)).toFixed(1)} µs per image-step (ratio torch/advx ${(torchPgd / advxPgd).toFixed(2)})`}; advx APGD-CE on the robust model ${rows[0].n ? ((1e6 * rows[0].seconds) / (rows[0].n * 100)).toFixed(1) : '—'} µs per image-step (batches of 250, with its checkpoints and bookkeeping).`,
];
process.stdout.write(`${markSection('suite', lines.join('\n'), note)}\n`);
if (!args['no-write']) {
  const path = join(root, 'BENCHMARKS.md');
  replaceSection(path, 'suite', lines.join('\n'), { note, ifMissing: appendSection("## AutoAttack's standard suite") });
  log(`wrote ${path}`);
}
process.exit(0);
