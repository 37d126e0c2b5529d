/**
 * Both builds of the native kernels against cpu: the wasm kernel tests (kernels.test.ts and
 * input-gradients.test.ts) run once more in a child node, with the build this process did not
 * load. On Node 20 that is the relaxed SIMD build (fused multiply-adds), which needs
 * --experimental-wasm-relaxed-simd; where relaxed SIMD is on by default (Node ≥ 22), the plain
 * build, by ADVX_RELAXED_SIMD=0. kernels.test.ts fails if the child loaded the other build
 * (ADVX_EXPECT_RELAXED_SIMD), so neither can silently test the build the direct run tested.
 * The relaxed results differ from plain only by FMA rounding, inside the tests' tolerances.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { relaxedSimdAvailable } from '../../src/backend/relaxed-simd.ts';

const files = ['kernels.test.ts', 'input-gradients.test.ts'].map((f) => fileURLToPath(new URL(f, import.meta.url)));
const relaxedByDefault = relaxedSimdAvailable();

function runChild(flags: string[], env: Record<string, string>): void {
  // Without NODE_TEST_CONTEXT (set for files run by node --test) the child reports as TAP on stdout.
  const { NODE_TEST_CONTEXT: _, ...parent } = process.env;
  const r = spawnSync(process.execPath, [...flags, '--import', 'tsx', '--test', '--test-concurrency=1', '--test-reporter=tap', ...files], {
    encoding: 'utf8',
    env: { ...parent, ...env },
  });
  assert.equal(r.status, 0, `${r.stdout.slice(-6000)}\n${r.stderr.slice(-2000)}`);
  assert.match(r.stdout, /^# fail 0$/m);
  assert.match(r.stdout, /^# pass [1-9]/m);
}

test('the relaxed SIMD kernels match cpu', { skip: relaxedByDefault && 'relaxed SIMD is on by default here: the direct run tested it' }, () => {
  runChild(['--experimental-wasm-relaxed-simd'], { ADVX_EXPECT_RELAXED_SIMD: '1' });
});

test('the plain SIMD kernels match cpu', { skip: !relaxedByDefault && 'no relaxed SIMD by default here: the direct run tested plain SIMD' }, () => {
  runChild([], { ADVX_RELAXED_SIMD: '0', ADVX_EXPECT_RELAXED_SIMD: '0' });
});
