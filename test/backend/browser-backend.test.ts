/**
 * The browser side of backend choice, checked in Node: which backends run where, where TF.js looks
 * for its .wasm files and what a failed fetch of one says, and that no Node-only module can reach
 * a browser bundle of the public API. The same in a real browser: browser-wasm.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { basename } from 'node:path';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { build, type Plugin } from 'esbuild';
import { AdvxError } from '../../src/core/errors.ts';
import { BACKEND_PLATFORMS, BACKENDS, parseBackend, useBackend } from '../../src/backend/index.ts';
import { normalizeWasmPaths, WASM_FILES, wasmFetchProblem, wasmFileFor, wasmFileUrl } from '../../src/backend/wasm-paths.ts';

const SRC = fileURLToPath(new URL('../../src/', import.meta.url));

test('in Node the backends are the CLI choices; webgl is refused as a browser backend', async () => {
  assert.deepEqual(BACKENDS, ['wasm', 'cpu', 'webgpu']);
  assert.deepEqual(Object.keys(BACKEND_PLATFORMS).sort(), ['cpu', 'wasm', 'webgl', 'webgpu']);
  assert.equal(parseBackend('cpu'), 'cpu');
  assert.throws(() => parseBackend('webgl'), (e: Error) => e instanceof AdvxError && /"webgl" runs only in browsers: in Node choose one of wasm, cpu, webgpu/.test(e.message));
  assert.throws(() => parseBackend('tensorflow'), /unknown backend "tensorflow": choose one of wasm, cpu, webgpu/);
  await assert.rejects(useBackend('webgl'), (e: Error) => e instanceof AdvxError && /runs only in browsers/.test(e.message));
});

test('the .wasm file and URL are the ones TF.js picks: by browser features, from a map, a folder or next to the page', () => {
  assert.equal(wasmFileFor(false, false), 'tfjs-backend-wasm.wasm');
  assert.equal(wasmFileFor(true, false), 'tfjs-backend-wasm-simd.wasm');
  assert.equal(wasmFileFor(true, true), 'tfjs-backend-wasm-threaded-simd.wasm');
  assert.equal(wasmFileFor(false, true), 'tfjs-backend-wasm.wasm'); // threads without SIMD: TF.js has no such build
  const page = 'http://host/app/index.html';
  assert.equal(wasmFileUrl('tfjs-backend-wasm-simd.wasm', undefined, page), 'http://host/app/tfjs-backend-wasm-simd.wasm');
  assert.equal(wasmFileUrl('tfjs-backend-wasm-simd.wasm', undefined, page, 'http://cdn/lib/bundle.js'), 'http://cdn/lib/tfjs-backend-wasm-simd.wasm');
  assert.equal(wasmFileUrl('tfjs-backend-wasm.wasm', normalizeWasmPaths('/wasm'), page), 'http://host/wasm/tfjs-backend-wasm.wasm');
  assert.equal(wasmFileUrl('tfjs-backend-wasm.wasm', normalizeWasmPaths('https://cdn/x/'), page), 'https://cdn/x/tfjs-backend-wasm.wasm');
  const map = Object.fromEntries(WASM_FILES.map((f) => [f, `./assets/${f.replace('.wasm', '-1a2b.wasm')}`])) as Record<(typeof WASM_FILES)[number], string>;
  assert.equal(wasmFileUrl('tfjs-backend-wasm-simd.wasm', normalizeWasmPaths(map), page), 'http://host/app/assets/tfjs-backend-wasm-simd-1a2b.wasm');
  assert.throws(() => normalizeWasmPaths({ 'tfjs-backend-wasm.wasm': 'a.wasm' } as never), /wasmPaths has no URL for tfjs-backend-wasm-simd.wasm, tfjs-backend-wasm-threaded-simd.wasm/);
  assert.throws(() => normalizeWasmPaths(''), AdvxError);
});

test('a failed .wasm fetch is described: HTTP status, a page instead of the file, no server; a real file is fine', async () => {
  const server = createServer((req, res) => {
    if (req.url === '/ok/tfjs-backend-wasm-simd.wasm') res.writeHead(200, { 'content-type': 'application/wasm' }).end(Buffer.from([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0]));
    else if (req.url?.startsWith('/spa/')) res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>app</title>');
    else res.writeHead(404).end();
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    const file = 'tfjs-backend-wasm-simd.wasm';
    assert.equal(await wasmFetchProblem(file, `${origin}/ok/${file}`, true), undefined);
    assert.match(
      (await wasmFetchProblem(file, `${origin}/missing/${file}`, false))!,
      new RegExp(`could not load ${file} from ${origin}/missing/${file} \\(HTTP 404\\): serve the .wasm files .* useBackend\\('wasm', \\{ wasmPaths \\}\\)`),
    );
    assert.match((await wasmFetchProblem(file, `${origin}/missing/${file}`, true))!, /HTTP 404\): check useBackend's wasmPaths/);
    assert.match((await wasmFetchProblem(file, `${origin}/spa/${file}`, false))!, /answered HTTP 200 with text\/html, not a WebAssembly file/);
  } finally {
    server.closeAllConnections();
    await new Promise((ok) => server.close(ok));
  }
  // Nothing listens there any more.
  assert.match((await wasmFetchProblem('tfjs-backend-wasm.wasm', `${origin}/tfjs-backend-wasm.wasm`, false))!, /could not fetch tfjs-backend-wasm.wasm from http:\/\/127\.0\.0\.1:\d+\/tfjs-backend-wasm.wasm \(/);
});

/**
 * What a browser bundle of src/index.ts (packages included, as a bundler makes it) pulls in that
 * only Node has: unresolvable Node modules, and files of src/ that must stay Node-only.
 */
async function browserBundleProblems(plugins: Plugin[] = [], external: string[] = []): Promise<string[]> {
  const result = await build({ entryPoints: [`${SRC}index.ts`], bundle: true, platform: 'browser', format: 'esm', write: false, metafile: true, logLevel: 'silent', plugins, external }).catch(
    (e: { errors: Array<{ text: string; location?: { file: string } | null }> }) => e,
  );
  if ('errors' in result && result.errors.length) return result.errors.map((e) => `${e.text} (${e.location?.file})`);
  const inputs = Object.keys((result as { metafile: { inputs: object } }).metafile.inputs);
  const code = (result as { outputFiles: Array<{ text: string }> }).outputFiles[0].text;
  return [
    ...inputs.filter((f) => /^src\/(node|cli)\/|src\/backend\/wasm-threads\.ts$/.test(f)).map((f) => `bundled ${f}`),
    // Real imports only: node:* also appears in strings (worker sources) and nodeOnly('node:os') calls.
    ...[...code.matchAll(/(?:\bfrom\s*|\bimport\s*\(?\s*)["'](node:[\w/]+)["']/g)].map((m) => `imports ${m[1]}`),
    // Vite's (and webpack's) pattern for a file the page needs: it copies the file into the build.
    ...[...code.matchAll(/\bnew\s+URL\s*\(\s*('[^']+'|"[^"]+"|`[^`]+`)\s*,\s*import\.meta\.url/g)].map((m) => `asset reference ${m[0]}`),
  ];
}

test('no Node-only module is reachable from src/index.ts in a browser bundle', async () => {
  assert.deepEqual(await browserBundleProblems(), []);
});

test('the bundle check sees a static node: import in a core file, a static import of wasm-threads, an asset reference to it', async () => {
  // The same source with what someone might add, planted as esbuild loads the files.
  const planted: Record<string, string> = {
    'errors.ts': `import { readFileSync } from 'node:fs'; export const planted = readFileSync;\n`,
    'wasm.ts': `import './wasm-threads.ts';\n`,
  };
  const plant = (files: Record<string, string>): Plugin => ({
    name: 'plant',
    setup(b) {
      b.onLoad({ filter: /src[\\/](core|backend)[\\/]\w+\.ts$/ }, async ({ path }) => {
        const extra = files[basename(path)];
        return extra === undefined ? undefined : { contents: extra + (await readFile(path, 'utf8')), loader: 'ts' };
      });
    },
  });
  // TF.js stays out of these two bundles (faster): what is planted is in advx's own files.
  const problems = (await browserBundleProblems([plant(planted)], ['@tensorflow/*'])).join('\n');
  assert.match(problems, /Could not resolve "node:fs"/);
  assert.match(problems, /Could not resolve "node:fs\/promises".*wasm-threads\.ts/);
  // The form Vite copied into the lab's build before wasm.ts hid its base URL in a variable.
  const asset = await browserBundleProblems([plant({ 'webgl.ts': `export const file = new URL('./wasm-threads.ts', import.meta.url);\n` })], ['@tensorflow/*']);
  assert.deepEqual(asset, ['asset reference new URL("./wasm-threads.ts", import.meta.url']);
});
