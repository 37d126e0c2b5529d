/**
 * Where a browser finds TF.js's `.wasm` binaries, and why it did not: TF.js only logs a failed
 * fetch and reports "failed to initialise", so useBackend fetches the file itself to say which
 * file, which URL and what the server answered. The choice of file and URL mirrors
 * tfjs-backend-wasm 4.22's `getPathToWasmBinary` and `locateFile` (dist/backend_wasm.js).
 */
import { AdvxError } from '../core/errors.ts';

/** The binaries in `@tensorflow/tfjs-backend-wasm/dist/`; TF.js loads the one the browser supports (wasmFileFor). */
export const WASM_FILES = ['tfjs-backend-wasm.wasm', 'tfjs-backend-wasm-simd.wasm', 'tfjs-backend-wasm-threaded-simd.wasm'] as const;
export type WasmFile = (typeof WASM_FILES)[number];

/** A folder's URL (TF.js appends the file name), or one URL per file. See BackendOptions.wasmPaths. */
export type WasmPaths = string | Readonly<Record<WasmFile, string>>;

const WASM_MAGIC = [0x00, 0x61, 0x73, 0x6d]; // "\0asm", the first bytes of every WebAssembly module

/**
 * The paths as TF.js's setWasmPaths wants them. A folder gets its trailing slash (TF.js
 * concatenates folder and name); a map must name every file (TF.js throws otherwise, less clearly).
 */
export function normalizeWasmPaths(paths: WasmPaths): WasmPaths {
  if (typeof paths === 'string') {
    if (paths === '') throw new AdvxError(`wasmPaths is empty: give the URL of the folder that holds ${WASM_FILES.join(', ')}, or a URL for each`);
    return paths.endsWith('/') ? paths : `${paths}/`;
  }
  const missing = WASM_FILES.filter((f) => typeof paths[f] !== 'string' || paths[f] === '');
  if (missing.length) throw new AdvxError(`wasmPaths has no URL for ${missing.join(', ')}: give one for each of ${WASM_FILES.join(', ')}, or a folder's URL`);
  return Object.fromEntries(WASM_FILES.map((f) => [f, paths[f]])) as Record<WasmFile, string>;
}

/** The file TF.js picks: threaded SIMD needs both features (threads need a cross-origin isolated page). */
export function wasmFileFor(simd: boolean, threads: boolean): WasmFile {
  if (simd && threads) return 'tfjs-backend-wasm-threaded-simd.wasm';
  return simd ? 'tfjs-backend-wasm-simd.wasm' : 'tfjs-backend-wasm.wasm';
}

/**
 * The absolute URL TF.js fetches `file` from: the map's entry, the folder plus the name, or, by
 * default, the name relative to Emscripten's script directory (`defaultBase`). Relative URLs
 * resolve against the document, as fetch resolves them.
 */
export function wasmFileUrl(file: WasmFile, paths: WasmPaths | undefined, documentUrl: string, defaultBase = documentUrl): string {
  if (paths === undefined) return new URL(file, defaultBase).href;
  return new URL(typeof paths === 'string' ? paths + file : paths[file], documentUrl).href;
}

/**
 * Fetches `url` as TF.js does and says what is wrong with it: a network error, an HTTP error, or a
 * body that is not WebAssembly (a dev server or SPA fallback answering a missing file with its
 * index.html). Undefined when the file looks fine, so the cause lies elsewhere.
 */
export async function wasmFetchProblem(file: WasmFile, url: string, pathsGiven: boolean): Promise<string | undefined> {
  const hint = pathsGiven
    ? `check useBackend's wasmPaths: the URL of a folder serving the .wasm files of @tensorflow/tfjs-backend-wasm/dist/, or one URL per file`
    : `serve the .wasm files of @tensorflow/tfjs-backend-wasm/dist/ and pass where they are as useBackend('wasm', { wasmPaths }) (a folder's URL, or one URL per file, e.g. Vite's '…/tfjs-backend-wasm-simd.wasm?url' imports)`;
  let res: Response;
  try {
    res = await fetch(url, { credentials: 'same-origin' });
  } catch (e) {
    return `the wasm backend could not fetch ${file} from ${url} (${e instanceof Error ? e.message : String(e)}): ${hint}`;
  }
  if (!res.ok) {
    await res.body?.cancel();
    return `the wasm backend could not load ${file} from ${url} (HTTP ${res.status}): ${hint}`;
  }
  const head = await firstBytes(res, WASM_MAGIC.length);
  if (WASM_MAGIC.every((b, i) => head[i] === b)) return undefined;
  const type = res.headers.get('content-type') ?? 'no content type';
  return `the wasm backend could not load ${file} from ${url}: the server answered HTTP ${res.status} with ${type}, not a WebAssembly file: ${hint}`;
}

/** The first `n` bytes of a response's body, without downloading the rest. */
async function firstBytes(res: Response, n: number): Promise<Uint8Array> {
  if (!res.body) return new Uint8Array(await res.arrayBuffer()).subarray(0, n);
  const reader = res.body.getReader();
  const out = new Uint8Array(n);
  let got = 0;
  try {
    while (got < n) {
      const { value, done } = await reader.read();
      if (done) break;
      const take = value.subarray(0, n - got);
      out.set(take, got);
      got += take.length;
    }
  } finally {
    await reader.cancel();
  }
  return out.subarray(0, got);
}
