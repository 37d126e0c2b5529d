import { test } from 'node:test';
import assert from 'node:assert/strict';
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';

// What a browser gets from the public entry, packages' own imports included. The rule file by file
// (the lab also imports files of src/ directly) is scripts/check-layers.ts, run by
// test/architecture/layers.test.ts.
test('the public API bundles for the browser: no Node API reachable from src/index.ts', async () => {
  const entry = fileURLToPath(new URL('../../src/index.ts', import.meta.url));
  const result = await build({ entryPoints: [entry], bundle: true, platform: 'browser', format: 'esm', write: false, logLevel: 'silent', external: ['@tensorflow/*'] }).catch((e: { errors: Array<{ text: string; location?: { file: string } }> }) => e);
  const errors = 'errors' in result ? result.errors : [];
  assert.deepEqual(errors.map((e) => `${e.text} @ ${e.location?.file}`), []);
  const code = 'outputFiles' in result ? result.outputFiles![0].text : '';
  assert.doesNotMatch(code, /from ["']node:/);
});
