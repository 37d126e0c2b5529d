/**
 * `npm run results:pix2pix`: pix2pix (src/gan/pix2pix.ts) on MNIST → MNIST-M colouring, the
 * L1-only baseline (λ_adv = 0) against L1 + cGAN (λ_adv = 1, λ_L1 = 100), same seed, same steps.
 * Writes docs/gan/pix2pix.png (rows of held-out examples: input | L1-only | L1 + cGAN | target), the
 * raw numbers to runs/pix2pix/results.json, and the pix2pix section of RESULTS.md (between its
 * markers; other sections untouched) with, on held-out pairs of the training split (same photo
 * pool), the L1 error against the target and a sharpness measure: the mean gradient magnitude
 * √(∂x² + ∂y²) of the images (forward differences, per channel, pixels in [0, 1]), next to the
 * targets' own. The background photo patch is not predictable from the digit, so L1 regresses to
 * flat mean colours (low sharpness), while the adversarial term should push towards textures as
 * sharp as the targets', at some L1 cost.
 *
 *   npm run results:pix2pix -- [--steps 3000] [--train 10000] [--test 1000] [--batch 16] [--width 32] [--seed 0] [--rows 8] [--threads 1] [--results RESULTS.md] [--image docs/gan/pix2pix.png]
 */
import { mkdirSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../src/backend/index.ts';
import { subset } from '../src/data/types.ts';
import { trainPix2pix, translateImages, type Pix2pixHistory } from '../src/gan/pix2pix.ts';
import { writeFileAtomic } from '../src/node/io/files.ts';
import { appendSection, replaceSection } from './sections.ts';
import { loadPix2pixPairs } from '../src/node/datasets/pix2pix.ts';
import { encodePng, imageGrid } from '../src/node/io/png.ts';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({
  options: {
    steps: { type: 'string', default: '3000' },
    train: { type: 'string', default: '10000' },
    test: { type: 'string', default: '1000' },
    batch: { type: 'string', default: '16' },
    width: { type: 'string', default: '32' },
    seed: { type: 'string', default: '0' },
    rows: { type: 'string', default: '8' },
    'log-every': { type: 'string', default: '100' },
    threads: { type: 'string', default: '1' },
    /** The Markdown file to update (for checking the script without touching RESULTS.md). */
    results: { type: 'string', default: 'RESULTS.md' },
    /** The picture to write. */
    image: { type: 'string', default: 'docs/gan/pix2pix.png' },
  },
});
const num = (k: keyof typeof values, min: number) => {
  const v = Number(values[k]);
  if (!Number.isInteger(v) || v < min) throw new Error(`--${k} must be an integer ≥ ${min}, got ${values[k]}`);
  return v;
};
const steps = num('steps', 1);
const nTrain = num('train', 1);
const nTest = num('test', 1);
const batchSize = num('batch', 1);
const width = num('width', 1);
const seed = num('seed', 0);
const rows = Math.min(num('rows', 1), nTest);
const logEvery = num('log-every', 1);
await useBackend('wasm', { threads: Number(values.threads) });
const log = (s: string) => console.error(`[pix2pix] ${s}`);
const command = ['npm run results:pix2pix', ...(process.argv.length > 2 ? ['--', ...process.argv.slice(2)] : [])].join(' ');

// Held-out pairs come from the training split (images nTrain … nTrain + nTest − 1, never trained
// on): MNIST-M's test split cuts its backgrounds from other photographs, a domain shift that is
// not what this comparison is about.
const all = loadPix2pixPairs('mnist-mnistm', { limit: { train: nTrain + nTest, test: 0 } }).train;
if (all.input.count < nTrain + nTest) throw new Error(`--train + --test must be ≤ ${all.input.count}`);
const train = { input: subset(all.input, 0, nTrain), target: subset(all.target, 0, nTrain) };
const test = { input: subset(all.input, nTrain, nTest), target: subset(all.target, nTrain, nTest) };
const [h, w] = test.target.shape;
const c = test.target.shape[2];
const size = h * w * c;

/** Mean over images, pixels and channels of √(∂x² + ∂y²) (forward differences, the last row/column excluded). */
function sharpness(images: Float32Array, count: number): number {
  let s = 0;
  for (let i = 0; i < count; i++) {
    const o = i * size;
    for (let y = 0; y + 1 < h; y++) {
      for (let x = 0; x + 1 < w; x++) {
        for (let k = 0; k < c; k++) {
          const p = o + (y * w + x) * c + k;
          const dx = images[p + c] - images[p];
          const dy = images[p + w * c] - images[p];
          s += Math.sqrt(dx * dx + dy * dy);
        }
      }
    }
  }
  return s / (count * (h - 1) * (w - 1) * c);
}

function meanAbs(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += Math.abs(a[i] - b[i]);
  return s / a.length;
}

interface Run {
  name: string;
  lambdaAdv: number;
  l1: number;
  sharpness: number;
  seconds: number;
  history: Pix2pixHistory;
  outputs: Float32Array;
}

const runs: Run[] = [];
for (const [name, lambdaAdv] of [['L1 only', 0], ['L1 + cGAN', 1]] as const) {
  log(`${name}: ${steps} steps on ${train.input.count} pairs, batch ${batchSize}, width ${width}`);
  const r = await trainPix2pix(train, {
    steps,
    seed,
    batchSize,
    width,
    lambdaAdv,
    logEvery,
    onStep: (s) => log(`${name} step ${s.step}/${s.steps}: L1 ${s.l1.toFixed(4)}${lambdaAdv ? `, adv ${s.adv.toFixed(3)}, D ${s.dLoss.toFixed(3)}` : ''}`),
  });
  const outputs = translateImages(r.generator, test.input);
  runs.push({ name, lambdaAdv, l1: meanAbs(outputs, test.target.images.subarray(0, test.input.count * size)), sharpness: sharpness(outputs, test.input.count), seconds: r.seconds, history: r.history, outputs });
  r.dispose();
}
const targetSharpness = sharpness(test.target.images, test.target.count);

// The picture: one row per held-out example, input (grey → RGB) | L1 only | L1 + cGAN | target, ×3 nearest.
const cols = 4;
const tiles = new Float32Array(rows * cols * size);
for (let i = 0; i < rows; i++) {
  const base = (i * cols) * size;
  for (let p = 0; p < h * w; p++) for (let k = 0; k < c; k++) tiles[base + p * c + k] = test.input.images[i * h * w + p];
  tiles.set(runs[0].outputs.subarray(i * size, (i + 1) * size), base + size);
  tiles.set(runs[1].outputs.subarray(i * size, (i + 1) * size), base + 2 * size);
  tiles.set(test.target.images.subarray(i * size, (i + 1) * size), base + 3 * size);
}
const grid = imageGrid(tiles, rows * cols, h, w, c, cols, 2, 1);
const scale = 3;
const big = new Float32Array(grid.width * scale * grid.height * scale * c);
for (let y = 0; y < grid.height * scale; y++) {
  for (let x = 0; x < grid.width * scale; x++) {
    const src = (Math.floor(y / scale) * grid.width + Math.floor(x / scale)) * c;
    big.set(grid.pixels.subarray(src, src + c), (y * grid.width * scale + x) * c);
  }
}
const imagePath = resolve(root, values.image);
mkdirSync(dirname(imagePath), { recursive: true });
writeFileAtomic(imagePath, encodePng(big, grid.width * scale, grid.height * scale, 3));

const minutes = runs.reduce((s, r) => s + r.seconds, 0) / 60;
const relImage = values.image;
const lines = [
  `pix2pix (\`src/gan/pix2pix.ts\`: U-Net generator of width ${width}, 28×28 padded to 32×32 inside, PatchGAN discriminator with 7×7 patch logits) colouring MNIST digits into MNIST-M (same digit, background cut from a photo by a seeded Rng: not predictable from the input). ${steps} steps, batch ${batchSize}, Adam 2e-4 (β 0.5, 0.999), λ_L1 = 100, seed ${seed}, on the first ${train.input.count} training pairs; measured on the next ${test.input.count} (held out; MNIST-M's test split would add a shift to other photographs). Sharpness: mean gradient magnitude √(∂x² + ∂y²) per pixel and channel (targets: ${targetSharpness.toFixed(4)}).`,
  '',
  '| generator loss | L1 error (held out) | sharpness | sharpness / targets\' | training time |',
  '|---|---:|---:|---:|---:|',
  ...runs.map((r) => `| ${r.name} (λ_adv = ${r.lambdaAdv}) | ${r.l1.toFixed(4)} | ${r.sharpness.toFixed(4)} | ${(r.sharpness / targetSharpness).toFixed(2)} | ${(r.seconds / 60).toFixed(1)} min |`),
  '',
  `![pix2pix: input, L1 only, L1 + cGAN, target](${relImage})`,
  '',
  `Columns of \`${relImage}\`: input | L1 only | L1 + cGAN | target. Measured ${new Date().toISOString().slice(0, 10)} on ${cpus().length} × ${cpus()[0]?.model}, wasm backend, ${values.threads} thread(s), ${minutes.toFixed(1)} min of training: \`${command}\`.`,
];
console.log(lines.join('\n'));

const outDir = join(root, 'runs/pix2pix');
mkdirSync(outDir, { recursive: true });
writeFileAtomic(
  join(outDir, 'results.json'),
  JSON.stringify({ command, steps, train: train.input.count, test: test.input.count, batchSize, width, seed, targetSharpness, runs: runs.map(({ outputs: _o, ...r }) => r) }, null, 2),
);
replaceSection(resolve(root, values.results), 'pix2pix', lines.join('\n'), {
  note: '(written by `npm run results:pix2pix`)',
  newFile: '# Results\n',
  ifMissing: appendSection('## pix2pix'),
});
log(`tensors left: ${tf.memory().numTensors}`);
