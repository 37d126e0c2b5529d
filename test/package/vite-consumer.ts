/**
 * advx as a Vite app uses it: the page in fixtures/vite/ (imports from 'advx' only, plus TF.js and
 * the .wasm files through `?url`) built with Vite in a project where the packed advx and its peers
 * are installed, served over HTTP, run in Chromium. For the package test; the project is the
 * caller's (a temporary folder with node_modules/advx).
 */
import { cpSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from '../e2e/helpers.ts';
import { folders, serveFiles } from '../helpers/static-server.ts';

const FIXTURE = fileURLToPath(new URL('./fixtures/vite/', import.meta.url));
const WAIT = 120_000;

export interface ViteConsumerResult {
  /** The page's backend once started: 'wasm'. */
  backend: string;
  /** The class of the clean input, and of FGSM's example. */
  before: number;
  after: number;
  flipped: boolean;
  /** Tensors left after the page disposed of its own: 0. */
  tensors: number;
  /** The .wasm files the page fetched (URL paths): the bundled SIMD one in Chromium. */
  wasmRequested: string[];
  /** Every file of the build (paths under dist/), to check nothing Node-only was bundled. */
  distFiles: string[];
  /** The same page told to look for the .wasm files in a missing folder: the error it shows. */
  missingWasmError: string;
}

/** Copies the fixture into `projectDir`, builds it with Vite and runs it in Chromium. */
export async function runViteConsumer(projectDir: string, options: { viteAlias?: Record<string, string> } = {}): Promise<ViteConsumerResult> {
  cpSync(FIXTURE, projectDir, { recursive: true });
  const { build } = await import('vite');
  // The fixture's vite.config.js, if any, is found in root; the alias is for developing the page
  // against the repository's source before a package exists.
  await build({ root: projectDir, logLevel: 'warn', resolve: options.viteAlias ? { alias: options.viteAlias } : undefined });
  const dist = join(projectDir, 'dist');
  const distFiles = filesUnder(dist);

  const server = await serveFiles(folders({ '/': dist }));
  let browser: Browser | undefined;
  try {
    browser = await launchChromium(WAIT);
    const ok = await pageResult(browser, `${server.origin}/`);
    if ('error' in ok) throw new Error(`the Vite page failed: ${String(ok.error)}`);
    const wasmRequested = server.requested.filter((p) => p.endsWith('.wasm'));
    const missing = await pageResult(browser, `${server.origin}/?wasmPaths=/nowhere/`);
    return { ...(ok as Omit<ViteConsumerResult, 'wasmRequested' | 'distFiles' | 'missingWasmError'>), wasmRequested, distFiles, missingWasmError: String(missing.error) };
  } finally {
    await browser?.close();
    await server.close();
  }
}

/** Paths of the files under `dir`, relative to it (readdirSync's own recursion misses some in Node 20). */
function filesUnder(dir: string, prefix = ''): string[] {
  return readdirSync(join(dir, prefix), { withFileTypes: true })
    .flatMap((d) => (d.isDirectory() ? filesUnder(dir, `${prefix}${d.name}/`) : [`${prefix}${d.name}`]))
    .sort();
}

/** Opens `url` and returns the page's window.__result, with its console errors if it never comes. */
async function pageResult(browser: Browser, url: string): Promise<Record<string, unknown>> {
  const page: Page = await browser.newPage();
  const log: string[] = [];
  page.on('pageerror', (e) => log.push(`page error: ${e.message}`));
  page.on('console', (m) => m.type() === 'error' && log.push(`console: ${m.text()}`));
  try {
    await page.goto(url);
    await page.waitForFunction(() => (window as { __result?: unknown }).__result !== undefined, undefined, { timeout: WAIT }).catch((e: Error) => {
      throw new Error(`${url} gave no result: ${e.message}\n${log.join('\n')}`);
    });
    return (await page.evaluate(() => (window as { __result?: unknown }).__result)) as Record<string, unknown>;
  } finally {
    await page.close();
  }
}
