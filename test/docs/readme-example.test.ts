/**
 * The README's library example is a real program: the block between `<!-- example:quickstart -->`
 * and `<!-- /example -->` is examples/quickstart.mjs byte for byte, and that file runs with plain
 * `node` (no tsx) against the built package, importing `advx` by name as a user's program would.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const EXAMPLE = fileURLToPath(new URL('../../examples/quickstart.mjs', import.meta.url));
const README = fileURLToPath(new URL('../../README.md', import.meta.url));

/** The code of the README's fenced block between the quickstart markers. */
function readmeBlock(): string {
  const readme = readFileSync(README, 'utf8');
  const m = /<!-- example:quickstart -->\n```js\n([\s\S]*?)```\n<!-- \/example -->/.exec(readme);
  assert.ok(m, 'README.md has no "<!-- example:quickstart -->\\n```js\\n … ```\\n<!-- /example -->" block');
  return m[1];
}

test('the README quickstart block is examples/quickstart.mjs byte for byte', () => {
  assert.equal(readmeBlock(), readFileSync(EXAMPLE, 'utf8'), 'README.md and examples/quickstart.mjs differ: copy the file into the README block (or back)');
});

test('examples/quickstart.mjs runs with plain node against the built package, and PGD flips predictions', () => {
  assert.ok(existsSync(new URL('../../dist/index.js', import.meta.url)), 'dist/index.js is missing: run `npm run build` first (npm test does, in pretest)');
  // Plain node: no tsx loader from this test process may leak in, so `advx` must resolve to compiled JS.
  const env = { ...process.env };
  if (env.NODE_OPTIONS?.includes('tsx')) delete env.NODE_OPTIONS;
  const started = performance.now();
  const r = spawnSync(process.execPath, [EXAMPLE], { cwd: ROOT, env, encoding: 'utf8', timeout: 120_000 });
  const seconds = (performance.now() - started) / 1000;
  if (r.status !== 0 && /ERR_UNKNOWN_FILE_EXTENSION[\s\S]*\.ts/.test(r.stderr)) {
    assert.fail(`plain node resolved 'advx' to TypeScript sources: package.json "exports" must point at dist/*.js\n${r.stderr}`);
  }
  assert.equal(r.status, 0, `quickstart exited with ${r.status}${r.signal ? ` (${r.signal})` : ''}:\n${r.stderr}`);
  const acc = /accuracy: clean ([\d.]+)%, under PGD \(L∞, ε = 0\.3\) ([\d.]+)%/.exec(r.stdout);
  const flips = /pgd flipped (\d+) of (\d+) predictions/.exec(r.stdout);
  assert.ok(acc && flips, `unexpected output:\n${r.stdout}`);
  const [clean, adversarial] = [Number(acc[1]), Number(acc[2])];
  const [flipped, total] = [Number(flips[1]), Number(flips[2])];
  assert.ok(clean >= 95, `clean accuracy ${clean}%: the model did not learn the moons`);
  assert.ok(adversarial < clean, `accuracy under PGD ${adversarial}% is not below the clean ${clean}%`);
  assert.equal(total, 400);
  assert.ok(flipped > 0, 'PGD flipped no prediction');
  // The example is meant to be quick (about 3 s here); a generous bound catches a slow backend slipping in.
  assert.ok(seconds < 60, `quickstart took ${seconds.toFixed(1)} s`);
});
