/**
 * package.json against the code: every package the built JavaScript imports is one a user gets
 * (a dependency or a peer), the optional packages advx looks up at run time are optional peers,
 * and every entry point exists in dist/ (built by `npm test`'s pretest).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DATASET_PACKAGES, OTHER_OPTIONAL_PACKAGES } from '../../src/node/datasets/index.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
  peerDependencies: Record<string, string>;
  peerDependenciesMeta: Record<string, { optional?: boolean }>;
  exports: Record<string, string | Record<string, string | null>>;
  bin: Record<string, string>;
};

function* jsFiles(dir: string): Generator<string> {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) yield* jsFiles(p);
    else if (e.name.endsWith('.js')) yield p;
  }
}

/** The package a bare specifier names: '@scope/name/sub' → '@scope/name', 'name/sub' → 'name'. */
function packageOf(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

test('every package the built JavaScript imports is a dependency or a peer dependency', () => {
  assert.ok(existsSync(join(ROOT, 'dist', 'index.js')), 'dist/ is not built: run npm run build');
  const declared = new Set([...Object.keys(pkg.dependencies), ...Object.keys(pkg.peerDependencies)]);
  const builtin = new Set(builtinModules);
  const undeclared = new Map<string, string>();
  // Static imports and re-exports, dynamic imports and require() of a literal specifier.
  const pattern = /(?:\bfrom\s*|\bimport\s*\(\s*|\brequire(?:\.resolve)?\s*\(\s*|^import\s+)['"]([@\w][\w@/.+-]*)['"]/gm;
  for (const file of jsFiles(join(ROOT, 'dist'))) {
    for (const [, specifier] of readFileSync(file, 'utf8').matchAll(pattern)) {
      if (specifier.startsWith('node:') || builtin.has(specifier)) continue;
      const name = packageOf(specifier);
      if (!declared.has(name)) undeclared.set(name, file.slice(ROOT.length));
    }
  }
  assert.deepEqual([...undeclared].map(([name, file]) => `${name} (${file})`), []);
});

test('the packages advx looks up at run time are optional peers, never installed with advx', () => {
  const optional = new Set([...Object.values(DATASET_PACKAGES).flat(), ...Object.values(OTHER_OPTIONAL_PACKAGES).flat()]);
  for (const name of optional) {
    assert.ok(name in pkg.peerDependencies, `${name} is not a peer dependency`);
    assert.equal(pkg.peerDependenciesMeta[name]?.optional, true, `${name} is not an optional peer`);
    assert.ok(!(name in pkg.dependencies), `${name} is a hard dependency`);
    assert.ok(name in pkg.devDependencies, `${name} is not installed for advx's own tests`);
  }
});

test('TF.js is a peer (one engine with the user’s), and nothing for building or testing is a dependency', () => {
  for (const name of ['@tensorflow/tfjs-core', '@tensorflow/tfjs-layers', '@tensorflow/tfjs-backend-wasm', '@tensorflow/tfjs-backend-cpu', '@tensorflow/tfjs-converter']) {
    assert.ok(name in pkg.peerDependencies && !pkg.peerDependenciesMeta[name]?.optional, `${name} is not a required peer`);
    assert.ok(!(name in pkg.dependencies), `${name} is also a dependency`);
  }
  for (const tool of ['tsx', 'typescript', 'vite', 'typedoc', 'playwright-core']) assert.ok(!(tool in pkg.dependencies), `${tool} is a dependency`);
});

test('every entry point and the bin exist in the build', () => {
  const targets = Object.values(pkg.exports).flatMap((e) => (typeof e === 'string' ? [e] : Object.values(e).filter((v): v is string => typeof v === 'string')));
  for (const target of [...targets, ...Object.values(pkg.bin)]) assert.ok(existsSync(join(ROOT, target)), `${target} does not exist`);
  assert.ok(existsSync(join(ROOT, 'dist', 'cli', 'main.js')), 'bin/advx.js runs dist/cli/main.js, which is not built');
});
