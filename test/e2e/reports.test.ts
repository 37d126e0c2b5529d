/**
 * Each kind of run report as a reader opens it: tiny real runs made by the CLI (train, attack,
 * robustness, transfer, demo, adapt, gan train, text attack: a few images, few steps), their report.html opened in
 * Debian's Chromium (via playwright-core) from the run folder, checked to have loaded every image
 * and chart it shows, and screenshotted to test-artifacts/reports/<kind>.png.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Browser } from 'playwright-core';
import { advxRun } from '../helpers/cli.ts';
import { ROOT, launchChromium } from './helpers.ts';

const WAIT = 60_000;
const SHOTS = join(ROOT, 'test-artifacts', 'reports');
const MODELS = join(ROOT, 'models');
const tmp = mkdtempSync(join(tmpdir(), 'advx-reports-e2e-'));

/** Run kind → the CLI's arguments (its run folder is tmp/<kind>), and what its report must show. */
const RUNS: Record<string, { args: string[]; images: number; tables: number }> = {
  train: { args: ['train', '--model', 'mlp', '--data', 'mnist', '--epochs', '1', '--limit', '300', '--seed', '1'], images: 1, tables: 0 },
  attack: { args: ['attack', '--model', join(MODELS, 'mnist-cnn'), '--attack', 'pgd', '--eps', '0.2', '--steps', '5', '--limit', '8', '--images', '8'], images: 8, tables: 0 },
  robustness: { args: ['robustness', '--model', join(MODELS, 'mnist-cnn'), '--attacks', 'fgsm,pgd', '--eps', '0.1,0.2', '--steps', '3', '--limit', '8'], images: 1, tables: 0 },
  transfer: { args: ['transfer', '--models', `${join(MODELS, 'mnist-cnn')},${join(MODELS, 'mnist-robust')}`, '--attack', 'fgsm', '--eps', '0.2', '--limit', '8'], images: 0, tables: 1 },
  demo: { args: ['demo', '--limit', '8'], images: 2, tables: 0 },
  adapt: { args: ['adapt', '--method', 'dann', '--epochs', '1', '--limit', '256', '--target-limit', '256', '--test-limit', '200', '--batch', '32', '--embed', '60', '--no-tsne', '--seed', '3'], images: 4, tables: 1 },
  gan: { args: ['gan', 'train', '--arch', 'dcgan', '--data', 'mnist', '--steps', '6', '--width', '8', '--batch', '16', '--limit', '200', '--seed', '5', '--checkpoint-every', '3', '--sample-every', '3'], images: 3, tables: 0 },
  'text-attack': { args: ['text-attack', '--model', join(MODELS, 'spam-word'), '--attack', 'synonyms', '--limit', '4'], images: 0, tables: 1 },
};

let browser: Browser;
const made: Record<string, { status: number | null; stderr: string }> = {};

before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  if (!existsSync(join(ROOT, 'dist', 'cli', 'main.js'))) throw new Error('the CLI is not built: npm run build:lib');
  // Three at a time, one wasm thread each: the runs are small and spend much of their time starting up.
  const kinds = Object.keys(RUNS);
  const lanes = [0, 1, 2].map((l) => kinds.filter((_, i) => i % 3 === l));
  const [b] = await Promise.all([
    launchChromium(WAIT),
    ...lanes.map(async (lane) => {
      for (const kind of lane) {
        const t0 = performance.now();
        made[kind] = await advxRun([...RUNS[kind].args, '--threads', '1', '--quiet', '--out', join(tmp, kind)]);
        process.stderr.write(`reports: ${kind} run in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
      }
    }),
  ]);
  browser = b as Browser;
});

after(async () => {
  await browser?.close();
  rmSync(tmp, { recursive: true, force: true });
});

for (const [kind, want] of Object.entries(RUNS)) {
  test(`report of a ${kind} run: loads its images and charts in Chromium`, { timeout: WAIT }, async () => {
    assert.equal(made[kind]?.status, 0, made[kind]?.stderr);
    const file = join(tmp, kind, 'report.html');
    assert.ok(existsSync(file), `${kind} wrote report.html`);
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    page.setDefaultTimeout(WAIT);
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('requestfailed', (r) => errors.push(`failed: ${r.url().slice(0, 120)}`));
    await page.goto(pathToFileURL(file).href, { waitUntil: 'load' });
    const images = await page.locator('img').evaluateAll((imgs) => imgs.map((i) => ({ src: (i as HTMLImageElement).src.slice(0, 60), ok: (i as HTMLImageElement).complete && (i as HTMLImageElement).naturalWidth > 0 })));
    assert.ok(images.length + (await page.locator('svg').count()) >= want.images, `${kind}: ${images.length} images, at least ${want.images} wanted`);
    assert.deepEqual(images.filter((i) => !i.ok), [], `${kind}: every image loaded`);
    assert.ok((await page.locator('table').count()) >= want.tables, `${kind}: a results table`);
    assert.ok((await page.locator('h1').count()) >= 1, `${kind}: a title`);
    await page.screenshot({ path: join(SHOTS, `${kind}.png`), fullPage: true });
    await page.close();
    assert.deepEqual(errors, []);
  });
}
