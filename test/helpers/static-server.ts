/**
 * A static file server on 127.0.0.1 for browser tests of built pages. The MIME types are the ones
 * browsers check: `application/wasm` lets TF.js compile its .wasm file while it streams in.
 */
import { createReadStream, statSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, sep } from 'node:path';

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
};

/** Maps a URL path to a file, or undefined for a 404. */
export type Resolver = (urlPath: string) => string | undefined;

export interface StaticServer {
  origin: string;
  /** Every path asked for, in order. */
  requested: string[];
  close(): Promise<void>;
}

export async function serveFiles(resolve: Resolver): Promise<StaticServer> {
  const requested: string[] = [];
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://localhost').pathname);
    requested.push(path);
    const file = resolve(path);
    if (file === undefined) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      return;
    }
    res.writeHead(200, { 'content-type': MIME[extname(file)] ?? 'application/octet-stream', 'cache-control': 'no-store' });
    if (req.method === 'HEAD') res.end();
    else createReadStream(file).pipe(res);
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    requested,
    close: () =>
      new Promise((ok) => {
        server.closeAllConnections();
        server.close(() => ok());
      }),
  };
}

/** Serves folders under URL prefixes ('/' → dist, '/wasm/' → …); a path ending in / serves its index.html. */
export function folders(mounts: Record<string, string>): Resolver {
  const longestFirst = Object.entries(mounts).sort(([a], [b]) => b.length - a.length);
  return (urlPath) => {
    const mount = longestFirst.find(([prefix]) => urlPath.startsWith(prefix));
    if (!mount) return undefined;
    const [prefix, dir] = mount;
    const rel = urlPath.slice(prefix.length);
    const file = join(dir, rel === '' || rel.endsWith('/') ? `${rel}index.html` : rel);
    if (!file.startsWith(join(dir, sep))) return undefined; // no way out of the folder
    try {
      return statSync(file).isFile() ? file : undefined;
    } catch {
      return undefined;
    }
  };
}
