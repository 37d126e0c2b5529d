/** Helpers for the lab's tests: raw HTTP requests (paths sent as written) and the CLI with an environment. */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import * as http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { chromium, type Browser, type Page } from 'playwright-core';
import { BIN } from '../helpers/cli.ts';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const ARTIFACTS = join(ROOT, 'test-artifacts', 'e2e');
export const CHROMIUM = process.env.ADVX_CHROMIUM ?? '/usr/bin/chromium';

/** Builds the lab (web/dist) when it is missing: `npm test` builds first, a bare `node --test` may not. */
export function ensureBuilt(): void {
  if (existsSync(join(ROOT, 'web', 'dist', 'index.html'))) return;
  const b = spawnSync('npm', ['run', 'build'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (b.status !== 0) throw new Error(`npm run build failed:\n${b.stdout}\n${b.stderr}`);
}

/** Headless Chromium with nothing that phones home. */
export function launchChromium(timeout: number): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}: install it (apt-get install chromium) or set ADVX_CHROMIUM`);
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
    timeout,
  });
}

export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** GET (or another method) with the path exactly as given: no normalisation of `..` or `%2e`. */
export function rawGet(port: number, path: string, method = 'GET'): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end();
  });
}

export function advxEnv(args: string[], env: NodeJS.ProcessEnv = process.env): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 300_000, env });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Starts `advx lab` and resolves with its URL once it listens; rejects with its stderr if it exits first. */
export function startLab(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(process.execPath, [BIN, 'lab', ...args], { stdio: ['ignore', 'pipe', 'pipe'], env });
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`advx lab did not start within 120 s\n${out}\n${err}`));
    }, 120_000);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /advx lab: (http:\/\/\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ url: m[1], child });
      }
    });
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`advx lab exited with ${code}: ${err}`));
    });
  });
}

/** Stops a child process and waits until it is gone. */
export async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await gone;
  clearTimeout(timer);
}

/**
 * For a browser test file, called at its top level: before its tests, `advx lab` (built first if
 * need be) on a fresh temporary runs folder (advx-<name>-e2e-*) and a headless Chromium; after
 * them, both stopped and the folder removed. Read `url` and `browser` inside the tests.
 */
export function labInBrowser(name: string, timeout: number): { readonly url: string; readonly browser: Browser } {
  const tmp = mkdtempSync(join(tmpdir(), `advx-${name}-e2e-`));
  let lab: { url: string; child: ChildProcess } | undefined;
  let browser: Browser | undefined;
  before(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    ensureBuilt();
    mkdirSync(join(tmp, 'runs'));
    lab = await startLab(['--port', '0', '--runs', join(tmp, 'runs')]);
    browser = await launchChromium(timeout);
  });
  after(async () => {
    await browser?.close();
    if (lab) await stop(lab.child);
    rmSync(tmp, { recursive: true, force: true });
  });
  return {
    get url() {
      if (!lab) throw new Error('the lab is not started yet: read url inside a test');
      return lab.url;
    },
    get browser() {
      if (!browser) throw new Error('Chromium is not started yet: read browser inside a test');
      return browser;
    },
  };
}

/** A file for setInputFiles. */
export type Upload = { name: string; mimeType: string; buffer: Buffer };

/** Uploads `files` to `input` and waits for an error banner matching `expected`; returns its text. */
export async function expectError(page: Page, input: string, files: Upload[], expected: RegExp): Promise<string> {
  if (await page.locator('#error').isVisible()) await page.locator('#error-close').click();
  await page.locator('#error').waitFor({ state: 'hidden' });
  await page.locator(input).setInputFiles(files);
  await page.locator('#error:not([hidden])').waitFor();
  const text = await page.locator('#error-text').innerText();
  assert.match(text, expected);
  assert.equal(await page.locator('#error').isVisible(), true);
  return text;
}
