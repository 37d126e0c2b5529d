/**
 * The lab's HTTP server: the built web app (web/dist) as static files, plus read-only views of
 * the run folders the CLI writes and of the shipped models. Node only, no dependencies.
 *
 *   GET /api/runs                 run folders under the runs root (a folder holding config.json
 *                                 or metrics.jsonl, up to 3 levels deep) with a short summary
 *   GET /api/run?name=<rel path>  one run: config, metrics rows (a bad or truncated line is
 *                                 reported in `warnings`, not fatal) and the files it holds
 *   GET /api/models               model folders (model.json) under the models root, with advx.json
 *   GET /runs/<path>              a file inside the runs root (images, report.html, …)
 *   GET /models/<path>            a file inside the models root (model.json, weights, advx.json)
 *   GET /<path>                   the lab itself, from web/dist
 *
 * Every path is decoded, resolved and checked to stay inside its root, before and after
 * following symbolic links: `..`, `%2e%2e`, backslashes, NUL bytes and absolute paths give 403,
 * a link leading out of its root gives 403, anything else missing gives 404. Only GET and HEAD.
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';

export interface LabServerOptions {
  /** The built lab (web/dist). */
  webRoot: string;
  /** Run folders, as written by the CLI's --out. */
  runsRoot: string;
  /** Model folders (model.json + weights + advx.json). */
  modelsRoot: string;
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
 * backend compile its module; blob: covers TF.js's worker and downloads.
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

/** Run files (report.html may carry its own inline script or style): sandboxed, no network. */
const RUN_FILE_CSP = "default-src 'none'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; script-src 'unsafe-inline'; sandbox allow-scripts";

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

/** Parses metrics.jsonl line by line: a bad line (a truncated last one, say) becomes a warning. */
export function parseMetrics(text: string): MetricsParse {
  const rows: Record<string, unknown>[] = [];
  const warnings: string[] = [];
  const lines = text.split('\n');
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    try {
      const v = JSON.parse(line);
      if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Error('not an object');
      rows.push(v as Record<string, unknown>);
    } catch {
      const last = lines.slice(i + 1).every((l) => l.trim() === '');
      warnings.push(last ? `metrics.jsonl: the last line (${i + 1}) is truncated or not JSON; ${rows.length} lines read` : `metrics.jsonl: line ${i + 1} is not JSON and was skipped`);
    }
  });
  return { rows, warnings };
}

const SKIP_DIRS = new Set(['node_modules', 'checkpoint', '.git']);
const MAX_RUN_FILES = 500;

function isRunDir(dir: string): boolean {
  return fs.existsSync(path.join(dir, 'config.json')) || fs.existsSync(path.join(dir, 'metrics.jsonl'));
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

function readJson(file: string): { value?: unknown; warning?: string } {
  if (!fs.existsSync(file)) return {};
  try {
    return { value: JSON.parse(fs.readFileSync(file, 'utf8')) };
  } catch (e) {
    return { warning: `${path.basename(file)}: ${(e as Error).message}` };
  }
}

function runSummary(runsRoot: string, name: string) {
  const dir = safeResolve(runsRoot, name.split('/').map(encodeURIComponent).join('/'));
  const config = readJson(path.join(dir, 'config.json'));
  const metricsFile = path.join(dir, 'metrics.jsonl');
  const metrics = fs.existsSync(metricsFile) ? parseMetrics(fs.readFileSync(metricsFile, 'utf8')) : { rows: [], warnings: [] };
  const warnings = [...(config.warning ? [config.warning] : []), ...metrics.warnings];
  const files = runFiles(dir);
  let modified = 0;
  try {
    modified = fs.statSync(fs.existsSync(metricsFile) ? metricsFile : dir).mtimeMs;
  } catch {
    // gone meanwhile
  }
  return { name, dir, config: config.value ?? null, metrics: metrics.rows, warnings, files, modified };
}

function listModels(modelsRoot: string) {
  const root = path.resolve(modelsRoot);
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
      const info = readJson(path.join(root, name, 'advx.json'));
      const training = readJson(path.join(root, name, 'training.json'));
      return { name, url: `models/${encodeURIComponent(name)}/model.json`, info: info.value ?? null, training: training.value ?? null, warning: info.warning };
    });
}

function sendJson(res: http.ServerResponse, status: number, value: unknown, head: boolean): void {
  const body = JSON.stringify(value);
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff', 'Content-Length': Buffer.byteLength(body) });
  res.end(head ? undefined : body);
}

function sendFile(res: http.ServerResponse, file: string, head: boolean, csp: string | undefined): void {
  const stat = fs.statSync(file);
  if (!stat.isFile()) throw new HttpError(404, 'not found');
  const headers: http.OutgoingHttpHeaders = {
    'Content-Type': MIME[path.extname(file).toLowerCase()] ?? 'application/octet-stream',
    'Content-Length': stat.size,
    'X-Content-Type-Options': 'nosniff',
    'Cache-Control': 'no-cache',
  };
  if (csp) headers['Content-Security-Policy'] = csp;
  res.writeHead(200, headers);
  if (head) res.end();
  else fs.createReadStream(file).pipe(res);
}

/** The request handler; `createLabServer` wraps it in an http.Server. */
export function labHandler(o: LabServerOptions): http.RequestListener {
  return (req, res) => {
    const head = req.method === 'HEAD';
    try {
      if (req.method !== 'GET' && !head) throw new HttpError(405, 'only GET and HEAD');
      const raw = req.url ?? '/';
      const q = raw.indexOf('?');
      const pathname = q < 0 ? raw : raw.slice(0, q);
      const query = new URLSearchParams(q < 0 ? '' : raw.slice(q + 1));
      if (!pathname.startsWith('/')) throw new HttpError(400, 'bad request');
      if (pathname === '/api/runs') {
        const runs = findRuns(o.runsRoot).map((name) => {
          const s = runSummary(o.runsRoot, name);
          const last = s.metrics.at(-1) ?? null;
          return { name, config: s.config, lines: s.metrics.length, last, warnings: s.warnings, modified: s.modified, hasReport: s.files.includes('report.html') };
        });
        return sendJson(res, 200, { root: path.resolve(o.runsRoot), exists: fs.existsSync(o.runsRoot), runs }, head);
      }
      if (pathname === '/api/run') {
        const name = query.get('name');
        if (!name) throw new HttpError(400, 'name is required');
        const dir = safeResolve(o.runsRoot, name.split('/').map(encodeURIComponent).join('/'));
        if (!fs.statSync(dir).isDirectory() || !isRunDir(dir)) throw new HttpError(404, `no run folder "${name}"`);
        const { dir: _dir, ...summary } = runSummary(o.runsRoot, name);
        return sendJson(res, 200, summary, head);
      }
      if (pathname === '/api/models') return sendJson(res, 200, { models: listModels(o.modelsRoot) }, head);
      if (pathname.startsWith('/api/')) throw new HttpError(404, 'no such endpoint');
      if (pathname.startsWith('/runs/')) return sendFile(res, safeResolve(o.runsRoot, pathname.slice('/runs/'.length)), head, RUN_FILE_CSP);
      if (pathname.startsWith('/models/')) return sendFile(res, safeResolve(o.modelsRoot, pathname.slice('/models/'.length)), head, undefined);
      const rel = pathname === '/' ? 'index.html' : pathname.slice(1);
      let file = safeResolve(o.webRoot, rel);
      if (fs.statSync(file).isDirectory()) file = safeResolve(o.webRoot, `${rel.replace(/\/$/, '')}/index.html`);
      return sendFile(res, file, head, file.endsWith('.html') ? LAB_CSP : undefined);
    } catch (e) {
      const status = e instanceof HttpError ? e.status : (e as NodeJS.ErrnoException).code === 'ENOENT' ? 404 : 500;
      const message = e instanceof HttpError ? e.message : status === 404 ? 'not found' : 'internal error';
      if (status === 500) process.stderr.write(`advx lab: ${req.method} ${req.url}: ${(e as Error).message}\n`);
      if (!res.headersSent) sendJson(res, status, { error: message }, head);
      else res.destroy();
    }
  };
}

export function createLabServer(o: LabServerOptions): http.Server {
  return http.createServer(labHandler(o));
}
