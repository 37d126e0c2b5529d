/**
 * The wasm and webgl backends in Chromium, on a page bundled from src/index.ts: the wasmPaths
 * option loads the .wasm files from where they are served, and each way of not finding them
 * (wrong folder, none given, a page served in place of the file) fails with a message naming the
 * file, its URL and what the server said. Each case is a fresh page: TF.js's wasm backend cannot
 * retry in the page where it failed. And webgl: started when the app imported its package, and
 * named as the package to install when it did not.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import type { Browser } from 'playwright-core';
import { launchChromium } from '../e2e/helpers.ts';
import { folders, serveFiles, type StaticServer } from '../helpers/static-server.ts';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const WASM_DIR = dirname(createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm'));
const WAIT = 60_000;

// The page: ?backend= and ?wasmPaths= as useBackend's arguments, ?import=webgl to import that
// backend's package first; then FGSM on a hand-made
// logistic model (class 0 for [0.6, 0.4]) and the tensor count before and after, in window.__result.
const PAGE = `
import * as tf from '@tensorflow/tfjs-core';
import { Classifier, fgsm, useBackend } from '../../src/index.ts';
const q = new URLSearchParams(location.search);
async function run() {
  // What an app does for webgl, an optional peer of advx: import the package itself.
  if (q.get('import') === 'webgl') await import('@tensorflow/tfjs-backend-webgl');
  await useBackend(q.get('backend'), q.has('wasmPaths') ? { wasmPaths: q.get('wasmPaths') } : {});
  const w = tf.tensor2d([[1, -1], [-1, 1]]);
  const model = new Classifier((x) => tf.matMul(x, w), { inputShape: [2], numClasses: 2, bounds: [0, 1] });
  const x = tf.tensor2d([[0.6, 0.4]]);
  const labels = tf.tensor1d([0], 'int32');
  const tensors = tf.memory().numTensors;
  const r = await fgsm(model, x, { labels }, { eps: 0.3 });
  const after = Array.from(await model.predict(r.adversarial));
  r.adversarial.dispose();
  const leaked = tf.memory().numTensors - tensors;
  const before = Array.from(await model.predict(x));
  tf.dispose([w, x, labels]);
  return { backend: tf.getBackend(), before, after, success: r.success, leaked };
}
run().then((r) => (window.__result = r), (e) => (window.__result = { error: String(e?.message ?? e), name: e?.name }));
`;

const dist = mkdtempSync(join(tmpdir(), 'advx-browser-wasm-'));
let server: StaticServer;
let browser: Browser;

before(async () => {
  await build({ stdin: { contents: PAGE, resolveDir: HERE, loader: 'ts', sourcefile: 'page.ts' }, bundle: true, platform: 'browser', format: 'esm', outfile: join(dist, 'page.js'), logLevel: 'silent' });
  writeFileSync(join(dist, 'index.html'), '<!doctype html><meta charset="utf-8"><script type="module" src="/page.js"></script>');
  const files = folders({ '/': dist, '/tfjs/': WASM_DIR });
  // /app/ is the page in a subfolder with no .wasm beside it; /spa/ answers every path with the
  // page, as dev servers and single-page-app hosts do for a missing file.
  server = await serveFiles((path) => (path.startsWith('/spa/') || path.startsWith('/app/') && path.endsWith('/') ? join(dist, 'index.html') : files(path)));
  browser = await launchChromium(WAIT);
});

after(async () => {
  await browser?.close();
  await server?.close();
  rmSync(dist, { recursive: true, force: true });
});

async function open(path: string): Promise<Record<string, unknown>> {
  const page = await browser.newPage();
  try {
    await page.goto(server.origin + path);
    await page.waitForFunction(() => (window as { __result?: unknown }).__result !== undefined, undefined, { timeout: WAIT });
    return (await page.evaluate(() => (window as { __result?: unknown }).__result)) as Record<string, unknown>;
  } finally {
    await page.close();
  }
}

test('wasmPaths as a folder: the wasm backend starts from there, and FGSM flips the class without leaking tensors', async () => {
  const r = await open('/?backend=wasm&wasmPaths=/tfjs/');
  assert.deepEqual(r, { backend: 'wasm', before: [0], after: [1], success: [true], leaked: 0 });
  assert.ok(server.requested.includes('/tfjs/tfjs-backend-wasm-simd.wasm'), server.requested.join(' '));
});

test('wasmPaths pointing to a missing folder: the error names the file, its URL and the 404', async () => {
  const r = await open('/?backend=wasm&wasmPaths=/nowhere/');
  assert.equal(r.name, 'AdvxError');
  assert.match(String(r.error), new RegExp(`could not load tfjs-backend-wasm-simd\\.wasm from ${server.origin}/nowhere/tfjs-backend-wasm-simd\\.wasm \\(HTTP 404\\): check useBackend's wasmPaths`));
});

test('no wasmPaths and no .wasm beside the page: the error names the URL TF.js used and says to pass wasmPaths', async () => {
  const r = await open('/app/?backend=wasm');
  assert.match(String(r.error), new RegExp(`could not load tfjs-backend-wasm-simd\\.wasm from ${server.origin}/app/tfjs-backend-wasm-simd\\.wasm \\(HTTP 404\\): serve the \\.wasm files .*useBackend\\('wasm', \\{ wasmPaths \\}\\)`));
  assert.ok(server.requested.includes('/app/tfjs-backend-wasm-simd.wasm'), 'TF.js itself looked there');
});

test('a page served in place of the .wasm file is named as such', async () => {
  const r = await open('/spa/?backend=wasm');
  assert.match(String(r.error), /tfjs-backend-wasm-simd\.wasm from http:\/\/127\.0\.0\.1:\d+\/spa\/tfjs-backend-wasm-simd\.wasm: the server answered HTTP 200 with text\/html; charset=utf-8, not a WebAssembly file/);
});

test('webgl without its package imported: the error names the package to install', async () => {
  const r = await open('/?backend=webgl');
  assert.equal(r.name, 'AdvxError');
  assert.match(String(r.error), /backend "webgl" needs the package @tensorflow\/tfjs-backend-webgl: install it \(npm install @tensorflow\/tfjs-backend-webgl@4\.22\.0\) and import it/);
});

test('webgl imported by the app: useBackend starts it, and FGSM runs on it', async () => {
  const r = await open('/?backend=webgl&import=webgl');
  assert.deepEqual(r, { backend: 'webgl', before: [0], after: [1], success: [true], leaked: 0 });
});
