/**
 * Resuming is bit-exact, for every optimizer a resumable command uses: an optimizer saved after k
 * steps and restored into a fresh one takes the same m further steps, to the last bit, as one that
 * never stopped (library level, through saveCheckpoint/loadCheckpoint); and a CLI run killed with
 * SIGKILL after its first checkpoint and resumed ends with the same weight files, byte for byte, as
 * an uninterrupted run (`advx train`: Adam; `advx adapt`: Adam and SGD with momentum; `advx gan
 * train`: Adam).
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setup } from '../helpers/backend.ts';
import { advx, killAfterFirstCheckpoint } from '../helpers/cli.ts';
import { tried } from '../helpers/tried.ts';
import { Rng } from '../../src/core/rng.ts';
import { loadCheckpoint, saveCheckpoint } from '../../src/node/io/checkpoint.ts';

const tmp = mkdtempSync(join(tmpdir(), 'advx-resume-exact-'));

before(async () => {
  await setup();
});

// ---- library level -------------------------------------------------------------------------

/** A 6 → 12 → 3 network's variables, seeded. */
function makeVariables(seed: number): tf.Variable[] {
  const rng = new Rng(seed);
  const init = (shape: number[]) => tf.variable(tf.tensor(Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => 0.3 * rng.normal()), shape));
  return [init([6, 12]), init([12]), init([12, 3]), init([3])];
}

/** Step `step`'s batch: 16 inputs and labels, the same whoever asks. */
function batch(step: number): { x: tf.Tensor2D; y: tf.Tensor2D } {
  const rng = new Rng(1000 + step);
  const x = tf.tensor2d(Float32Array.from({ length: 16 * 6 }, () => rng.normal()), [16, 6]);
  const y = tf.oneHot(tf.tensor1d(Int32Array.from({ length: 16 }, () => rng.int(3)), 'int32'), 3) as tf.Tensor2D;
  return { x, y };
}

function steps(optimizer: tf.Optimizer, vars: tf.Variable[], from: number, to: number): void {
  for (let s = from; s < to; s++) {
    const { x, y } = batch(s);
    optimizer.minimize(() => {
      const h = tf.relu(tf.add(tf.matMul(x, vars[0]), vars[1]));
      return tf.losses.softmaxCrossEntropy(y, tf.add(tf.matMul(h, vars[2]), vars[3])) as tf.Scalar;
    }, false, vars);
    tf.dispose([x, y]);
  }
}

function bytes(vars: tf.Variable[]): Buffer {
  return Buffer.concat(vars.map((v) => Buffer.from((v.dataSync() as Float32Array).buffer)));
}

const asCheckpointable = (vars: tf.Variable[]) => ({
  getWeights: () => vars as tf.Tensor[],
  setWeights: (ws: tf.Tensor[]) => ws.forEach((w, i) => vars[i].assign(w)),
});

const OPTIMIZERS: Record<string, () => tf.Optimizer> = {
  // train's (createOptimizer), adapt --optimizer adam's, the GAN's.
  'adam (0.9, 0.999)': () => tf.train.adam(0.01, 0.9, 0.999),
  'adam (0.5, 0.999)': () => tf.train.adam(2e-3, 0.5, 0.999),
  // adapt --optimizer sgd's.
  'momentum 0.9': () => tf.train.momentum(0.05, 0.9),
  sgd: () => tf.train.sgd(0.05),
  rmsprop: () => tf.train.rmsprop(0.01, 0.9, 0.5),
  adagrad: () => tf.train.adagrad(0.05),
};

for (const [name, make] of Object.entries(OPTIMIZERS)) {
  test(`${name}: saved after k steps, restored into a fresh optimizer, m more steps equal k + m steps bit for bit`, async () => {
    const k = 23;
    const m = 17;
    const straightVars = makeVariables(11);
    const straightOpt = make();
    steps(straightOpt, straightVars, 0, k + m);

    const dir = join(tmp, `lib-${name.replace(/\W+/g, '-')}`);
    const firstVars = makeVariables(11);
    const firstOpt = make();
    steps(firstOpt, firstVars, 0, k);
    await saveCheckpoint(dir, asCheckpointable(firstVars), firstOpt, { epoch: k });

    // A fresh process: other initial weights, a fresh optimizer, everything from the checkpoint.
    const vars = makeVariables(99);
    const opt = make();
    const state = await loadCheckpoint(dir, asCheckpointable(vars), opt);
    assert.equal(state.epoch, k);
    assert.equal(opt.iterations, k);
    steps(opt, vars, k, k + m);
    assert.equal(opt.iterations, k + m);
    const [a, b] = [bytes(vars), bytes(straightVars)];
    const maxDiff = Math.max(...new Float32Array(a.buffer, a.byteOffset, a.length / 4).map((v, i) => Math.abs(v - new Float32Array(b.buffer, b.byteOffset, b.length / 4)[i])));
    assert.ok(a.equals(b), `weights differ from the uninterrupted run's by up to ${maxDiff}`);
    // And the optimizer's own state.
    const [ow, sw] = [await opt.getWeights(), await straightOpt.getWeights()];
    assert.deepEqual(ow.map((w) => w.name.replace(/^.*\//, '')), sw.map((w) => w.name.replace(/^.*\//, '')));
    for (let i = 0; i < ow.length; i++) assert.ok(Buffer.from(ow[i].tensor.dataSync().buffer).equals(Buffer.from(sw[i].tensor.dataSync().buffer)), `optimizer weight ${i} (${sw[i].name})`);
    tf.dispose([...vars, ...straightVars, ...firstVars, ow[0].tensor, sw[0].tensor]);
    for (const o of [opt, straightOpt, firstOpt]) o.dispose();
    tried('resume exactness');
  });
}

// ---- the commands ---------------------------------------------------------------------------

const read = (dir: string, file: string) => readFileSync(join(dir, file));

/** Runs `args` uninterrupted in one folder, killed after the first checkpoint and resumed in another; returns both folders. */
async function straightAndResumed(label: string, args: string[]): Promise<[string, string]> {
  const straight = join(tmp, `${label}-straight`);
  const killed = join(tmp, `${label}-killed`);
  const r = advx([...args, '--out', straight]);
  assert.equal(r.status, 0, r.stderr);
  await killAfterFirstCheckpoint([...args, '--out', killed], killed);
  const state = JSON.parse(read(killed, 'checkpoint/state.json').toString('utf8'));
  const final = JSON.parse(read(straight, 'checkpoint/state.json').toString('utf8'));
  assert.ok(state.epoch >= 1 && state.epoch < final.epoch, `killed after ${state.epoch} of ${final.epoch}`);
  const resumed = advx([...args, '--out', killed, '--resume']);
  assert.equal(resumed.status, 0, resumed.stderr);
  return [straight, killed];
}

function assertSameFiles(straight: string, resumed: string, files: string[]): void {
  for (const f of files) {
    const [a, b] = [read(straight, f), read(resumed, f)];
    assert.equal(b.length, a.length, f);
    if (!a.equals(b)) {
      const fa = new Float32Array(a.buffer, a.byteOffset, a.length / 4);
      const fb = new Float32Array(b.buffer, b.byteOffset, b.length / 4);
      let max = 0;
      for (let i = 0; i < fa.length; i++) max = Math.max(max, Math.abs(fa[i] - fb[i]));
      assert.fail(`${f} of the resumed run differs from the uninterrupted run's (largest difference ${max})`);
    }
  }
}

test('advx train (MLP, Adam) killed after its first checkpoint resumes to the same weights, byte for byte', async () => {
  // 19 steps an epoch: after 19 or 38 steps, β2^(t+1) by pow and by products differ in the last bit.
  const args = ['train', '--model', 'mlp', '--data', 'mnist', '--limit', '300', '--epochs', '3', '--batch', '16', '--seed', '4', '--quiet'];
  const [straight, resumed] = await straightAndResumed('train', args);
  assertSameFiles(straight, resumed, ['model/weights.bin', 'checkpoint/model/weights.bin', 'checkpoint/optimizer.bin']);
  tried('resume exactness');
});

for (const optimizer of ['adam', 'sgd']) {
  test(`advx adapt --optimizer ${optimizer} killed after its first checkpoint resumes to the same weights, byte for byte`, async () => {
    // 11 steps an epoch: after 11 or 22 steps, pow and the products differ (β1 and β2 respectively).
    const args = ['adapt', '--method', 'dann', '--optimizer', optimizer, '--epochs', '3', '--limit', '128', '--target-limit', '128', '--test-limit', '100', '--batch', '12', '--embed', '30', '--no-tsne', '--seed', '3', '--quiet'];
    const [straight, resumed] = await straightAndResumed(`adapt-${optimizer}`, args);
    assertSameFiles(straight, resumed, ['model/weights.bin', 'checkpoint/weights.bin', 'checkpoint/optimizer.bin']);
    tried('resume exactness');
  });
}

test('advx gan train (both Adams) killed after its first checkpoint resumes to the same weights, byte for byte', async () => {
  // A checkpoint after 5 steps: there β2^6 by pow and by products differ in the last bit. Steps
  // enough after it that a loaded machine still kills the run before it ends.
  const args = ['gan', 'train', '--steps', '20', '--width', '8', '--batch', '16', '--limit', '200', '--seed', '5', '--checkpoint-every', '5', '--sample-every', '4', '--quiet'];
  const [straight, resumed] = await straightAndResumed('gan', args);
  assertSameFiles(straight, resumed, ['model/weights.bin', 'checkpoint/weights.bin', 'checkpoint/optimizer.bin']);
  tried('resume exactness');
});
