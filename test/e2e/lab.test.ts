/**
 * The web lab in a real browser: Debian's Chromium (or $ADVX_CHROMIUM) driven by playwright-core,
 * against the built lab served by `advx lab` on a free port, with a runs folder that a real CLI
 * training run fills. Screenshots go to test-artifacts/e2e/.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { advxEnv, rawGet, startLab, stop } from './helpers.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const ARTIFACTS = join(ROOT, 'test-artifacts', 'e2e');
const CHROMIUM = process.env.ADVX_CHROMIUM ?? '/usr/bin/chromium';
/** Generous: the suite runs on 2 busy cores in CI. */
const WAIT = 180_000;

const tmp = mkdtempSync(join(tmpdir(), 'advx-lab-e2e-'));
const runs = join(tmp, 'runs');
let lab: { url: string; child: ChildProcess };
let browser: Browser;
let port: number;
/** Every URL any page asked for, to check that nothing leaves localhost. */
const requested: string[] = [];

async function newPage(): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1366, height: 900 } });
  page.setDefaultTimeout(WAIT);
  page.on('request', (r) => requested.push(r.url()));
  // Shown in the test log, for a failure in CI.
  page.on('pageerror', (e) => process.stderr.write(`page error: ${e.message}\n`));
  page.on('console', (m) => m.type() === 'error' && process.stderr.write(`page console: ${m.text()}\n`));
  return page;
}

before(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  if (!existsSync(join(ROOT, 'web', 'dist', 'index.html'))) {
    // `npm test` and `npm run test:e2e` build first; this covers a bare `node --test`.
    const b = spawnSync('npm', ['run', 'build'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    assert.equal(b.status, 0, `npm run build failed:\n${b.stdout}\n${b.stderr}`);
  }
  if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}: install it (apt-get install chromium) or set ADVX_CHROMIUM`);
  // A real run folder, written by the CLI: two epochs of a small MLP.
  const train = advxEnv(['train', '--model', 'mlp', '--data', 'mnist', '--epochs', '2', '--limit', '500', '--seed', '1', '--quiet', '--json', '--out', join(runs, 'mlp')]);
  assert.equal(train.status, 0, train.stderr);
  // A run with no metrics, only results.json: a robustness evaluation of that model.
  const robustness = advxEnv(['robustness', '--model', join(runs, 'mlp', 'model'), '--attacks', 'fgsm,pgd', '--eps', '0.05,0.1', '--steps', '5', '--limit', '16', '--out', join(runs, 'robust')]);
  assert.equal(robustness.status, 0, robustness.stderr);
  // A text attack: its examples are its picture.
  const text = advxEnv(['text-attack', '--model', join(ROOT, 'models', 'spam-word'), '--attack', 'hotflip', '--budget', '3', '--limit', '6', '--quiet', '--out', join(runs, 'text')]);
  assert.equal(text.status, 0, text.stderr);
  // A text attack's folder written by someone else: its text and edit kinds must stay inert.
  mkdirSync(join(runs, 'forged-text'), { recursive: true });
  writeFileSync(join(runs, 'forged-text', 'results.json'), JSON.stringify({ advx: 'results', version: 1, command: 'text-attack', summary: { count: 1 } }));
  const evil = '<img src=x onerror="window.__forged = 1">';
  writeFileSync(join(runs, 'forged-text', 'examples.jsonl'), `${JSON.stringify({ index: 0, original: `hi ${evil}`, edits: [{ kind: 'x" onmouseover="window.__forged = 2', start: 0, end: 2, before: 'hi', after: 'yo' }], segments: [{ text: 'yo', kind: '" autofocus onfocus="window.__forged = 3', before: 'hi' }, { text: ` ${evil}` }], before: [0.9, 0.1], after: [0.2, 0.8], success: true })}\n`);
  // A run whose metrics.jsonl was cut mid-line (a killed writer): reported, not fatal.
  mkdirSync(join(runs, 'broken'), { recursive: true });
  writeFileSync(join(runs, 'broken', 'config.json'), JSON.stringify({ model: 'cnn', data: 'mnist' }));
  writeFileSync(join(runs, 'broken', 'metrics.jsonl'), '{"epoch":1,"loss":0.5,"test_accuracy":0.9}\n{"epoch":2,"loss":0.3,"test_accuracy":0.95}\n{"epoch":3,"lo');
  lab = await startLab(['--port', '0', '--runs', runs]);
  port = Number(new URL(lab.url).port);
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
    timeout: WAIT,
  });
});

after(async () => {
  await browser?.close();
  if (lab) await stop(lab.child);
  rmSync(tmp, { recursive: true, force: true });
});

test('attack explorer: PGD at ε = 0.3 flips mnist-cnn\'s prediction of a test image', { timeout: 600_000 }, async () => {
  const page = await newPage();
  await page.goto(`${lab.url}?backend=wasm#/explorer`);
  await page.locator('#page-explorer[data-ready="true"]').waitFor();
  await page.locator('#panel-a[data-clean-pred]').waitFor();
  assert.equal(await page.locator('#model-a').inputValue(), 'shipped:mnist-cnn');
  assert.match(await page.locator('#backend-status').innerText(), /backend: wasm/);
  await page.locator('.thumbs button[data-index="0"]').click();
  const label = await page.locator('#image-info').getAttribute('data-label');
  await page.locator('#panel-a[data-clean-pred]').waitFor();
  assert.equal(await page.locator('#panel-a').getAttribute('data-clean-pred'), label, 'the model gets the clean image right');
  await page.locator('#attack').selectOption('pgd');
  await page.locator('#eps').fill('0.3');
  await page.locator('#steps').fill('40');
  await page.locator('#target').selectOption('');
  // Live: record every step the panel shows while the attack runs.
  await page.evaluate(() => {
    const seen: string[] = [];
    (window as unknown as { seenSteps: string[] }).seenSteps = seen;
    const panel = document.querySelector('#panel-a')!;
    new MutationObserver(() => seen.push(panel.getAttribute('data-step') ?? '')).observe(panel, { attributes: true, attributeFilter: ['data-step'] });
  });
  await page.locator('#run').click();
  await page.locator('#panel-a[data-state="done"]').waitFor();
  const seen = new Set(await page.evaluate(() => (window as unknown as { seenSteps: string[] }).seenSteps));
  assert.ok(seen.size >= 20, `the page showed ${seen.size} of the 41 iterates`);
  const panel = page.locator('#panel-a');
  assert.equal(await panel.getAttribute('data-success'), 'true', await panel.locator('.verdict').innerText());
  assert.notEqual(await panel.getAttribute('data-adv-pred'), label);
  assert.equal(await panel.getAttribute('data-step'), '40');
  assert.match(await panel.locator('figcaption').nth(1).innerText(), /max \|δ\| 0\.300/);
  assert.equal(await page.locator('#error').isHidden(), true, 'no error shown');
  await page.screenshot({ path: join(ARTIFACTS, 'explorer-pgd.png'), fullPage: true });

  // The same attack side by side on a second model of the same dataset (only those are offered).
  assert.ok(!(await page.locator('#model-b option').evaluateAll((os) => os.map((o) => (o as HTMLOptionElement).value))).includes('shipped:fashion-cnn'), 'no Fashion-MNIST model beside an MNIST one');
  await page.locator('#model-b').selectOption('shipped:mnist-trades');
  await page.locator('#panel-b[data-model="shipped:mnist-trades"][data-clean-pred]').waitFor();
  await page.locator('#attack').selectOption('fgsm');
  await page.locator('#eps').fill('0.2');
  const tensors = await page.locator('body').getAttribute('data-tensors');
  await page.locator('#run').click();
  await page.locator('#panel-a[data-state="done"]').waitFor();
  await page.locator('#panel-b[data-state="done"]').waitFor();
  await page.locator('#run:not([disabled])').waitFor();
  assert.equal(await page.locator('body').getAttribute('data-tensors'), tensors, 'the attacks free every tensor they make');
  await page.screenshot({ path: join(ARTIFACTS, 'explorer-side-by-side.png'), fullPage: true });
  await page.close();
});

test('attack explorer: a malformed model upload shows an error and the page keeps working', { timeout: 600_000 }, async () => {
  const page = await newPage();
  await page.goto(`${lab.url}?backend=wasm#/explorer`);
  await page.locator('#page-explorer[data-ready="true"]').waitFor();
  // A good upload first: the shipped CNN's files, as a user would pick them.
  await page.locator('#upload').setInputFiles(['model.json', 'weights.bin', 'advx.json'].map((f) => join(ROOT, 'models', 'mnist-cnn', f)));
  await page.waitForFunction(() => (document.querySelector('#model-a') as HTMLSelectElement).value.startsWith('upload:'));
  await page.locator('#panel-a[data-clean-pred="7"]').waitFor();
  assert.equal(await page.locator('#error').isHidden(), true);
  await page.locator('#upload').setInputFiles([{ name: 'model.json', mimeType: 'application/json', buffer: Buffer.from('{"modelTopology": {"class_name": "Sequ') }]);
  await page.locator('#error:not([hidden])').waitFor();
  assert.match(await page.locator('#error-text').innerText(), /model\.json is not valid JSON/);
  await page.locator('#upload').setInputFiles([{ name: 'model.json', mimeType: 'application/json', buffer: Buffer.from(JSON.stringify({ modelTopology: { class_name: 'Sequential', config: { layers: [{ class_name: 'NoSuchLayer', config: {} }] } }, weightsManifest: [] })) }]);
  await page.waitForFunction(() => /could not load (the model in )?model\.json/.test(document.querySelector('#error-text')?.textContent ?? ''));
  await page.screenshot({ path: join(ARTIFACTS, 'explorer-bad-upload.png'), fullPage: true });
  // Still usable: draw a digit and attack it on the shipped model.
  await page.locator('#clear').click();
  const box = (await page.locator('#draw').boundingBox())!;
  await page.mouse.move(box.x + box.width * 0.5, box.y + box.height * 0.15);
  await page.mouse.down();
  for (let t = 1; t <= 20; t++) await page.mouse.move(box.x + box.width * 0.5, box.y + box.height * (0.15 + 0.035 * t));
  await page.mouse.up();
  await page.waitForFunction(() => /your drawing/.test(document.querySelector('#image-info')?.textContent ?? ''));
  await page.locator('#panel-a[data-clean-pred]').waitFor();
  await page.locator('#attack').selectOption('fgsm');
  await page.locator('#eps').fill('0.3');
  await page.locator('#run').click();
  await page.locator('#panel-a[data-state="done"]').waitFor();
  assert.equal(await page.locator('#error').isHidden(), true, 'a new run clears the old error');
  await page.close();
});

test('runs dashboard: shows the CLI run and its curves, and reports a truncated metrics.jsonl', { timeout: 600_000 }, async () => {
  const page = await newPage();
  await page.goto(`${lab.url}#/runs`);
  await page.locator('#page-runs[data-ready="true"]').waitFor();
  await page.locator('tr[data-run="mlp"]').waitFor();
  await page.locator('tr[data-run="broken"] .warn').waitFor();
  await page.locator('a.run-link[data-run="mlp"]').click();
  await page.locator('#run-detail[data-run="mlp"]').waitFor();
  const accuracy = page.locator('#charts figure[data-chart="accuracy"]');
  await accuracy.locator('svg').waitFor();
  assert.equal((await accuracy.getAttribute('data-points'))?.split(',')[0], '2', 'one point per epoch');
  assert.ok((await accuracy.locator('svg path').count()) > 4, 'ECharts drew the lines');
  // Hover shows the values at that epoch; the smoothing slider redraws the curves smoothed.
  const box = (await accuracy.locator('svg').boundingBox())!;
  await page.mouse.move(box.x + box.width * 0.4, box.y + box.height / 2);
  await page.waitForFunction(() => [...document.querySelectorAll<HTMLElement>('#charts figure[data-chart="accuracy"] div')].some((d) => /accuracy/.test(d.textContent ?? '') && getComputedStyle(d).display !== 'none' && d.style.position === 'absolute'), undefined, { timeout: 20_000 });
  await accuracy.locator('input.chart-smoothing').fill('0.6');
  assert.equal(await accuracy.getAttribute('data-smoothing'), '0.6');
  await page.locator('#charts figure[data-chart="loss"] svg').waitFor();
  await page.screenshot({ path: join(ARTIFACTS, 'dashboard-run.png'), fullPage: true });

  await page.locator('a.run-link[data-run="broken"]').click();
  await page.locator('#run-detail[data-run="broken"]').waitFor();
  assert.match(await page.locator('#run-warnings').innerText(), /last line \(3\) is truncated/);
  // Compare the two runs on one chart.
  await page.locator('input[type="checkbox"][data-run="mlp"]').check();
  await page.waitForFunction(() => document.querySelector<HTMLElement>('#charts figure[data-chart="loss"]')?.dataset.series === '2');
  await page.screenshot({ path: join(ARTIFACTS, 'dashboard-compare.png'), fullPage: true });
  await page.locator('input[type="checkbox"][data-run="mlp"]').uncheck();

  // Every kind of run is listed with its command; a robustness run shows its results and curve.
  assert.equal(await page.locator('tr[data-run="mlp"] td.command').innerText(), 'train');
  assert.equal(await page.locator('tr[data-run="robust"] td.command').innerText(), 'robustness');
  await page.locator('a.run-link[data-run="robust"]').click();
  await page.locator('#run-detail[data-run="robust"]').waitFor();
  const curve = page.locator('#charts figure[data-chart="robust accuracy"]');
  await curve.locator('svg').waitFor();
  assert.equal(await curve.getAttribute('data-series'), '3', 'fgsm, pgd and the worst case');
  // A log ε axis leaves out ε = 0 (the clean accuracy), which it has no place for.
  const before = (await curve.getAttribute('data-points'))!.split(',').map(Number);
  await curve.locator('input.chart-logx').check();
  assert.equal(await curve.getAttribute('data-log'), 'x');
  const after = (await curve.getAttribute('data-points'))!.split(',').map(Number);
  assert.ok(after.every((n, i) => n > 0 && n <= before[i]), `${before} → ${after}`);
  assert.match(await page.locator('#run-results').innerText(), /clean_accuracy/);
  await page.screenshot({ path: join(ARTIFACTS, 'dashboard-robustness.png'), fullPage: true });

  // A text attack shows its first examples, original → adversarial, the edits marked.
  await page.locator('a.run-link[data-run="text"]').click();
  await page.locator('#run-detail[data-run="text"] #run-text-examples').waitFor();
  assert.equal(await page.locator('#run-text-examples .text-example').count(), 4);
  assert.ok((await page.locator('#run-text-examples .text-example').first().locator('ins, mark, del').count()) > 0, 'edits marked');
  // Classes by the names results.json gives (spam-word's ham and spam), not by index.
  assert.match(await page.locator('#run-text-examples .text-example h4').first().innerText(), /^#\d+: spam \(\d+%\) → ham \(\d+%\)/);
  // Each box scrolled to its first edit: that edit is inside the box's visible part.
  const shown = await page.evaluate(() => [...document.querySelectorAll<HTMLElement>('#run-text-examples .pair > div')].map((box) => {
    const edit = box.querySelector<HTMLElement>('ins, del, mark');
    if (!edit) return true;
    const [b, e] = [box.getBoundingClientRect(), edit.getBoundingClientRect()];
    return e.top >= b.top - 1 && e.bottom <= b.bottom + 1;
  }));
  assert.ok(shown.every(Boolean), `first edit visible in each box: ${shown}`);
  await page.screenshot({ path: join(ARTIFACTS, 'dashboard-text-attack.png'), fullPage: true });
  // A forged examples.jsonl: its markup shows as text, its edit kinds cannot add attributes.
  await page.locator('a.run-link[data-run="forged-text"]').click();
  await page.locator('#run-detail[data-run="forged-text"] #run-text-examples').waitFor();
  assert.equal(await page.locator('#run-text-examples img').count(), 0);
  assert.match(await page.locator('#run-text-examples').innerText(), /<img src=x/);
  for (const attr of ['onmouseover', 'onfocus', 'onerror']) assert.equal(await page.locator(`#run-text-examples [${attr}]`).count(), 0, attr);
  assert.equal(await page.evaluate(() => (window as unknown as { __forged?: number }).__forged), undefined);
  await page.close();
});

test('domain adaptation view: DANN beats source-only on the target moons, live boundary and features', { timeout: 600_000 }, async () => {
  const started = performance.now();
  const page = await newPage();
  await page.goto(`${lab.url}?backend=wasm#/da`);
  const view = page.locator('#page-da');
  await page.locator('#page-da[data-ready="true"][data-epoch="0"]').waitFor();
  assert.equal(await page.locator('#nav-da').getAttribute('aria-current'), 'page');
  assert.equal(await page.locator('#da-angle').inputValue(), '35');
  assert.match(await page.locator('#backend-status').innerText(), /backend: wasm/);
  const untrained = await page.locator('#da-boundary svg').innerHTML();
  await page.locator('#da-features svg').waitFor();
  // Coloured by class, domain as marker: both domains' classes in the legend.
  for (const name of ['source, upper', 'source, lower', 'target, upper', 'target, lower']) assert.match(await page.locator('#da-features svg').innerHTML(), new RegExp(name));
  // Epochs the page showed while training, to check it redraws as it goes.
  await page.evaluate(() => {
    const seen: string[] = [];
    (window as unknown as { daEpochs: string[] }).daEpochs = seen;
    const root = document.querySelector('#page-da')!;
    new MutationObserver(() => seen.push(root.getAttribute('data-epoch') ?? '')).observe(root, { attributes: true, attributeFilter: ['data-epoch'] });
  });
  const accuracies: Record<string, { source: number; target: number; text: string }> = {};
  for (const method of ['source-only', 'dann'] as const) {
    if ((await page.locator('#da-method').inputValue()) !== method) {
      await page.locator('#da-method').selectOption(method);
      await page.locator('#page-da[data-state="idle"][data-epoch="0"]').waitFor();
    }
    await page.locator('#da-train').click();
    await page.locator('#page-da[data-state="done"]').waitFor();
    assert.equal(await view.getAttribute('data-epoch'), '30');
    const text = await page.locator('#da-target-acc').innerText();
    accuracies[method] = { source: Number(await view.getAttribute('data-source-acc')), target: Number(await view.getAttribute('data-target-acc')), text };
    assert.match(text, /^\d+\.\d%$/);
    assert.equal(Number(text.replace('%', '')), Number((100 * accuracies[method].target).toFixed(1)), 'the text shows the accuracy');
    await page.screenshot({ path: join(ARTIFACTS, `da-${method}.png`), fullPage: true });
  }
  const seen = new Set(await page.evaluate(() => (window as unknown as { daEpochs: string[] }).daEpochs));
  for (const e of ['1', '10', '20', '30']) assert.ok(seen.has(e), `the page showed epoch ${e} while training (saw ${[...seen].join(',')})`);
  assert.notEqual(await page.locator('#da-boundary svg').innerHTML(), untrained, 'the boundary picture changed');
  assert.match(await page.locator('#da-boundary svg').innerHTML(), />DANN, epoch 30[^<]*<\/text>/);
  assert.match(await page.locator('#da-domain-acc').innerText(), /%/);
  const so = accuracies['source-only'];
  const dann = accuracies.dann;
  process.stderr.write(`DA view: ${JSON.stringify(accuracies)} in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
  assert.ok(so.source > 0.95 && dann.source > 0.95, 'both fit the source');
  assert.ok(dann.target >= so.target + 0.05, `DANN target accuracy ${dann.target} vs source-only ${so.target}`);
  assert.equal(await page.locator('#error').isHidden(), true, 'no error shown');
  await page.close();
});

test('the lab serves only its own files: path traversal gets 403/404', async () => {
  const secret = join(tmp, 'secret.txt');
  writeFileSync(secret, 'SECRET-E2E');
  for (const path of ['/runs/../secret.txt', '/runs/%2e%2e/secret.txt', '/runs/%2E%2E%2Fsecret.txt', '/models/..%2f..%2fpackage.json', `/runs/${secret}`, `//${secret}`, '/%2e%2e/%2e%2e/package.json', '/api/run?name=..']) {
    const r = await rawGet(port, path);
    assert.ok([400, 403, 404].includes(r.status), `${path} → ${r.status}`);
    assert.doesNotMatch(r.body, /SECRET-E2E|"name": "advx"/, path);
  }
  const page = await newPage();
  const response = await page.goto(`${lab.url}runs/%2e%2e/secret.txt`);
  assert.ok(response && [403, 404].includes(response.status()), `browser: ${response?.status()}`);
  await page.close();
});

test('no page asked for anything outside localhost', () => {
  assert.ok(requested.length > 10, `${requested.length} requests seen`);
  const foreign = requested.filter((u) => {
    if (u.startsWith('data:') || u.startsWith('blob:')) return false;
    return new URL(u).hostname !== '127.0.0.1';
  });
  assert.deepEqual(foreign, []);
});
