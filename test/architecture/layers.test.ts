import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkLayers, formatViolations, importsOf, LAYERS, stronglyConnected } from '../../scripts/check-layers.ts';

test('src/ keeps its layers: no import cycle, no upward import, no Node API outside node/ and cli/', () => {
  const report = checkLayers(fileURLToPath(new URL('../../src', import.meta.url)));
  assert.ok(report.files.length > 100 && report.edges.length > 500, `only ${report.files.length} files and ${report.edges.length} imports read`);
  assert.deepEqual(formatViolations(report), []);
});

/** A folder of tiny .ts files: path → source. */
function fixture(files: Record<string, string>): { root: string; done: () => void } {
  const root = mkdtempSync(join(tmpdir(), 'advx-layers-'));
  for (const [p, source] of Object.entries(files)) {
    mkdirSync(dirname(join(root, p)), { recursive: true });
    writeFileSync(join(root, p), source);
  }
  return { root, done: () => rmSync(root, { recursive: true, force: true }) };
}

test('the checker finds a planted cycle, an upward import (type-only and dynamic too) and a Node API', () => {
  const { root, done } = fixture({
    'core/a.ts': "import { b } from './b.ts';\nexport const a = () => b;\n",
    'core/b.ts': "import { a } from './a.ts';\nexport const b = () => a;\n",
    'core/ok.ts': 'export const ok = 1;\n',
    'models/m.ts': "import type { Attack } from '../attacks/x.ts';\nexport type M = Attack;\n",
    'data/d.ts': "export const load = () => import('../node/io/files.ts');\n",
    'attacks/x.ts': "import { ok } from '../core/ok.ts';\nimport { m } from '../attacks/y.ts';\nexport type Attack = typeof ok | typeof m;\n",
    'attacks/y.ts': "import { readFileSync } from 'node:fs';\nexport const m = readFileSync;\n",
    'node/io/files.ts': "import * as fs from 'node:fs';\nexport const io = fs;\n",
  });
  try {
    const report = checkLayers(root);
    assert.deepEqual(report.cycles, [['core/a.ts', 'core/b.ts']]);
    assert.deepEqual(
      report.upward.map((e) => [e.from, e.to, e.typeOnly, e.dynamic]),
      [
        ['data/d.ts', 'node/io/files.ts', false, true],
        ['models/m.ts', 'attacks/x.ts', true, false],
      ],
    );
    assert.deepEqual(report.nodeApis.map((e) => `${e.from}:${e.line} ${e.specifier}`), ['attacks/y.ts:1 node:fs']);
    assert.equal(formatViolations(report).length, 4);
  } finally {
    done();
  }
});

test('the checker: a Node-only file behind the gate may be imported by type only; every folder needs a rank; a bad path is reported', () => {
  const { root, done } = fixture({
    'backend/threads.ts': "import { cpus } from 'node:os';\nexport const n = cpus().length;\n",
    'backend/wasm.ts': "export type T = typeof import('./threads.ts');\nimport type { Worker } from 'node:worker_threads';\nexport type W = Worker;\n",
    'backend/bad.ts': "import { n } from './threads.ts';\nimport { z } from './missing.ts';\nexport const m = n + z;\n",
    'misc/x.ts': 'export const x = 1;\n',
  });
  try {
    const report = checkLayers(root, { nodeGatedFiles: ['backend/threads.ts'] });
    assert.deepEqual(report.nodeApis.map((e) => `${e.from} ${e.specifier}`), ['backend/bad.ts ./threads.ts']);
    assert.deepEqual(report.unresolved.map((e) => e.specifier), ['./missing.ts']);
    assert.deepEqual(report.unranked, ['misc/x.ts']);
    assert.deepEqual(report.cycles, []);
  } finally {
    done();
  }
});

test('importsOf: every form of import, with its kind; computed specifiers are no edge', () => {
  const source = [
    "import a from './a.ts';",
    "import type { B } from './b.ts';",
    "import { type C } from './c.ts';",
    "export { d } from './d.ts';",
    "export type { E } from './e.ts';",
    "export * from './f.ts';",
    "import './g.ts';",
    "const h = await import('./h.ts');",
    "type I = import('./i.ts').I;",
    'const j = await import(name);',
    "const k = `import('./not-code.ts')`;",
  ].join('\n');
  assert.deepEqual(
    importsOf('x.ts', source).map((i) => [i.specifier, i.line, i.typeOnly, i.dynamic]),
    [
      ['./a.ts', 1, false, false],
      ['./b.ts', 2, true, false],
      ['./c.ts', 3, true, false],
      ['./d.ts', 4, false, false],
      ['./e.ts', 5, true, false],
      ['./f.ts', 6, false, false],
      ['./g.ts', 7, false, false],
      ['./h.ts', 8, false, true],
      ['./i.ts', 9, true, true],
    ],
  );
});

test('stronglyConnected: cycles of any length, self-loops apart, and a chain too long for recursion', () => {
  const graph: Record<string, string[]> = { a: ['b'], b: ['c'], c: ['a', 'd'], d: [], e: ['e'] };
  const sccs = stronglyConnected(Object.keys(graph), (n) => graph[n]);
  assert.deepEqual(sccs.filter((c) => c.length > 1), [['a', 'b', 'c']]);
  const n = 100_000;
  const nodes = Array.from({ length: n }, (_, i) => String(i));
  assert.equal(stronglyConnected(nodes, (v) => (Number(v) + 1 < n ? [String(Number(v) + 1)] : ['0'])).length, 1);
});

test('every rank of LAYERS is named once', () => {
  const names = LAYERS.flat();
  assert.equal(new Set(names).size, names.length);
});
