/**
 * The explorer as a researcher expects it, in a real browser (Debian's Chromium via
 * playwright-core, against the built lab served by `advx lab`): only image classifiers are
 * offered as targets (read from each model's advx.json: no GAN generator, no text model); a
 * model gets its own dataset's test images and class names (Fashion-MNIST: T-shirt/top, Trouser,
 * …; MNIST-M in colour); an attack on the Fashion-MNIST model flips its prediction; the transfer
 * card crafts on one model and reports another's predictions and the transfer rate. Screenshots of
 * each lab view go to test-artifacts/e2e/.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { loadDataset } from '../../src/node/datasets/index.ts';
import { writeImageFolder, zipOf } from '../helpers/image-folder.ts';
import { ARTIFACTS, ROOT, labInBrowser } from './helpers.ts';

const WAIT = 60_000;
const lab = labInBrowser('explorer', WAIT);
const pageErrors: string[] = [];

async function newPage(): Promise<Page> {
  const page = await lab.browser.newPage({ viewport: { width: 1366, height: 900 } });
  page.setDefaultTimeout(WAIT);
  page.on('pageerror', (e) => {
    pageErrors.push(e.message);
    process.stderr.write(`page error: ${e.message}\n`);
  });
  return page;
}

const FASHION = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'];

async function openExplorer(page: Page, query = ''): Promise<void> {
  await page.goto(`${lab.url}?backend=wasm${query}#/explorer`);
  await page.locator('#page-explorer[data-ready="true"]').waitFor();
  await page.locator('#panel-a[data-clean-pred]').waitFor();
}

test('explorer: lists only image classifiers; Fashion-MNIST model gets Fashion-MNIST images and class names, and PGD flips it', { timeout: 120_000 }, async () => {
  const page = await newPage();
  // The lab serves every model folder; the explorer offers only those whose advx.json states an image classifier.
  const served = (await (await page.request.get(`${lab.url}api/models`)).json()) as { models: Array<{ name: string }> };
  const names = served.models.map((m) => m.name);
  for (const n of ['dcgan-mnist', 'spam-word', 'fashion-cnn']) assert.ok(names.includes(n), `${n} is served`);
  await openExplorer(page);
  const offered = await page.locator('#model-a option').evaluateAll((os) => os.map((o) => (o as HTMLOptionElement).value));
  assert.ok(offered.includes('shipped:mnist-cnn') && offered.includes('shipped:fashion-cnn') && offered.includes('shipped:dann-mnist-mnistm'), offered.join(', '));
  for (const bad of ['dcgan', 'spam']) assert.ok(!offered.some((v) => v.includes(bad)), `no ${bad} model among ${offered.join(', ')}`);
  const inBatch = await page.locator('#batch-model option').evaluateAll((os) => os.map((o) => (o as HTMLOptionElement).value));
  assert.ok(!inBatch.some((v) => /dcgan|spam/.test(v)), `folder card: ${inBatch.join(', ')}`);
  assert.equal(await page.locator('.thumbs').getAttribute('data-dataset'), 'mnist');
  await page.screenshot({ path: join(ARTIFACTS, 'lab-explorer.png'), fullPage: true });

  // The Fashion-MNIST model: its test images, its class names on the bars and in the goal menu.
  await page.locator('#model-a').selectOption('shipped:fashion-cnn');
  await page.locator('.thumbs[data-dataset="fashion-mnist"]').waitFor();
  await page.locator('#image-info[data-dataset="fashion-mnist"]').waitFor();
  await page.waitForFunction(() => document.querySelector('#panel-a .bars')?.classList.contains('named'));
  const barNames = await page.locator('#panel-a .bars .class-name').allInnerTexts();
  assert.deepEqual(barNames, FASHION);
  // The names come from the dataset's data, as shipped with the lab.
  const shipped = JSON.parse(readFileSync(join(ROOT, 'web', 'dist', 'data', 'fashion-mnist-test.json'), 'utf8')) as { classNames: string[]; labels: number[] };
  assert.deepEqual(shipped.classNames, FASHION);
  assert.match(await page.locator('#target').innerText(), /target 9 \(Ankle boot\)/);
  // Model B: only models of the same dataset (none shipped beside fashion-cnn).
  const bOptions = await page.locator('#model-b option').evaluateAll((os) => os.map((o) => (o as HTMLOptionElement).value));
  assert.deepEqual(bOptions, ['']);
  // An image the model gets right, then PGD.
  let index = 0;
  for (; index < 10; index++) {
    await page.locator(`.thumbs button[data-index="${index}"]`).click();
    await page.locator(`#image-info:has-text("#${index},")`).waitFor();
    await page.locator('#panel-a[data-clean-pred]').waitFor();
    if ((await page.locator('#panel-a').getAttribute('data-clean-pred')) === (await page.locator('#image-info').getAttribute('data-label'))) break;
  }
  const label = await page.locator('#image-info').getAttribute('data-label');
  assert.equal(await page.locator('#panel-a').getAttribute('data-clean-pred'), label, `fashion-cnn gets one of the first 10 images right`);
  assert.match(await page.locator('#image-info').innerText(), new RegExp(`Fashion-MNIST test image #${index}, label ${label} \\(${FASHION[Number(label)].replace('/', '\\/')}\\)`));
  await page.locator('#attack').selectOption('pgd');
  await page.locator('#eps').fill('0.15');
  await page.locator('#steps').fill('20');
  await page.locator('#run').click();
  await page.locator('#panel-a[data-state="done"]').waitFor();
  const panel = page.locator('#panel-a');
  assert.equal(await panel.getAttribute('data-success'), 'true', await panel.locator('.verdict').innerText());
  assert.notEqual(await panel.getAttribute('data-adv-pred'), label);
  assert.match(await panel.locator('.verdict').innerText(), new RegExp(`\\(${FASHION[Number(label)].replace('/', '\\/')}\\) → .*attack succeeded`));
  assert.equal(await page.locator('#error').isHidden(), true, 'no error shown');
  await page.screenshot({ path: join(ARTIFACTS, 'explorer-fashion-pgd.png'), fullPage: true });

  // The MNIST-M model: colour images of its own dataset.
  await page.locator('#model-a').selectOption('shipped:dann-mnist-mnistm');
  await page.locator('.thumbs[data-dataset="mnist-m"]').waitFor();
  await page.locator('#panel-a[data-clean-pred]').waitFor();
  assert.equal(await page.locator('#panel-a .bars .class-name').count(), 10);
  assert.equal(await page.locator('#error').isHidden(), true, 'no error shown');
  await page.screenshot({ path: join(ARTIFACTS, 'explorer-mnist-m.png'), fullPage: true });
  await page.close();
});

test('explorer: the transfer view crafts on one model and reports the other\'s predictions and the transfer rate', { timeout: 120_000 }, async () => {
  const page = await newPage();
  await openExplorer(page);
  await page.locator('#attack').selectOption('pgd');
  await page.locator('#eps').fill('0.2');
  await page.locator('#steps').fill('10');
  assert.equal(await page.locator('#transfer-source').inputValue(), 'shipped:mnist-cnn');
  const targets = await page.locator('#transfer-target option').evaluateAll((os) => os.map((o) => (o as HTMLOptionElement).value));
  assert.ok(targets.includes('shipped:mnist-robust') && !targets.includes('shipped:fashion-cnn') && !targets.includes('shipped:mnist-cnn'), targets.join(', '));
  await page.locator('#transfer-target').selectOption('shipped:mnist-robust');
  await page.locator('#transfer-count').fill('16');
  const tensors = await page.locator('body').getAttribute('data-tensors');
  await page.locator('#transfer-run').click();
  await page.locator('#transfer[data-state="done"]').waitFor();
  const card = page.locator('#transfer');
  const label = await page.locator('#image-info').getAttribute('data-label');
  assert.equal(await card.getAttribute('data-source-clean'), label, 'A gets the clean image right');
  assert.notEqual(await card.getAttribute('data-source-adv'), label, 'the attack crafted on A fools A');
  assert.match((await card.getAttribute('data-target-clean')) ?? '', /^\d$/);
  assert.match((await card.getAttribute('data-target-adv')) ?? '', /^\d$/);
  assert.equal(await card.getAttribute('data-count'), '16');
  const rate = Number(await card.getAttribute('data-transfer-rate'));
  assert.ok(rate >= 0 && rate <= 1, `transfer rate ${rate}`);
  assert.ok(Number(await card.getAttribute('data-white-box')) > 0.8, 'white-box PGD at ε 0.2 fools the undefended CNN');
  assert.equal(await page.locator('#transfer-table tr[data-role="target"] th').innerText(), 'B: mnist-robust');
  assert.match(await page.locator('#transfer-summary').innerText(), /transfer to B/);
  await page.locator('#transfer-run:not([disabled])').waitFor();
  assert.equal(await page.locator('body').getAttribute('data-tensors'), tensors, 'the transfer run frees every tensor it makes');
  assert.equal(await page.locator('#error').isHidden(), true, 'no error shown');
  await page.locator('#transfer').screenshot({ path: join(ARTIFACTS, 'explorer-transfer-card.png') });
  await page.screenshot({ path: join(ARTIFACTS, 'lab-transfer.png'), fullPage: true });
  await page.close();
});

test('explorer: a folder of the user\'s images, loaded in the folder card, becomes the explorer\'s images', { timeout: 60_000 }, async () => {
  const tmp = mkdtempSync(join(tmpdir(), 'advx-explorer-folder-'));
  try {
    const data = loadDataset('mnist', { limit: { train: 0, test: 12 } }).test;
    writeImageFolder(join(tmp, 'digits'), data, 12, data.classNames);
    const page = await newPage();
    await openExplorer(page);
    assert.equal(await page.locator('#image-source').isHidden(), true, 'one source of images: no menu');
    await page.locator('#batch-model').selectOption('shipped:mnist-cnn');
    await page.locator('#upload-zip').setInputFiles([{ name: 'digits.zip', mimeType: 'application/zip', buffer: Buffer.from(zipOf(join(tmp, 'digits'), 'digits')) }]);
    await page.locator('.thumbs[data-dataset="folder:digits.zip"]').waitFor();
    assert.equal(await page.locator('.thumbs button').count(), 12);
    assert.equal(await page.locator('#image-source').inputValue(), 'folder:digits.zip');
    await page.locator('.thumbs button[data-index="3"]').click();
    await page.locator('#image-info:has-text("image #3")').waitFor();
    // Class folders are the labels: the folder's images carry the dataset's labels (in the folder's order).
    const thumbLabels = (await page.locator('.thumbs button').evaluateAll((bs) => bs.map((b) => b.getAttribute('aria-label') ?? ''))).map((t) => Number(/label (\d+)$/.exec(t)?.[1]));
    assert.deepEqual([...thumbLabels].sort(), [...data.labels].sort());
    assert.equal(await page.locator('#image-info').getAttribute('data-label'), String(thumbLabels[3]));
    await page.locator('#panel-a[data-clean-pred]').waitFor();
    // Back to the dataset's own test images.
    await page.locator('#image-source').selectOption('mnist');
    await page.locator('.thumbs[data-dataset="mnist"]').waitFor();
    assert.equal(await page.locator('#error').isHidden(), true, 'no error shown');
    await page.locator('#image-source').selectOption('folder:digits.zip');
    await page.locator('.thumbs[data-dataset="folder:digits.zip"]').waitFor();
    await page.screenshot({ path: join(ARTIFACTS, 'explorer-user-folder.png'), fullPage: true });
    await page.close();
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

test('screenshots of the other lab views: dashboard, domain adaptation, GAN', { timeout: 60_000 }, async () => {
  const page = await newPage();
  for (const [hash, ready, file] of [
    ['#/runs', '#page-runs[data-ready="true"]', 'lab-dashboard.png'],
    ['#/da', '#page-da[data-ready="true"]', 'lab-da.png'],
    ['#/gan', '#page-gan[data-ready="true"]', 'lab-gan.png'],
  ]) {
    await page.goto(`${lab.url}?backend=wasm${hash}`);
    await page.locator(ready).waitFor();
    await page.screenshot({ path: join(ARTIFACTS, file), fullPage: true });
  }
  await page.close();
  assert.deepEqual(pageErrors, []);
});
