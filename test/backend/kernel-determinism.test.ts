/**
 * The native kernels give the same bits while their worker threads are still starting as after:
 * a kernel that sums one partial result per share (the filter gradient) splits its work the same
 * way whatever number of workers is ready, so a process's first steps round like its later ones
 * (a run resumed from a checkpoint otherwise drifted in the last bits from one that never stopped).
 * In a fresh process, where the workers cannot have started yet when the first kernel runs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';

const child = fileURLToPath(new URL('../helpers/filter-gradient-at-start.ts', import.meta.url));

test('the filter gradient has the same bits before and after the worker threads are ready', { skip: availableParallelism() < 2 && 'one core: no worker threads' }, () => {
  const r = spawnSync(process.execPath, ['--import', 'tsx', child], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout.trim().split('\n').pop()!);
  assert.ok(out.threadsLater >= 2, `the workers did not start: ${r.stdout}`);
  assert.ok(out.threadsAtStart < out.threadsLater, `the first kernel already had every worker (${r.stdout}): nothing was compared`);
  assert.ok(out.same, `the filter gradient changed once the workers were ready: ${r.stdout}`);
});
