/**
 * The API reference builds (scripts/api-docs.ts, `npm run docs:api`) from the public entry points
 * with no TypeDoc warning, and has the pages a user looks for first. About 15 s on 2 cores.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildApiDocs, type ApiDocsResult } from '../../scripts/api-docs.ts';

const HAS_NODE_ENTRY = existsSync(new URL('../../src/node/index.ts', import.meta.url));
let result: ApiDocsResult;

before(async () => {
  const out = join(mkdtempSync(join(tmpdir(), 'advx-api-docs-')), 'api');
  result = await buildApiDocs(out, { quiet: true });
  process.on('exit', () => rmSync(out, { recursive: true, force: true }));
});

test('the API docs have a page for each key entry, from the doc comments', () => {
  assert.deepEqual(result.modules, HAS_NODE_ENTRY ? ['advx', 'advx/node'] : ['advx']);
  const pages = [
    'index.html',
    'modules/advx.html',
    'functions/advx.pgd.html',
    'functions/advx.fgsm.html',
    'functions/advx.useBackend.html',
    'functions/advx.fitClassifier.html',
    'functions/advx.evaluateRobustness.html',
    'classes/advx.Classifier.html',
    'interfaces/advx.PgdOptions.html',
    'interfaces/advx.AttackResult.html',
    ...(HAS_NODE_ENTRY ? ['modules/advx_node.html'] : []),
  ];
  for (const page of pages) assert.ok(existsSync(join(result.out, page)), `${page} is missing`);
  // The doc comment's text, not only the signature.
  assert.match(readFileSync(join(result.out, 'functions/advx.pgd.html'), 'utf8'), /Madry et al\./);
  assert.match(readFileSync(join(result.out, 'classes/advx.Classifier.html'), 'utf8'), /white-box classifier/);
});

test('the API docs build with no TypeDoc warning', () => {
  assert.deepEqual(result.problems, [], `TypeDoc warned (a type a public API uses is not exported, or a doc comment is broken):\n${result.problems.join('\n')}`);
  assert.ok(result.ok);
});
