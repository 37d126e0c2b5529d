/** `advx --version`: the version, then the wasm kernels this process runs (native SIMD, threads, relaxed SIMD). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { advx } from '../helpers/cli.ts';

const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

test('advx --version prints the version and the kernels: relaxed SIMD on (the CLI enables it on Node 20), off with ADVX_RELAXED_SIMD=0', () => {
  const on = advx(['--version']);
  assert.equal(on.status, 0, on.stderr);
  const lines = on.stdout.trim().split('\n');
  assert.equal(lines[0], version);
  assert.match(on.stdout, /^kernels wasm: native SIMD kernels on \d+ threads?, relaxed SIMD \(FMA\) on$/m);
  const off = advx(['-V'], { ADVX_RELAXED_SIMD: '0' });
  assert.equal(off.status, 0, off.stderr);
  assert.match(off.stdout, /^kernels wasm: native SIMD kernels on \d+ threads?, relaxed SIMD \(FMA\) off \(ADVX_RELAXED_SIMD=0\)$/m);
});
