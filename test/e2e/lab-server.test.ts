/** The lab's HTTP server without a browser: path safety, run listing, metrics parsing, CLI errors. */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLabServer, findRuns, parseMetrics, safeResolve } from '../../src/node/server/lab-server.ts';
import { advxEnv, rawGet } from './helpers.ts';

const tmp = mkdtempSync(join(tmpdir(), 'advx-lab-server-'));
const web = join(tmp, 'web');
const runs = join(tmp, 'runs');
const models = join(tmp, 'models');
const outside = join(tmp, 'outside');
for (const d of [web, runs, models, outside, join(runs, 'a'), join(runs, 'group', 'b', 'checkpoint'), join(runs, 'not-a-run'), join(models, 'm')]) mkdirSync(d, { recursive: true });
writeFileSync(join(web, 'index.html'), '<!doctype html><title>lab</title>');
writeFileSync(join(outside, 'secret.txt'), 'SECRET-OUTSIDE');
writeFileSync(join(runs, 'a', 'config.json'), JSON.stringify({ model: 'mlp', data: 'mnist' }));
writeFileSync(join(runs, 'a', 'metrics.jsonl'), '{"epoch":1,"loss":2}\n{"epoch":2,"loss":1}\n{"epoch":3,"lo');
writeFileSync(join(runs, 'a', 'grid.png'), 'png');
writeFileSync(join(runs, 'group', 'b', 'metrics.jsonl'), '{"epoch":1,"loss":2}\n');
writeFileSync(join(runs, 'group', 'b', 'checkpoint', 'state.json'), '{}');
writeFileSync(join(runs, 'not-a-run', 'notes.txt'), 'x');
writeFileSync(join(models, 'm', 'model.json'), '{}');
writeFileSync(join(models, 'm', 'advx.json'), '{"inputShape":[28,28,1]}');
symlinkSync(outside, join(runs, 'link-out'));
symlinkSync(join(outside, 'secret.txt'), join(runs, 'a', 'secret-link.txt'));
symlinkSync(join(runs, 'a', 'grid.png'), join(runs, 'a', 'inner-link.png'));

const server = createLabServer({ webRoot: web, runsRoot: runs, modelsRoot: models });
await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
const port = (server.address() as AddressInfo).port;
after(() => {
  server.close();
  rmSync(tmp, { recursive: true, force: true });
});

test('safeResolve keeps every path inside its root', () => {
  assert.equal(safeResolve(runs, 'a/config.json'), join(runs, 'a', 'config.json'));
  assert.equal(safeResolve(runs, 'a/inner-link.png'), join(runs, 'a', 'grid.png'), 'a link inside the root is fine');
  const status = (p: string) => {
    try {
      safeResolve(runs, p);
      return 200;
    } catch (e) {
      return (e as { status: number }).status;
    }
  };
  for (const p of ['../outside/secret.txt', 'a/../../outside/secret.txt', '%2e%2e/outside/secret.txt', '%2E%2E%2Foutside%2Fsecret.txt', 'a/%2e%2e/%2e%2e/outside', '..\\outside', 'a%5c..%5c..%5coutside', 'a/config.json%00.png', 'link-out/secret.txt', 'a/secret-link.txt']) {
    assert.equal(status(p), 403, p);
  }
  assert.equal(status(`${outside}/secret.txt`), 404, 'an absolute path is read relative to the root');
  assert.equal(status('%zz'), 400);
  assert.equal(status('a/missing.png'), 404);
});

test('parseMetrics reports a truncated last line and skips a bad middle line', () => {
  const ok = parseMetrics('{"epoch":1}\n{"epoch":2}\n');
  assert.deepEqual(ok, { rows: [{ epoch: 1 }, { epoch: 2 }], warnings: [] });
  const truncated = parseMetrics('{"epoch":1}\n{"epoch":2}\n{"epo');
  assert.equal(truncated.rows.length, 2);
  assert.match(truncated.warnings[0], /last line \(3\) is truncated/);
  const middle = parseMetrics('{"epoch":1}\nnot json\n[1]\n{"epoch":3}\n');
  assert.equal(middle.rows.length, 2);
  assert.deepEqual(middle.warnings.map((w) => /line (\d)/.exec(w)?.[1]), ['2', '3']);
});

test('findRuns lists run folders (config.json or metrics.jsonl), nested, not their subfolders, not links out', () => {
  assert.deepEqual(findRuns(runs), ['a', 'group/b']);
});

test('the HTTP API lists runs and models, reads one run, and serves files inside the roots only', async () => {
  const list = await rawGet(port, '/api/runs');
  assert.equal(list.status, 200);
  const body = JSON.parse(list.body);
  assert.deepEqual(body.runs.map((r: { name: string }) => r.name), ['a', 'group/b']);
  assert.equal(body.runs[0].lines, 2);
  assert.match(body.runs[0].warnings[0], /truncated/);
  const one = JSON.parse((await rawGet(port, '/api/run?name=a')).body);
  assert.deepEqual(one.metrics, [{ epoch: 1, loss: 2 }, { epoch: 2, loss: 1 }]);
  assert.deepEqual(one.config, { model: 'mlp', data: 'mnist' });
  assert.ok(one.files.includes('grid.png') && one.files.includes('metrics.jsonl'));
  assert.equal((await rawGet(port, '/api/run?name=group%2Fb')).status, 200);
  assert.equal(JSON.parse((await rawGet(port, '/api/run?name=group/b')).body).files.includes('checkpoint/state.json'), false);
  const modelsList = JSON.parse((await rawGet(port, '/api/models')).body);
  assert.deepEqual(modelsList.models.map((m: { name: string; url: string }) => [m.name, m.url]), [['m', 'models/m/model.json']]);
  assert.equal((await rawGet(port, '/runs/a/grid.png')).body, 'png');
  assert.equal((await rawGet(port, '/models/m/advx.json')).status, 200);
  const index = await rawGet(port, '/');
  assert.equal(index.status, 200);
  assert.match(String(index.headers['content-security-policy']), /default-src 'self'/);

  const bad = [
    '/runs/../outside/secret.txt',
    '/runs/%2e%2e/outside/secret.txt',
    '/runs/%2E%2E%2Foutside%2Fsecret.txt',
    '/runs/a/..%2f..%2foutside/secret.txt',
    '/runs/link-out/secret.txt',
    '/runs/a/secret-link.txt',
    `/runs/${outside}/secret.txt`,
    `//${outside}/secret.txt`,
    '/models/../outside/secret.txt',
    '/models/%2e%2e/outside/secret.txt',
    '/../outside/secret.txt',
    '/%2e%2e/outside/secret.txt',
    '/api/run?name=..%2Foutside',
    '/api/run?name=link-out',
    '/api/run?name=not-a-run',
    '/runs/a/%00',
  ];
  for (const path of bad) {
    const r = await rawGet(port, path);
    assert.ok([400, 403, 404].includes(r.status), `${path}: ${r.status}`);
    assert.doesNotMatch(r.body, /SECRET-OUTSIDE/, path);
  }
  assert.equal((await rawGet(port, '/runs/a/config.json', 'POST')).status, 405);
});

test('advx lab: a clear error when the lab is not built, and for a bad port', () => {
  const env = { ...process.env, ADVX_LAB_DIST: join(tmp, 'no-dist') };
  const r = advxEnv(['lab', '--port', '0', '--runs', runs], env);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /the lab is not built .* run npm run build/);
  const p = advxEnv(['lab', '--port', 'http'], env);
  assert.notEqual(p.status, 0);
  assert.match(p.stderr, /--port must be an integer/);
});
