/**
 * ONNX Runtime Web in the lab, the CLI's `--runtime onnxruntime` in the browser: an ONNX file with
 * an op the importer lacks (Softsign) runs there as a black box instead of being refused, and the
 * PyTorch ResNet runs there when chosen. On the same images the page's clean accuracy is
 * `advx evaluate --runtime onnxruntime`'s; gradient attacks are off with the reason shown; a square
 * attack with a small query budget runs and reports the queries it used. ONNX Runtime's .wasm
 * comes from the lab itself (the CSP allows nothing else), and only once a file needs it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { loadDataset } from '../../src/node/datasets/index.ts';
import { advx, lastJson } from '../helpers/cli.ts';
import { writeImageFolder, zipOf } from '../helpers/image-folder.ts';
import { twoHeads } from '../helpers/onnx-models.ts';
import { ARTIFACTS, ROOT, labInBrowser } from './helpers.ts';

const WAIT = 60_000;
const RESNET = join(ROOT, 'test', 'fixtures', 'onnx', 'resnet-mnistm.onnx');
const RESNET_INFO = join(ROOT, 'test', 'fixtures', 'onnx', 'resnet-mnistm.advx.json');
const COUNT = 12;
const QUERIES = 40;
const lab = labInBrowser('onnx-runtime', WAIT);

const DIGITS = Array.from({ length: 10 }, (_, i) => String(i));

/** `count` test images of `dataset` as class folders, the first three filed under the next class (an accuracy that is not simply 0 or 100%). */
function folder(dir: string, dataset: 'mnist' | 'mnist-m', count: number): string {
  const data = loadDataset(dataset, { limit: { train: 0, test: count } }).test;
  writeImageFolder(dir, data, count, DIGITS);
  for (let i = 0; i < 3; i++) {
    const wrong = DIGITS[(data.labels[i] + 1) % 10];
    mkdirSync(join(dir, wrong), { recursive: true });
    renameSync(join(dir, DIGITS[data.labels[i]], `0000${i}.png`), join(dir, wrong, `0000${i}.png`));
  }
  return dir;
}

function cliAccuracy(model: string, data: string): number {
  const r = advx(['evaluate', '--model', model, '--runtime', 'onnxruntime', '--data', data, '--json']);
  assert.equal(r.status, 0, r.stderr);
  const out = lastJson(r.stdout);
  assert.equal(out.count, COUNT);
  assert.equal(out.runtime, 'onnxruntime');
  return out.accuracy as number;
}

/** Uploads a model and waits until the folder card offers it. */
async function uploadModel(page: Page, files: string[]): Promise<void> {
  const before = await page.locator('#batch-model option[value^="upload:"]').count();
  await page.locator('#upload').setInputFiles(files);
  await page.waitForFunction((n) => document.querySelectorAll('#batch-model option[value^="upload:"]').length > n && (document.querySelector('#batch-model') as HTMLSelectElement).value.startsWith('upload:'), before);
}

/**
 * Uploads a zip of `dir` and waits for the card's clean accuracy on it. Choosing a new model
 * re-evaluates the images already there, which may finish after this upload started: the
 * evaluation waited for is the one that names this zip.
 */
async function evaluateZip(page: Page, dir: string, name: string): Promise<number> {
  await page.locator('#upload-zip').setInputFiles([{ name, mimeType: 'application/zip', buffer: Buffer.from(zipOf(dir, name.replace(/\.zip$/, ''))) }]);
  await page.waitForFunction((zip) => {
    const card = document.querySelector<HTMLElement>('#batch');
    return card?.dataset.state === 'evaluated' && document.querySelector('#batch-data')?.textContent?.startsWith(`${zip}: ${card.dataset.count} of `);
  }, name);
  return Number(await page.locator('#batch').getAttribute('data-clean-accuracy'));
}

test('explorer: ONNX Runtime Web runs an op the importer lacks and a chosen ResNet as black boxes, clean accuracy as the CLI, square reports queries', { timeout: 120_000 }, async () => {
  const started = performance.now();
  const tmp = mkdtempSync(join(tmpdir(), 'advx-ort-e2e-'));
  try {
    // The Softsign head ("b", constant class 1) with its advx.json, as the CLI reads it beside the file.
    const softsign = join(tmp, 'softsign.onnx');
    writeFileSync(softsign, twoHeads(true));
    const softsignInfo = join(tmp, 'softsign.advx.json');
    writeFileSync(softsignInfo, JSON.stringify({ outputName: 'b', classNames: DIGITS }));
    const mnist = folder(join(tmp, 'mnist'), 'mnist', COUNT);
    const mnistm = folder(join(tmp, 'mnistm'), 'mnist-m', COUNT);
    const [cliSoftsign, cliResnet] = [cliAccuracy(softsign, mnist), cliAccuracy(RESNET, mnistm)];

    const page = await lab.browser.newPage({ viewport: { width: 1366, height: 1000 } });
    page.setDefaultTimeout(WAIT);
    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));
    const requests: string[] = [];
    const gets: string[] = [];
    page.on('request', (r) => {
      requests.push(r.url());
      if (r.method() === 'GET') gets.push(r.url());
    });
    await page.goto(`${lab.url}?backend=wasm#/explorer`);
    await page.locator('#page-explorer[data-ready="true"]').waitFor();
    assert.ok(!requests.some((u) => /ort-wasm|onnx-runtime/.test(u)), 'ONNX Runtime is not part of the first load');

    // An op the importer lacks: no error, a black box in ONNX Runtime Web, its white-box attacks off.
    await uploadModel(page, [softsign, softsignInfo]);
    assert.match(await page.locator('#upload-info').innerText(), /28×28×1 images, 10 classes \(logits\), black box in ONNX Runtime Web \(ONNX op "Softsign" \(node "b"\) is not supported/);
    assert.equal(await page.locator('#error').isHidden(), true);
    assert.match(await page.locator('#batch-access').innerText(), /Gradient attacks are off: this model runs in ONNX Runtime Web, a black box without gradients/);
    assert.equal(await page.locator('#batch-attack option[value="pgd"]').isDisabled(), true);
    assert.equal(await page.locator('#batch-attack').inputValue(), 'square');
    // Not in web/dist: the lab serves it from the installed onnxruntime-web, of the bundled version.
    const wasm = gets.filter((u) => new URL(u).pathname.endsWith('.wasm') && u.includes('ort-wasm'));
    assert.equal(wasm.length, 1, `one ONNX Runtime .wasm fetched: ${wasm}`);
    assert.ok(wasm[0].startsWith(`${lab.url.replace(/\/$/, '')}/vendor/onnxruntime-web/`), `from the lab itself: ${wasm[0]}`);
    const labSoftsign = await evaluateZip(page, mnist, 'mnist.zip');
    assert.equal(labSoftsign, cliSoftsign, `Softsign model: the lab's clean accuracy ${labSoftsign} is the CLI's ${cliSoftsign}`);

    // The ResNet with ONNX Runtime Web chosen over the importer, on MNIST-M images.
    await page.locator('#upload-runtime').selectOption('onnxruntime');
    await uploadModel(page, [RESNET, RESNET_INFO]);
    assert.match(await page.locator('#upload-info').innerText(), /28×28×3 images, 10 classes \(logits\), black box in ONNX Runtime Web \(ONNX Runtime Web chosen\)/);
    const labResnet = await evaluateZip(page, mnistm, 'mnistm.zip');
    assert.equal(labResnet, cliResnet, `ResNet: the lab's clean accuracy ${labResnet} is the CLI's ${cliResnet}`);
    assert.ok(cliResnet > 0.5 && cliResnet <= (COUNT - 3) / COUNT, `three images are mislabelled, the CLI says ${cliResnet}`);

    // Square (L∞ ε 0.1) with a budget of QUERIES per image.
    await page.locator('#batch-attack').selectOption('square');
    await page.locator('#batch-eps').fill('0.1');
    await page.locator('#batch-steps').fill(String(QUERIES));
    assert.equal(await page.locator('label[for="batch-steps"]').innerText(), 'Queries');
    await page.locator('#batch-run').click();
    await page.locator('#batch[data-state="done"]').waitFor();
    const card = page.locator('#batch');
    const [total, most, flipped, correct] = await Promise.all(['data-queries', 'data-max-queries', 'data-flipped', 'data-correct'].map((a) => card.getAttribute(a)));
    assert.ok(Number(total) >= COUNT && Number(most) <= QUERIES, `queries: ${total} in all, at most ${most} per image`);
    assert.match(await page.locator('#batch-queries').innerText(), new RegExp(`on average, at most ${most} \\(budget ${QUERIES}\\)`));
    assert.equal(await page.locator('#batch-pairs figure').count(), 8);
    await page.screenshot({ path: join(ARTIFACTS, 'explorer-onnx-runtime.png'), fullPage: true });
    assert.equal(await page.locator('#error').isHidden(), true, 'no error');
    assert.deepEqual(pageErrors, [], 'no uncaught page errors');
    await page.close();
    process.stderr.write(`onnx-runtime: Softsign accuracy CLI ${cliSoftsign} = lab ${labSoftsign}; ResNet CLI ${cliResnet} = lab ${labResnet}; square ${QUERIES} queries: ${total} in all, flipped ${flipped}/${correct}; ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});
