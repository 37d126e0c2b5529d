/**
 * The lab's HTTP server: the built web app (web/dist) as static files, plus read-only views of
 * the run folders the CLI writes and of the shipped models. Node only, no dependencies.
 *
 *   GET /api/runs                 run folders under the runs root (a folder holding config.json
 *                                 or metrics.jsonl, up to 3 levels deep) with a short summary
 *   GET /api/run?name=<rel path>  one run: config, metrics rows (a bad or truncated line is
 *                                 reported in `warnings`, not fatal) and the files it holds
 *   GET /api/models               model folders (model.json) under the models root, with advx.json
 *   GET /runs/<path>              a file inside the runs root (images, report.html, …); a
 *                                 Range of bytes gets that part (206)
 *   GET /models/<path>            a file inside the models root (model.json, weights, advx.json)
 *   GET /<path>                   the lab itself, from web/dist
 *
 * Every path is decoded, resolved and checked to stay inside its root, before and after
 * following symbolic links: `..`, `%2e%2e`, backslashes, NUL bytes and absolute paths give 403,
 * a link leading out of its root gives 403, anything else missing gives 404. The files the API
 * reads itself (config.json, metrics.jsonl, advx.json, training.json) get the same check: one
 * that links out of its root is not read, and no error text quotes a file's contents.
 * Only GET and HEAD, and only with an expected Host header (see `hostChecker`: DNS rebinding).
 * User files (runs and models) are served sandboxed (Content-Security-Policy: sandbox), never
 * sniffed; a file is opened once, and what is sent is what that open file held when checked.
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import { isIP } from 'node:net';
import * as path from 'node:path';
import { isInstalled, packageDir, packageVersion } from '../io/packages.ts';
import { RUN_MARKER } from '../runs/folder.ts';
import { RESULTS_FILE } from '../runs/results.ts';

export interface LabServerOptions {
  /** The built lab (web/dist). */
  webRoot: string;
  /** Run folders, as written by the CLI's --out. */
  runsRoot: string;
  /** Model folders (model.json + weights + advx.json). */
  modelsRoot: string;
  /** The address the server listens on (`--host`); decides which Host headers are accepted. Default 127.0.0.1. */
  host?: string;
  /** More names to accept in the Host header (`--allow-host`); '*' accepts any. */
  allowHosts?: string[];
  /** For tests: called once a file has been checked and opened, just before it is streamed. */
  beforeStream?: (file: string) => void;
}

export const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.jsonl': 'text/plain; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.log': 'text/plain; charset=utf-8',
  '.csv': 'text/plain; charset=utf-8',
  '.md': 'text/plain; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.ico': 'image/x-icon',
  '.wasm': 'application/wasm',
  '.bin': 'application/octet-stream',
  '.map': 'application/json; charset=utf-8',
};

/**
 * The lab's own pages may load nothing from anywhere but this server (the bundle is complete),
 * so the browser itself enforces "no external requests". 'wasm-unsafe-eval' lets the WASM
 * backend and ONNX Runtime Web (web/src/onnx-runtime.ts) compile their modules, which come from
 * web/dist like everything else; blob: covers TF.js's worker and downloads.
 */
export const LAB_CSP = [
  "default-src 'self'",
  "script-src 'self' 'wasm-unsafe-eval'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: blob:",
  "connect-src 'self' data: blob:",
  "worker-src 'self' blob:",
  "font-src 'self' data:",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'self'",
].join('; ');

/**
 * Run files (report.html may carry its own inline script or style): sandboxed in an opaque
 * origin (no allow-same-origin), so a script there cannot reach the lab's origin; no network.
 */
export const RUN_FILE_CSP = "default-src 'none'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; script-src 'unsafe-inline'; sandbox allow-scripts";
/** Model files (model.json, weights, advx.json): data only, so sandboxed without scripts. */
export const MODEL_FILE_CSP = "default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; sandbox";
/** API answers: JSON, never a document that could run anything. */
const API_CSP = "default-src 'none'; frame-ancestors 'none'; sandbox";

const LOOPBACK_NAMES = ['localhost', '127.0.0.1', '[::1]'];
const WILDCARD_ADDRESSES = new Set(['0.0.0.0', '::', '[::]']);

/** A Host header's name (lower case, an IPv6 literal in brackets), or undefined if it is malformed. */
function hostName(header: string | undefined): string | undefined {
  const m = /^(\[[0-9a-f:.]+\]|[a-z0-9._-]+)(?::\d{1,5})?$/i.exec(header ?? '');
  return m ? m[1].toLowerCase() : undefined;
}

/**
 * Which Host headers the server answers, against DNS rebinding: a page from evil.example.com
 * whose name is re-pointed at 127.0.0.1 reaches this server with `Host: evil.example.com`.
 * - Always: localhost, 127.0.0.1, [::1], plus the names in `allowHosts` ('*': any host).
 * - Listening on one address or name (`--host 192.168.1.5`, `--host mybox.lan`): that one too.
 * - Listening on all interfaces (0.0.0.0, ::): any IP literal as well (an address cannot be
 *   rebound; only a name can), but no other name unless `--allow-host` lists it.
 * Any port is accepted: the name is what rebinding changes, and a tunnel (ssh -L 8080:…)
 * legitimately shows another port. Exported for tests.
 */
export function hostChecker(host = '127.0.0.1', allowHosts: string[] = []): (header: string | undefined) => boolean {
  const bound = host.toLowerCase();
  const names = new Set([...LOOPBACK_NAMES, ...allowHosts.map((h) => h.trim().toLowerCase())]);
  if (names.has('*')) return () => true;
  const wildcard = WILDCARD_ADDRESSES.has(bound) || bound === '';
  if (!wildcard) names.add(isIP(bound) === 6 ? `[${bound}]` : bound);
  for (const n of [...names]) if (isIP(n) === 6) names.add(`[${n}]`);
  return (header) => {
    const name = hostName(header);
    if (name === undefined) return false;
    if (names.has(name)) return true;
    return wildcard && isIP(name.replace(/^\[(.*)\]$/, '$1')) !== 0;
  };
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Resolves a URL path (still percent-encoded, relative to `root`) to a file system path inside
 * `root`, or throws HttpError 403 / 404. Exported for tests.
 */
export function safeResolve(root: string, encoded: string): string {
  let rel: string;
  try {
    rel = decodeURIComponent(encoded);
  } catch {
    throw new HttpError(400, 'malformed percent-encoding');
  }
  if (rel.includes('\0') || rel.includes('\\')) throw new HttpError(403, 'forbidden path');
  const segments = rel.split('/').filter((s) => s !== '' && s !== '.');
  if (segments.includes('..')) throw new HttpError(403, 'forbidden path');
  const rootAbs = path.resolve(root);
  const target = path.resolve(rootAbs, ...segments);
  if (!inside(rootAbs, target)) throw new HttpError(403, 'forbidden path');
  // Symbolic links: the real path must stay inside the root's real path too.
  let real: string;
  try {
    real = fs.realpathSync(target);
  } catch {
    throw new HttpError(404, 'not found');
  }
  let realRoot: string;
  try {
    realRoot = fs.realpathSync(rootAbs);
  } catch {
    throw new HttpError(404, 'not found');
  }
  if (!inside(realRoot, real)) throw new HttpError(403, 'forbidden path');
  return real;
}

function inside(root: string, p: string): boolean {
  const rel = path.relative(root, p);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

export interface MetricsParse {
  rows: Record<string, unknown>[];
  warnings: string[];
}

/** Lines per slice when parsing asynchronously: the server answers other requests in between. */
const PARSE_SLICE = 5000;

function parseLines(lines: string[], from: number, to: number, lastLine: number, out: MetricsParse): void {
  for (let i = from; i < to; i++) {
    const line = lines[i];
    if (line.trim() === '') continue;
    try {
      const v = JSON.parse(line);
      if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Error('not an object');
      out.rows.push(v as Record<string, unknown>);
    } catch {
      out.warnings.push(i === lastLine ? `metrics.jsonl: the last line (${i + 1}) is truncated or not JSON; ${out.rows.length} lines read` : `metrics.jsonl: line ${i + 1} is not JSON and was skipped`);
    }
  }
}

function lastNonEmpty(lines: string[]): number {
  let last = lines.length - 1;
  while (last >= 0 && lines[last].trim() === '') last--;
  return last;
}

/** Parses metrics.jsonl line by line: a bad line (a truncated last one, say) becomes a warning. */
export function parseMetrics(text: string): MetricsParse {
  const lines = text.split('\n');
  const out: MetricsParse = { rows: [], warnings: [] };
  parseLines(lines, 0, lines.length, lastNonEmpty(lines), out);
  return out;
}

/** parseMetrics in slices, yielding to the event loop between them (a 30 MB file is not one block). */
async function parseMetricsYielding(text: string): Promise<MetricsParse> {
  const lines = text.split('\n');
  const last = lastNonEmpty(lines);
  const out: MetricsParse = { rows: [], warnings: [] };
  for (let i = 0; i < lines.length; i += PARSE_SLICE) {
    if (i > 0) await new Promise((r) => setImmediate(r));
    parseLines(lines, i, Math.min(lines.length, i + PARSE_SLICE), last, out);
  }
  return out;
}

const SKIP_DIRS = new Set(['node_modules', 'checkpoint', '.git']);
const MAX_RUN_FILES = 500;

/** A run folder: marked by advx (every command's --out), or from before marks (config.json, metrics.jsonl, results.json). */
function isRunDir(dir: string): boolean {
  return [RUN_MARKER, 'config.json', 'metrics.jsonl', RESULTS_FILE].some((f) => fs.existsSync(path.join(dir, f)));
}

/** Run folders under `root` (relative paths with '/'), up to `depth` levels down. */
export function findRuns(root: string, depth = 3): string[] {
  const out: string[] = [];
  const walk = (dir: string, rel: string, level: number) => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries.sort((a, b) => a.name.localeCompare(b.name))) {
      if (!e.isDirectory() || e.name.startsWith('.') || SKIP_DIRS.has(e.name)) continue;
      const abs = path.join(dir, e.name);
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (isRunDir(abs)) out.push(r);
      else if (level < depth) walk(abs, r, level + 1);
    }
  };
  walk(path.resolve(root), '', 1);
  return out;
}

/** Files of a run folder (relative paths), two levels deep, checkpoints left out. */
export function runFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string, rel: string, level: number) => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries.sort((a, b) => a.name.localeCompare(b.name))) {
      if (out.length >= MAX_RUN_FILES || e.name.startsWith('.')) continue;
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isFile()) out.push(r);
      else if (e.isDirectory() && !SKIP_DIRS.has(e.name) && level < 2) walk(path.join(d, e.name), r, level + 1);
    }
  };
  walk(dir, '', 1);
  return out;
}

/** The real path of a folder, or undefined when it is not there. */
function realRootOf(root: string): string | undefined {
  try {
    return fs.realpathSync(path.resolve(root));
  } catch {
    return undefined;
  }
}

type Checked = { real: string } | { warning: string } | { missing: true };

/**
 * A file the API reads itself, checked like a served one: its real path must stay inside
 * `realRoot`. The warning names the file only, never its contents.
 */
function checkInside(realRoot: string | undefined, file: string): Checked {
  const base = path.basename(file);
  try {
    fs.lstatSync(file);
  } catch {
    return { missing: true };
  }
  let real: string;
  try {
    real = fs.realpathSync(file);
  } catch {
    return { warning: `${base}: a broken link, not read` };
  }
  if (realRoot === undefined || !inside(realRoot, real)) return { warning: `${base}: links out of its folder, not read` };
  return { real };
}

/** config.json, advx.json, training.json: at most this big (they hold a few settings). */
const MAX_JSON_BYTES = 16 * 1024 * 1024;

function readJson(realRoot: string | undefined, file: string): { value?: unknown; warning?: string } {
  const c = checkInside(realRoot, file);
  if ('missing' in c) return {};
  if ('warning' in c) return { warning: c.warning };
  const base = path.basename(file);
  let text: string;
  try {
    const st = fs.statSync(c.real);
    if (!st.isFile()) return { warning: `${base}: not a file` };
    if (st.size > MAX_JSON_BYTES) return { warning: `${base}: too large (${st.size} bytes), not read` };
    text = fs.readFileSync(c.real, 'utf8');
  } catch {
    return { warning: `${base}: cannot be read` };
  }
  try {
    return { value: JSON.parse(text) };
  } catch {
    // Not the parser's message: it quotes the start of the file.
    return { warning: `${base}: not valid JSON` };
  }
}

/** How often metrics.jsonl files were read and parsed, and how often the cache answered. For tests. */
export const metricsCacheStats = { reads: 0, hits: 0 };

interface MetricsEntry {
  /** dev, inode, size, mtime and ctime of the file when it was read. */
  key: string;
  mtimeMs: number;
  result: Promise<MetricsParse>;
}

/** Parsed metrics.jsonl by real path; an entry holds while the file's size and times do. */
const metricsCache = new Map<string, MetricsEntry>();
const METRICS_CACHE_MAX = 256;

const NO_METRICS: MetricsParse = { rows: [], warnings: [] };

/** metrics.jsonl of a run folder, parsed, from the cache when the file has not changed. */
async function readMetrics(realRoot: string | undefined, file: string): Promise<{ metrics: MetricsParse; mtimeMs?: number }> {
  const c = checkInside(realRoot, file);
  if ('missing' in c) return { metrics: NO_METRICS };
  if ('warning' in c) return { metrics: { rows: [], warnings: [c.warning] } };
  let handle: fs.promises.FileHandle;
  try {
    handle = await fs.promises.open(c.real, 'r');
  } catch {
    return { metrics: { rows: [], warnings: ['metrics.jsonl: cannot be read'] } };
  }
  let entry: MetricsEntry;
  try {
    const st = await handle.stat();
    if (!st.isFile()) return { metrics: { rows: [], warnings: ['metrics.jsonl: not a file'] } };
    const key = `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`;
    const cached = metricsCache.get(c.real);
    if (cached && cached.key === key) {
      metricsCacheStats.hits++;
      metricsCache.delete(c.real);
      metricsCache.set(c.real, cached); // most recently used last
      entry = cached;
    } else {
      metricsCacheStats.reads++;
      // Read through the handle just stat'ed: the text is at least as new as the key.
      const text = handle.readFile('utf8');
      entry = { key, mtimeMs: st.mtimeMs, result: text.then(parseMetricsYielding) };
      metricsCache.set(c.real, entry);
      while (metricsCache.size > METRICS_CACHE_MAX) metricsCache.delete(metricsCache.keys().next().value as string);
      await text.catch(() => undefined);
    }
  } catch {
    return { metrics: { rows: [], warnings: ['metrics.jsonl: cannot be read'] } };
  } finally {
    await handle.close().catch(() => undefined);
  }
  try {
    return { metrics: await entry.result, mtimeMs: entry.mtimeMs };
  } catch {
    if (metricsCache.get(c.real) === entry) metricsCache.delete(c.real);
    return { metrics: { rows: [], warnings: ['metrics.jsonl: cannot be read'] } };
  }
}

async function runSummary(runsRoot: string, name: string) {
  const dir = safeResolve(runsRoot, name.split('/').map(encodeURIComponent).join('/'));
  const realRoot = realRootOf(runsRoot);
  const config = readJson(realRoot, path.join(dir, 'config.json'));
  const { metrics, mtimeMs } = await readMetrics(realRoot, path.join(dir, 'metrics.jsonl'));
  const warnings = [...(config.warning ? [config.warning] : []), ...metrics.warnings];
  const files = runFiles(dir);
  let modified = mtimeMs ?? 0;
  if (mtimeMs === undefined) {
    try {
      modified = fs.statSync(dir).mtimeMs;
    } catch {
      // gone meanwhile
    }
  }
  // What the run found (results.json's summary, without the per-example details) and which command made it.
  const results = readJson(realRoot, path.join(dir, RESULTS_FILE));
  const marker = readJson(realRoot, path.join(dir, RUN_MARKER));
  const r = results.value as { command?: unknown; summary?: unknown; classes?: unknown } | undefined;
  const summary = r && typeof r.summary === 'object' && r.summary !== null ? (r.summary as Record<string, unknown>) : null;
  // The class names the run's labels index (a text attack's, say), for pictures that name classes.
  const classes = Array.isArray(r?.classes) && r.classes.every((c) => typeof c === 'string') ? (r.classes as string[]) : null;
  const markedBy = (marker.value as { command?: unknown } | undefined)?.command;
  const command = typeof r?.command === 'string' ? r.command : typeof markedBy === 'string' ? markedBy : null;
  if (results.warning) warnings.push(results.warning);
  return { name, dir, command, config: config.value ?? null, summary, classes, metrics: metrics.rows, warnings, files, modified };
}

function listModels(modelsRoot: string) {
  const root = path.resolve(modelsRoot);
  const realRoot = realRootOf(root);
  let entries: fs.Dirent[] = [];
  try {
    entries = fs.readdirSync(root, { withFileTypes: true });
  } catch {
    return [];
  }
  return entries
    .filter((e) => (e.isDirectory() || e.isSymbolicLink()) && !e.name.startsWith('.'))
    .map((e) => e.name)
    .sort()
    .filter((name) => {
      try {
        safeResolve(root, `${encodeURIComponent(name)}/model.json`);
        return true;
      } catch {
        return false;
      }
    })
    .map((name) => {
      const info = readJson(realRoot, path.join(root, name, 'advx.json'));
      const training = readJson(realRoot, path.join(root, name, 'training.json'));
      return { name, url: `models/${encodeURIComponent(name)}/model.json`, info: info.value ?? null, training: training.value ?? null, warning: info.warning ?? training.warning };
    });
}

function sendJson(res: http.ServerResponse, status: number, value: unknown, head: boolean): void {
  const body = JSON.stringify(value);
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Cache-Control': 'no-store',
    'X-Content-Type-Options': 'nosniff',
    'Content-Security-Policy': API_CSP,
    'Content-Length': Buffer.byteLength(body),
  });
  res.end(head ? undefined : body);
}

/** O_NOFOLLOW where there is one: the checked real path must not have become a link since. */
const OPEN_FLAGS = fs.constants.O_RDONLY | (fs.constants.O_NOFOLLOW ?? 0);

/**
 * The byte span a Range header asks of a file of `size` bytes: one range of `bytes=a-b`, `a-` or
 * `-n`, clipped to the file; 'unsatisfiable' when it starts past the end; undefined for no header
 * or one this server does not take (several ranges, other units), which is then answered whole.
 */
function byteRange(header: string | undefined, size: number): { start: number; end: number } | 'unsatisfiable' | undefined {
  const m = header === undefined ? null : /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return undefined;
  if (m[1] === '') {
    const n = Number(m[2]);
    return n === 0 || size === 0 ? 'unsatisfiable' : { start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(m[1]);
  const end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (m[2] !== '' && Number(m[2]) < start) return undefined;
  return start >= size ? 'unsatisfiable' : { start, end };
}

/**
 * Streams one checked file, or the part of it a Range asks for. It is opened once and everything
 * after goes through that handle, so a file deleted or replaced after the check is still the file
 * checked; one that grows is sent up to the size announced, one that shrinks cuts the connection
 * (the body would be short).
 */
async function sendFile(res: http.ServerResponse, file: string, head: boolean, csp: string | undefined, beforeStream?: (file: string) => void, rangeHeader?: string): Promise<void> {
  let handle: fs.promises.FileHandle;
  try {
    handle = await fs.promises.open(file, OPEN_FLAGS);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'ELOOP' || code === 'EISDIR') throw new HttpError(404, 'not found');
    if (code === 'EACCES' || code === 'EPERM') throw new HttpError(403, 'forbidden path');
    throw e;
  }
  let stat: fs.Stats;
  try {
    stat = await handle.stat();
    if (!stat.isFile()) throw new HttpError(404, 'not found');
    beforeStream?.(file);
  } catch (e) {
    await handle.close().catch(() => undefined);
    throw e;
  }
  // A Range asks for part of the file: the first lines of a long examples.jsonl, say.
  const range = byteRange(rangeHeader, stat.size);
  const span = range === undefined || range === 'unsatisfiable' ? { start: 0, end: stat.size - 1 } : range;
  const size = range === 'unsatisfiable' ? 0 : span.end - span.start + 1;
  const headers: http.OutgoingHttpHeaders = {
    'Content-Type': MIME[path.extname(file).toLowerCase()] ?? 'application/octet-stream',
    'Content-Length': size,
    'Accept-Ranges': 'bytes',
    'X-Content-Type-Options': 'nosniff',
    'Cache-Control': 'no-cache',
  };
  if (csp) headers['Content-Security-Policy'] = csp;
  if (range === 'unsatisfiable') headers['Content-Range'] = `bytes */${stat.size}`;
  else if (range) headers['Content-Range'] = `bytes ${span.start}-${span.end}/${stat.size}`;
  res.writeHead(range === 'unsatisfiable' ? 416 : range ? 206 : 200, headers);
  if (head || size === 0) {
    await handle.close().catch(() => undefined);
    res.end();
    return;
  }
  const stream = handle.createReadStream({ start: span.start, end: span.end, autoClose: true });
  let sent = 0;
  stream.on('data', (chunk: Buffer | string) => (sent += chunk.length));
  stream.on('error', (e) => {
    process.stderr.write(`advx lab: reading ${file}: ${e.message}\n`);
    res.destroy();
  });
  stream.on('end', () => {
    if (sent === size) res.end();
    else res.destroy(); // shorter than Content-Length: the client must see a broken answer
  });
  res.on('close', () => stream.destroy());
  stream.pipe(res, { end: false });
}

/**
 * Files the lab loads from installed packages rather than shipping them in web/dist: ONNX Runtime
 * Web's 15 MB .wasm, which only a lab that runs an ONNX file in ONNX Runtime needs. Its JavaScript
 * is bundled, so the .wasm must be of the same version (the page asks with ?v=<version>).
 */
const VENDOR_PREFIX = '/vendor/';
const VENDOR_FILES: Record<string, { package: string; file: string }> = {
  'onnxruntime-web/ort-wasm-simd-threaded.wasm': { package: 'onnxruntime-web', file: 'dist/ort-wasm-simd-threaded.wasm' },
};

async function sendVendorFile(res: http.ServerResponse, name: string, wanted: string | null, head: boolean, beforeStream?: (file: string) => void): Promise<void> {
  const entry = Object.hasOwn(VENDOR_FILES, name) ? VENDOR_FILES[name] : undefined;
  if (!entry) throw new HttpError(404, 'not found');
  const install = `npm install ${entry.package}${wanted ? `@${wanted}` : ''}`;
  const purpose = 'running ONNX files in ONNX Runtime Web in the lab';
  if (!isInstalled(entry.package)) throw new HttpError(404, `${purpose} needs the npm package ${entry.package}, not installed beside advx: ${install}`);
  const version = packageVersion(entry.package, purpose);
  if (wanted && version !== wanted) throw new HttpError(404, `${purpose} needs ${entry.package} ${wanted}, the version the lab was built with (installed: ${version}): ${install}`);
  return sendFile(res, path.join(packageDir(entry.package, purpose), entry.file), head, undefined, beforeStream);
}

async function handle(o: LabServerOptions, allowed: (host: string | undefined) => boolean, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const head = req.method === 'HEAD';
  if (!allowed(req.headers.host)) throw new HttpError(403, `forbidden Host header: open the lab at http://127.0.0.1:${req.socket.localPort ?? '<port>'}/ or see --allow-host`);
  if (req.method !== 'GET' && !head) throw new HttpError(405, 'only GET and HEAD');
  const raw = req.url ?? '/';
  const q = raw.indexOf('?');
  const pathname = q < 0 ? raw : raw.slice(0, q);
  const query = new URLSearchParams(q < 0 ? '' : raw.slice(q + 1));
  if (!pathname.startsWith('/')) throw new HttpError(400, 'bad request');
  if (pathname === '/api/runs') {
    const runs = [];
    for (const name of findRuns(o.runsRoot)) {
      const s = await runSummary(o.runsRoot, name);
      const last = s.metrics.at(-1) ?? null;
      runs.push({ name, command: s.command, config: s.config, summary: s.summary, lines: s.metrics.length, last, warnings: s.warnings, modified: s.modified, hasReport: s.files.includes('report.html') });
    }
    return sendJson(res, 200, { root: path.resolve(o.runsRoot), exists: fs.existsSync(o.runsRoot), runs }, head);
  }
  if (pathname === '/api/run') {
    const name = query.get('name');
    if (!name) throw new HttpError(400, 'name is required');
    const dir = safeResolve(o.runsRoot, name.split('/').map(encodeURIComponent).join('/'));
    if (!fs.statSync(dir).isDirectory() || !isRunDir(dir)) throw new HttpError(404, 'no run folder of that name');
    const { dir: _dir, ...summary } = await runSummary(o.runsRoot, name);
    return sendJson(res, 200, summary, head);
  }
  if (pathname === '/api/models') return sendJson(res, 200, { models: listModels(o.modelsRoot) }, head);
  if (pathname.startsWith('/api/')) throw new HttpError(404, 'no such endpoint');
  if (pathname.startsWith(VENDOR_PREFIX)) return sendVendorFile(res, pathname.slice(VENDOR_PREFIX.length), query.get('v'), head, o.beforeStream);
  if (pathname.startsWith('/runs/')) return sendFile(res, safeResolve(o.runsRoot, pathname.slice('/runs/'.length)), head, RUN_FILE_CSP, o.beforeStream, req.headers.range);
  if (pathname.startsWith('/models/')) return sendFile(res, safeResolve(o.modelsRoot, pathname.slice('/models/'.length)), head, MODEL_FILE_CSP, o.beforeStream, req.headers.range);
  const rel = pathname === '/' ? 'index.html' : pathname.slice(1);
  let file = safeResolve(o.webRoot, rel);
  if (fs.statSync(file).isDirectory()) file = safeResolve(o.webRoot, `${rel.replace(/\/$/, '')}/index.html`);
  return sendFile(res, file, head, file.endsWith('.html') ? LAB_CSP : undefined, o.beforeStream);
}

/** The request handler; `createLabServer` wraps it in an http.Server. */
export function labHandler(o: LabServerOptions): http.RequestListener {
  const allowed = hostChecker(o.host, o.allowHosts);
  return (req, res) => {
    const head = req.method === 'HEAD';
    handle(o, allowed, req, res).catch((e: unknown) => {
      const status = e instanceof HttpError ? e.status : (e as NodeJS.ErrnoException).code === 'ENOENT' ? 404 : 500;
      const message = e instanceof HttpError ? e.message : status === 404 ? 'not found' : 'internal error';
      if (status === 500) process.stderr.write(`advx lab: ${req.method} ${req.url}: ${(e as Error).message}\n`);
      if (!res.headersSent) sendJson(res, status, { error: message }, head);
      else res.destroy();
    });
  };
}

export function createLabServer(o: LabServerOptions): http.Server {
  return http.createServer(labHandler(o));
}
