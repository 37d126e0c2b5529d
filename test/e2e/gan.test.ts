/**
 * The lab's GAN playground in a real browser (Debian's Chromium via playwright-core, against the
 * built lab served by `advx lab`): train 50+ steps, check the counter, the loss curve and a flat
 * tensor count, switch the loss to minimax and keep stepping, draw points in the user-drawn mode
 * and train on them. Screenshot: test-artifacts/e2e/gan.png.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { ARTIFACTS, labInBrowser } from './helpers.ts';

const WAIT = 60_000;
const lab = labInBrowser('gan', WAIT);
const requested: string[] = [];
const pageErrors: string[] = [];

async function newPage(): Promise<Page> {
  const page = await lab.browser.newPage({ viewport: { width: 1366, height: 900 } });
  page.setDefaultTimeout(WAIT);
  page.on('request', (r) => requested.push(r.url()));
  page.on('pageerror', (e) => {
    pageErrors.push(e.message);
    process.stderr.write(`page error: ${e.message}\n`);
  });
  return page;
}

const attr = async (page: Page, name: string) => (await page.locator('#page-gan').getAttribute(name)) ?? '';

test('GAN playground: play to 50+ steps, loss curve, minimax switch, drawn points', { timeout: 120_000 }, async () => {
  const started = performance.now();
  const page = await newPage();
  await page.goto(`${lab.url}?backend=wasm#/gan`);
  await page.locator('#page-gan[data-ready="true"][data-step="0"]').waitFor();
  assert.equal(await page.locator('#nav-gan').getAttribute('aria-current'), 'page');
  assert.equal(await page.locator('#gan-loss-curve').getAttribute('data-points'), '0');
  assert.equal(await page.locator('#gan-step').innerText(), '0');
  assert.equal(await page.locator('label[for="gan-lr-g"]').innerText(), 'Learning rate G');
  const before = await page.locator('#gan-plane').screenshot();

  // Play until the counter reaches 50, then pause.
  await page.locator('#gan-play').click();
  await page.waitForFunction(() => Number(document.querySelector('#page-gan')?.getAttribute('data-step')) >= 50);
  await page.locator('#gan-pause').click();
  await page.locator('#page-gan[data-state="paused"]').waitFor();
  await page.locator('#gan-step-once:not([disabled])').waitFor();
  const steps = Number(await attr(page, 'data-step'));
  assert.ok(steps >= 50, `${steps} steps`);
  assert.equal(await page.locator('#gan-step').innerText(), String(steps));
  assert.equal(await page.locator('#gan-loss-curve').getAttribute('data-points'), String(steps), 'one loss point per step');
  for (const k of ['data-d-loss', 'data-g-loss']) assert.ok(Number.isFinite(Number(await attr(page, k))) && (await attr(page, k)) !== '', `${k} = ${await attr(page, k)}`);
  assert.notDeepEqual(await page.locator('#gan-plane').screenshot(), before, 'the plane was redrawn');
  await page.screenshot({ path: join(ARTIFACTS, 'gan-ring.png'), fullPage: true });

  // One step at a time; the tensor count stays flat.
  const tensors = await attr(page, 'data-tensors');
  for (let i = 1; i <= 3; i++) {
    await page.locator('#gan-step-once').click();
    await page.locator(`#page-gan[data-step="${steps + i}"]`).waitFor();
  }
  assert.equal(await attr(page, 'data-tensors'), tensors, 'every step frees its tensors');

  // Minimax: the networks carry on, the counter goes on.
  await page.locator('#gan-loss').selectOption('minimax');
  await page.locator('#page-gan[data-loss="minimax"]').waitFor();
  const dBefore = await attr(page, 'data-d-loss');
  await page.locator('#gan-step-once').click();
  await page.locator(`#page-gan[data-step="${steps + 4}"]`).waitFor();
  assert.equal(await page.locator('#gan-loss-curve').getAttribute('data-points'), String(steps + 4));
  assert.ok(Number.isFinite(Number(await attr(page, 'data-g-loss'))));
  assert.notEqual(await attr(page, 'data-d-loss'), dBefore);
  // Keyboard: the step button works from the keyboard too.
  await page.locator('#gan-step-once').focus();
  await page.keyboard.press('Enter');
  await page.locator(`#page-gan[data-step="${steps + 5}"]`).waitFor();

  // A bad learning rate is refused with a visible error; the networks stay as they are.
  await page.locator('#gan-lr-d').fill('-1');
  await page.locator('#gan-lr-d').press('Tab');
  await page.locator('#error:not([hidden])').waitFor();
  assert.match(await page.locator('#error-text').innerText(), /learning rate of D/);
  await page.locator('#gan-lr-d').fill('0.002');
  await page.locator('#gan-lr-d').press('Tab');
  await page.locator('#error').waitFor({ state: 'hidden' });
  assert.equal(await attr(page, 'data-step'), String(steps + 5));

  // User-drawn data: starts empty (nothing to train on), clicks and a drag add points.
  await page.locator('#gan-data').selectOption('drawn');
  await page.locator('#page-gan[data-data="drawn"][data-step="0"][data-real-points="0"]').waitFor();
  assert.equal(await page.locator('#gan-play').isDisabled(), true, 'no points, no training');
  const box = (await page.locator('#gan-plane').boundingBox())!;
  for (const [fx, fy] of [[0.3, 0.3], [0.7, 0.3], [0.5, 0.75]]) await page.mouse.click(box.x + box.width * fx, box.y + box.height * fy);
  await page.mouse.move(box.x + box.width * 0.2, box.y + box.height * 0.6);
  await page.mouse.down();
  for (let t = 1; t <= 10; t++) await page.mouse.move(box.x + box.width * (0.2 + 0.03 * t), box.y + box.height * 0.6);
  await page.mouse.up();
  await page.waitForFunction(() => Number(document.querySelector('#page-gan')?.getAttribute('data-real-points')) >= 5);
  const points = Number(await attr(page, 'data-real-points'));
  // And from the keyboard: focus the plane, move the cross, Enter.
  await page.locator('#gan-plane').focus();
  await page.keyboard.press('ArrowUp');
  await page.keyboard.press('Enter');
  await page.locator(`#page-gan[data-real-points="${points + 1}"]`).waitFor();
  for (let i = 1; i <= 5; i++) {
    await page.locator('#gan-step-once:not([disabled])').click();
    await page.locator(`#page-gan[data-step="${i}"]`).waitFor();
  }
  assert.ok(Number.isFinite(Number(await attr(page, 'data-d-loss'))));
  assert.equal(await page.locator('#error').isHidden(), true, 'no error shown');
  await page.screenshot({ path: join(ARTIFACTS, 'gan.png'), fullPage: true });
  assert.deepEqual(pageErrors, []);
  await page.close();
  process.stderr.write(`GAN playground: ${steps} steps by play, test ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
});

test('GAN playground: no request leaves localhost', () => {
  assert.ok(requested.length > 3);
  const foreign = requested.filter((u) => !u.startsWith('data:') && !u.startsWith('blob:') && new URL(u).hostname !== '127.0.0.1');
  assert.deepEqual(foreign, []);
});
