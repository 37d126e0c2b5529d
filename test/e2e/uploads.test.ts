/**
 * Bad input in the lab's attack explorer, in a real browser: malformed model.json files, weight
 * files that are cut short or hold NaNs, files that are not images or are corrupt images. Each
 * shows a visible error, and the explorer keeps working: a good image upload is attacked after.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodePng } from '../../src/node/io/png.ts';
import { ARTIFACTS, ROOT, expectError, labInBrowser, type Upload } from './helpers.ts';

const WAIT = 90_000;
const MODEL = join(ROOT, 'models', 'mnist-cnn');
const lab = labInBrowser('uploads', WAIT);

const json = (name: string, value: unknown): Upload => ({ name, mimeType: 'application/json', buffer: Buffer.from(JSON.stringify(value)) });
const bin = (name: string, buffer: Buffer): Upload => ({ name, mimeType: 'application/octet-stream', buffer });


test('explorer: malformed models and images show an error, and the explorer still attacks', { timeout: 180_000 }, async () => {
  const started = performance.now();
  const page = await lab.browser.newPage({ viewport: { width: 1366, height: 900 } });
  page.setDefaultTimeout(WAIT);
  const pageErrors: string[] = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  await page.goto(`${lab.url}?backend=wasm#/explorer`);
  await page.locator('#page-explorer[data-ready="true"]').waitFor();
  await page.locator('#panel-a[data-clean-pred]').waitFor();
  const shipped = await page.locator('#model-a').inputValue();

  const modelJson = readFileSync(join(MODEL, 'model.json'));
  const weights = readFileSync(join(MODEL, 'weights.bin'));
  const model = (): Upload => ({ name: 'model.json', mimeType: 'application/json', buffer: modelJson });
  const topology = JSON.parse(modelJson.toString('utf8'));

  // Models: every problem is named.
  await expectError(page, '#upload', [{ name: 'model.json', mimeType: 'application/json', buffer: Buffer.from('\u0000\u0001garbage') }], /model\.json is not valid JSON/);
  await expectError(page, '#upload', [bin('weights.bin', weights)], /upload one model\.json/);
  await expectError(page, '#upload', [json('model.json', { format: 'layers-model' })], /not a TF\.js model\.json \(no modelTopology\)/);
  await expectError(page, '#upload', [json('model.json', { ...topology, weightsManifest: 5 })], /weightsManifest must be a list/);
  await expectError(page, '#upload', [model()], /needs weight files that were not uploaded: weights\.bin/);
  await expectError(page, '#upload', [model(), bin('weights.bin', weights.subarray(0, 1001))], /could not load (the model in )?model\.json/);
  await expectError(page, '#upload', [model(), bin('weights.bin', Buffer.alloc(weights.length, 0xff))], /outputs are not finite/);
  await expectError(page, '#upload', [model(), bin('weights.bin', weights), json('advx.json', { bounds: [1, 0] })], /advx\.json: bounds must be/);
  assert.equal(await page.locator('#model-a').inputValue(), shipped, 'a failed upload leaves the chosen model alone');
  assert.equal(await page.locator('#model-a option[value^="upload:"]').count(), 0, 'no half-loaded model in the list');

  // Images: not an image, a corrupt PNG, an empty file.
  const png = encodePng(digitOne(), 28, 28, 1);
  const corrupt = Buffer.concat([png.subarray(0, 40), Buffer.alloc(200, 0x5a)]);
  await expectError(page, '#upload-image', [{ name: 'notes.png', mimeType: 'image/png', buffer: Buffer.from('this is not an image\n') }], /notes\.png is not an image the browser can decode/);
  await expectError(page, '#upload-image', [{ name: 'digit.png', mimeType: 'image/png', buffer: corrupt }], /digit\.png is not an image the browser can decode/);
  await expectError(page, '#upload-image', [{ name: 'empty.png', mimeType: 'image/png', buffer: Buffer.alloc(0) }], /empty\.png is empty/);
  await page.screenshot({ path: join(ARTIFACTS, 'explorer-bad-uploads.png'), fullPage: true });

  // Still working: a good image upload, then an attack on it.
  await page.locator('#error-close').click();
  await page.locator('#upload-image').setInputFiles([{ name: 'one.png', mimeType: 'image/png', buffer: png }]);
  await page.waitForFunction(() => /uploaded image one\.png/.test(document.querySelector('#image-info')?.textContent ?? ''));
  await page.locator('#panel-a[data-clean-pred]').waitFor();
  await page.locator('#attack').selectOption('fgsm');
  await page.locator('#eps').fill('0.3');
  await page.locator('#run').click();
  await page.locator('#panel-a[data-state="done"]').waitFor();
  assert.equal(await page.locator('#error').isHidden(), true, 'no error after the good upload and the attack');
  // And a good model upload still works after all the bad ones.
  await page.locator('#upload').setInputFiles(['model.json', 'weights.bin', 'advx.json'].map((f) => join(MODEL, f)));
  await page.waitForFunction(() => (document.querySelector('#model-a') as HTMLSelectElement).value.startsWith('upload:'));
  await page.locator('#panel-a[data-clean-pred]').waitFor();
  assert.equal(await page.locator('#error').isHidden(), true);
  assert.deepEqual(pageErrors, [], 'no uncaught page errors');
  await page.close();
  process.stderr.write(`uploads: ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
});

/** A 28×28 white "1" on black. */
function digitOne(): Float32Array {
  const x = new Float32Array(28 * 28);
  for (let y = 5; y < 23; y++) for (let c = 13; c < 16; c++) x[y * 28 + c] = 1;
  return x;
}
