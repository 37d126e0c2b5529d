import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { advx, lastJson } from '../helpers/cli.ts';

const tmp = mkdtempSync(join(tmpdir(), 'advx-transfer-'));
const models = [join(tmp, 'a', 'model'), join(tmp, 'b', 'model')];

before(() => {
  for (const [i, name] of ['a', 'b'].entries()) {
    const r = advx(['train', '--model', 'mlp', '--epochs', '1', '--limit', '2000', '--seed', String(i), '--out', join(tmp, name), '--quiet']);
    assert.equal(r.status, 0, r.stderr);
  }
});

test('advx transfer prints the matrix and writes results.json', () => {
  const out = join(tmp, 'out');
  const r = advx(['transfer', '--models', models.join(','), '--attack', 'pgd', '--eps', '0.3', '--steps', '10', '--limit', '16', '--out', out, '--json']);
  assert.equal(r.status, 0, r.stderr);
  const m = lastJson(r.stdout) as { names: string[]; rates: number[][]; counts: number[][] };
  assert.deepEqual(m.names, models);
  assert.equal(m.rates.length, 2);
  for (const row of m.rates) {
    assert.equal(row.length, 2);
    for (const v of row) assert.ok(v >= 0 && v <= 1, `rate ${v}`);
  }
  // The diagonal is the white-box success rate on the correctly classified images: what `advx attack` reports.
  for (const [i, model] of models.entries()) {
    const a = advx(['attack', '--model', model, '--attack', 'pgd', '--eps', '0.3', '--steps', '10', '--limit', '16', '--json']);
    assert.equal(a.status, 0, a.stderr);
    assert.equal(m.rates[i][i], lastJson(a.stdout).success_rate);
  }
  const saved = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')).summary;
  assert.deepEqual(saved.rates, m.rates);
  assert.equal(saved.count, 16);
  const html = readFileSync(join(out, 'report.html'), 'utf8');
  const pct = (v: number) => (Number.isFinite(v) ? `${(100 * v).toFixed(1)}%` : '–');
  m.rates.forEach((row, i) => row.forEach((v, j) => assert.ok(html.includes(`<td>${pct(v)} (n = ${m.counts[i][j]})</td>`), `rate [${i}][${j}] ${pct(v)} in report.html`)));
  for (const name of models) assert.ok(html.includes(name));
  assert.match(html, /source \\ target/);
  assert.doesNotMatch(html, /https?:\/\/|<script/i);

  const table = advx(['transfer', '--models', models.join(','), '--attack', 'fgsm', '--limit', '16']);
  assert.equal(table.status, 0, table.stderr);
  assert.ok(!existsSync(join(process.cwd(), 'report.html')), 'no report without --out');
  assert.match(table.stdout, /source \\ target/);
});

test('transfer options are checked', () => {
  const cases: Array<[string[], RegExp]> = [
    [['--models', models[0]], /--models needs at least 2 comma-separated models/],
    [['--models', models.join(','), '--attack', 'nope'], /unknown attack "nope"/],
  ];
  for (const [extra, message] of cases) {
    const r = advx(['transfer', '--limit', '4', ...extra]);
    assert.notEqual(r.status, 0, extra.join(' '));
    assert.match(r.stderr, message);
  }
});
