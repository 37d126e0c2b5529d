/**
 * Bring your own model and data, in the lab: a PyTorch ResNet exported to ONNX (28×28×3, with its
 * NAME.advx.json) uploaded with a zip and with a folder of MNIST-M test images in class folders.
 * The page's clean accuracy is the CLI's (`advx evaluate --data FOLDER`) on the same images, PGD
 * at ε 0.03 flips most of them, and bad uploads (a corrupt ONNX file, one that neither the importer
 * nor ONNX Runtime Web runs, a file that is no zip, a zip without images, class folders the model
 * lacks) each show one error while the lab keeps working.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { zipSync } from 'fflate';
import protobuf from 'protobufjs/light.js';
import type { Page } from 'playwright-core';
import { ONNX_SCHEMA } from '../../src/models/onnx/schema.ts';
import { loadDataset } from '../../src/node/datasets/index.ts';
import { encodePng } from '../../src/node/io/png.ts';
import { advx, lastJson } from '../helpers/cli.ts';
import { writeImageFolder, zipOf } from '../helpers/image-folder.ts';
import { ARTIFACTS, ROOT, expectError, labInBrowser, type Upload } from './helpers.ts';

const WAIT = 60_000;
const ONNX = join(ROOT, 'test', 'fixtures', 'onnx', 'resnet-mnistm.onnx');
const INFO = join(ROOT, 'test', 'fixtures', 'onnx', 'resnet-mnistm.advx.json');
const COUNT = 16;
const lab = labInBrowser('folders', WAIT);

const file = (name: string, buffer: Uint8Array, mimeType = 'application/octet-stream'): Upload => ({ name, mimeType, buffer: Buffer.from(buffer) });

/** An ONNX model of one node whose op advx does not map. */
function unmappedOnnx(): Uint8Array {
  const Model = protobuf.Root.fromJSON(ONNX_SCHEMA).lookupType('onnx.ModelProto');
  const io = (name: string) => ({ name, type: { tensor_type: { elem_type: 1, shape: { dim: [{ dim_value: 1 }, { dim_value: 3 }, { dim_value: 28 }, { dim_value: 28 }] } } } });
  const graph = { name: 'g', node: [{ op_type: 'Einsum', name: '/Einsum_3', input: ['x'], output: ['y'] }], input: [io('x')], output: [io('y')] };
  return Model.encode(Model.fromObject({ ir_version: 8, opset_import: [{ domain: '', version: 13 }], graph })).finish();
}

/** expectError, and the banner is one line. */
async function expectOneLineError(page: Page, input: string, files: Upload[], expected: RegExp): Promise<string> {
  const text = await expectError(page, input, files, expected);
  assert.ok(!text.includes('\n'), `one line: ${text}`);
  return text;
}

/** Waits for the folder card to have evaluated a new upload; returns its clean accuracy. */
async function evaluated(page: Page, before: number): Promise<number> {
  await page.waitForFunction((n) => {
    const card = document.querySelector<HTMLElement>('#batch');
    return card?.dataset.state === 'evaluated' && Number(card.dataset.evaluations ?? 0) > n;
  }, before);
  return Number(await page.locator('#batch').getAttribute('data-clean-accuracy'));
}

const evaluations = async (page: Page) => Number((await page.locator('#batch').getAttribute('data-evaluations')) ?? 0);

test('explorer: an ONNX model on a zip and a folder of images, clean accuracy as the CLI, PGD flips, bad uploads named', { timeout: 180_000 }, async () => {
  const started = performance.now();
  const tmp = mkdtempSync(join(tmpdir(), 'advx-folders-e2e-'));
  try {
    const data = loadDataset('mnist-m', { limit: { train: 0, test: COUNT } }).test;
    const digits = join(tmp, 'digits');
    const names = data.classNames ?? [];
    writeImageFolder(digits, data, COUNT, names);
    // Three images filed under the next class: the accuracy to agree on is not simply 100%.
    for (let i = 0; i < 3; i++) {
      const wrong = names[(data.labels[i] + 1) % 10];
      mkdirSync(join(digits, wrong), { recursive: true });
      renameSync(join(digits, names[data.labels[i]], `0000${i}.png`), join(digits, wrong, `0000${i}.png`));
    }
    const cli = advx(['evaluate', '--model', ONNX, '--data', digits, '--json']);
    assert.equal(cli.status, 0, cli.stderr);
    const cliAccuracy = lastJson(cli.stdout).accuracy as number;
    assert.equal(lastJson(cli.stdout).count, COUNT);
    assert.ok(cliAccuracy <= 13 / COUNT, `three images are mislabelled, yet the CLI says ${cliAccuracy}`);

    const page = await lab.browser.newPage({ viewport: { width: 1366, height: 1000 } });
    page.setDefaultTimeout(WAIT);
    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));
    await page.goto(`${lab.url}?backend=wasm#/explorer`);
    await page.locator('#page-explorer[data-ready="true"]').waitFor();

    // Bad models: corrupt bytes, an op advx does not map. Nothing half-loaded joins the lists.
    await expectOneLineError(page, '#upload', [file('junk.onnx', Buffer.from('this is not a protobuf'))], /upload: junk\.onnx is not a valid ONNX file/);
    // An op the importer lacks goes to ONNX Runtime Web (test/e2e/onnx-runtime.test.ts), which cannot run an Einsum without its equation either.
    await expectOneLineError(page, '#upload', [file('einsum.onnx', unmappedOnnx())], /ONNX op "Einsum" \(node "\/Einsum_3"\) is not supported by advx's ONNX importer yet, and ONNX Runtime Web cannot run the file either: ONNX Runtime cannot load einsum\.onnx: /);
    assert.equal(await page.locator('#batch-model option[value^="upload:"]').count(), 0);

    // The ResNet with its advx.json: listed for the folder card, and (28×28 RGB) for the panels, on MNIST-M images.
    await page.locator('#error-close').click();
    await page.locator('#upload').setInputFiles([ONNX, INFO]);
    await page.waitForFunction(() => (document.querySelector('#batch-model') as HTMLSelectElement).value.startsWith('upload:'));
    assert.match(await page.locator('#upload-info').innerText(), /28×28×3 images, 10 classes \(logits\)/);
    assert.equal(await page.locator('#model-a option[value^="upload:"]').count(), 1);
    await page.locator('.thumbs[data-dataset="mnist-m"]').waitFor();

    // Bad data: not a zip, a zip without images, class folders the model lacks.
    await expectOneLineError(page, '#upload-zip', [file('notes.zip', Buffer.from('just some text, no zip'))], /notes\.zip is not a zip file/);
    await expectOneLineError(page, '#upload-zip', [file('empty.zip', zipSync({ 'readme.txt': Buffer.from('hello') }))], /no images found in empty\.zip/);
    const png = encodePng(data.images.subarray(0, 28 * 28 * 3), 28, 28, 3);
    await expectOneLineError(page, '#upload-zip', [file('pets.zip', zipSync({ 'cat/a.png': png, 'dog/b.png': png }))], /class folders cat, dog of pets\.zip are not among the model's classes/);

    // The zip of the class folders (one top folder around them, as `zip -r` makes it).
    await page.locator('#error-close').click();
    let n = await evaluations(page);
    await page.locator('#upload-zip').setInputFiles([file('digits.zip', zipOf(digits, 'digits'), 'application/zip')]);
    const zipAccuracy = await evaluated(page, n);
    assert.equal(await page.locator('#batch').getAttribute('data-count'), String(COUNT));
    assert.equal(await page.locator('#batch').getAttribute('data-labels'), 'folders');
    assert.equal(zipAccuracy, cliAccuracy, `the lab's clean accuracy ${zipAccuracy} is the CLI's ${cliAccuracy}`);

    // PGD at ε 0.03 (L∞, 40 steps) on the batch.
    await page.locator('#batch-attack').selectOption('pgd');
    await page.locator('#batch-eps').fill('0.03');
    await page.locator('#batch-run').click();
    await page.locator('#batch[data-state="done"]').waitFor();
    const flipRate = Number(await page.locator('#batch').getAttribute('data-flip-rate'));
    const [flipped, correct] = [await page.locator('#batch').getAttribute('data-flipped'), await page.locator('#batch').getAttribute('data-correct')];
    assert.ok(flipRate > 0.5, `PGD ε 0.03 flipped ${flipped}/${correct}`);
    assert.equal(await page.locator('#batch-pairs figure').count(), 8);
    assert.match(await page.locator('#batch-pairs figcaption').first().innerText(), /^true \d: \d → \d$/);
    await page.screenshot({ path: join(ARTIFACTS, 'explorer-folder.png'), fullPage: true });

    // The same folder chosen as a folder (webkitdirectory).
    n = await evaluations(page);
    await page.locator('#upload-folder').setInputFiles(digits);
    const folderAccuracy = await evaluated(page, n);
    assert.equal(folderAccuracy, cliAccuracy);
    assert.equal(await page.locator('#error').isHidden(), true, 'no error after the good uploads');
    assert.deepEqual(pageErrors, [], 'no uncaught page errors');
    await page.close();
    process.stderr.write(`folders: CLI accuracy ${cliAccuracy}, lab ${zipAccuracy}; PGD ε 0.03 flipped ${flipped}/${correct}; ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});
