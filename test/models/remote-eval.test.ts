/**
 * Served models in the evaluations: robustness (score- and decision-based attacks, the same
 * accounting as on the local model), transfer to a served target, TF Serving's metadata, a server
 * that dies mid-run (partial results kept, exit 1), and --data PATH. Real servers on 127.0.0.1
 * around models/mnist-cnn (test/helpers/model-server.ts); nothing talks to any other host.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { setup } from '../helpers/backend.ts';
import { advxRun, lastJson } from '../helpers/cli.ts';
import { json, serve, stopAll, tfserving, type Handler } from '../helpers/model-server.ts';
import { loadClassifier } from '../../src/node/io/load-model.ts';
import { loadDataset } from '../../src/node/datasets/index.ts';
import { gatherBatch } from '../../src/data/batch.ts';
import { encodePng } from '../../src/node/io/png.ts';
import type { Classifier } from '../../src/models/classifier.ts';
import { RemoteModel } from '../../src/models/remote.ts';
import { evaluateRobustness, type RobustnessReport } from '../../src/eval/robustness.ts';
import { ServiceError } from '../../src/core/errors.ts';

const N = 16;
let classifier: Classifier;
let x: tf.Tensor4D;
let y: tf.Tensor1D;
let clean: Float32Array;
const SIZE = 28 * 28;

before(async () => {
  await setup();
  ({ classifier } = await loadClassifier('models/mnist-cnn'));
  const { test: data } = loadDataset('mnist', { limit: { train: 1, test: N } });
  ({ x, y } = gatherBatch(data, Array.from({ length: N }, (_, i) => i)));
  clean = x.dataSync() as Float32Array;
});

after(stopAll);

/** The rows of a TF Serving predict body, flat. */
function rowsOf(body: string): number[][] {
  return (JSON.parse(body).instances as unknown[]).map((r) => ((r as { x?: unknown }).x ?? r) as number[][][]).map((r) => r.flat(2) as number[]);
}

/** L∞ distance from a row to the nearest of the first `n` clean images: how far an attack moved it. */
function distanceToClean(row: number[], n = N): number {
  let best = Infinity;
  for (let i = 0; i < n; i++) {
    let d = 0;
    for (let j = 0; j < SIZE && d < best; j++) d = Math.max(d, Math.abs(row[j] - clean[i * SIZE + j]));
    best = Math.min(best, d);
  }
  return best;
}

/** TF Serving around the model that drops every connection (and stops) the first time `dies(rows)` holds. */
async function dying(dies: (rows: number[][]) => boolean, options: { metadata?: boolean } = {}) {
  const handler: Handler = tfserving(classifier, [], options);
  const server = await serve((req, body, res) => {
    if (req.method === 'POST' && dies(rowsOf(body))) return server.stop();
    handler(req, body, res);
  });
  return server;
}


test('TF Serving metadata: shape, input name and classes learned (no probe); a disagreeing shape refused; without it, the given or fallback shape', async () => {
  const { base, batches } = await serve((req, body, res) => tfserving(classifier, batches, { metadata: true })(req, body, res));
  const model = await RemoteModel.connect(`${base}/v1/models/mnist`, { protocol: 'tfserving' });
  assert.deepEqual(model.info, { inputShape: [28, 28, 1], numClasses: 10, bounds: [0, 1] });
  assert.equal(model.queries, 0, 'the metadata gave the class count: no probe image');
  // The server refuses rows that do not name input "x" (400): these were named from the metadata.
  assert.deepEqual(Array.from(await model.label(x)), Array.from(await classifier.predict(x)));
  assert.deepEqual(batches, [N]);
  await assert.rejects(RemoteModel.connect(`${base}/v1/models/mnist`, { protocol: 'tfserving', inputShape: [32, 32, 3] }), /^AdvxError: http:\/\/127\.0\.0\.1:\d+\/v1\/models\/mnist expects inputs of shape 28×28×1, but the images are 32×32×3$/);

  const bare = await serve((req, body, res) => tfserving(classifier, [])(req, body, res)); // 404 for the metadata
  await assert.rejects(RemoteModel.connect(`${bare.base}/v1/models/mnist`, { protocol: 'tfserving' }), /the input shape of .* is unknown or not fixed/);
  const fallback = await RemoteModel.connect(`${bare.base}/v1/models/mnist`, { protocol: 'tfserving', fallbackShape: [28, 28, 1] });
  assert.deepEqual(fallback.info, { inputShape: [28, 28, 1], numClasses: 10, bounds: [0, 1] });
  assert.equal(fallback.queries, 1, 'no metadata: one probe image for the class count');

  const twoInputs = await serve((req, _body, res) => {
    const sig = JSON.parse(JSON.stringify({ metadata: { signature_def: { signature_def: { serving_default: { inputs: { a: {}, b: {} }, outputs: {} } } } } }));
    json(res, req.method === 'GET' ? 200 : 404, sig);
  });
  await assert.rejects(RemoteModel.connect(`${twoInputs.base}/v1/models/mnist`, { protocol: 'tfserving', inputShape: [28, 28, 1] }), /serving signature takes 2 inputs \(a, b\): advx sends one batch of images$/);
});

const squareOptions = { attacks: ['square'], eps: [0, 0.1, 0.3], queries: 60, seed: 3, batchSize: 8 };

/** The numbers of a report that must not depend on where the model runs. */
const accounting = (r: RobustnessReport) => ({ clean: r.clean_accuracy, robust: r.robust_accuracy, perAttack: r.per_attack, attacks: r.attacks.map((a) => ({ attacked: a.attacked, broken: a.broken, queries: a.queries })) });

test('robustness with square on a served model equals the run on the local model (same seed), queries counted', async () => {
  const { base } = await serve((req, body, res) => tfserving(classifier, [], { metadata: true })(req, body, res));
  const model = await RemoteModel.connect(`${base}/v1/models/mnist`, { protocol: 'tfserving', inputShape: [28, 28, 1], maxBatch: 16 });
  const t0 = performance.now();
  const served = await evaluateRobustness(model, x, y, squareOptions);
  const servedSeconds = (performance.now() - t0) / 1000;
  const local = await evaluateRobustness(classifier, x, y, squareOptions);
  assert.deepEqual(accounting(served), accounting(local));
  assert.ok(served.robust_accuracy['0.3'] < served.clean_accuracy, 'square broke something at ε = 0.3');
  assert.ok(Number.isNaN(served.zero_gradient_share), 'no gradients of a served model');
  const q = served.attacks[0].queries!;
  // The endpoint answered the clean images, the attack's queries and one re-check per attacked input.
  const attacked = served.attacks[0].attacked;
  assert.equal(model.queries, N + q['0.1'] + q['0.3'] + attacked['0.1'] + attacked['0.3']);
  assert.ok(q['0.1'] <= 60 * attacked['0.1']);
  console.log(`served square: ${model.queries} images in ${model.requests} requests, ${servedSeconds.toFixed(2)} s; queries per ε ${JSON.stringify(q)}`);
});

test('robustness with hsj through labels only equals the local run; white-box attacks refused on the endpoint', async () => {
  const { base } = await serve((req, body, res) => tfserving(classifier, [])(req, body, res));
  const model = await RemoteModel.connect(`${base}/v1/models/mnist`, { protocol: 'tfserving', inputShape: [28, 28, 1], labelsOnly: true });
  const [x8, y8] = [tf.slice(x, 0, 8), tf.slice(y, 0, 8)];
  const options = { attacks: ['hsj'], eps: [0.1, 0.3], queries: 150, seed: 2, batchSize: 8 };
  const served = await evaluateRobustness(model, x8, y8, options);
  const local = await evaluateRobustness(classifier, x8, y8, options);
  assert.deepEqual(accounting(served), accounting(local));
  assert.equal(served.attacks[0].queries!['0.3'], undefined, 'minimal-norm: run once, its result reused at the next ε');
  await assert.rejects(evaluateRobustness(model, x8, y8, { attacks: ['square'], eps: [0.1] }), /attack "square" needs score access \(scores\), but the remote model gives decision access only: use hsj$/);
  const scores = await RemoteModel.connect(`${base}/v1/models/mnist`, { protocol: 'tfserving', inputShape: [28, 28, 1] });
  await assert.rejects(evaluateRobustness(scores, x8, y8, { attacks: ['square', 'pgd'], eps: [0.1] }), /attack "pgd" needs white-box access \(gradients\)/);
  assert.equal(scores.queries, 1, 'refused before any query but the probe');
  tf.dispose([x8, y8]);
});

test('a server that dies mid-robustness: a ServiceError carrying the finished blocks, equal to the full run\'s on them', async () => {
  // Two blocks of 8. The first block alone is seeded as in the whole run: the partial report must equal its report.
  const [x8, y8] = [tf.slice(x, 0, 8), tf.slice(y, 0, 8)];
  const first = await evaluateRobustness(classifier, x8, y8, squareOptions);
  tf.dispose([x8, y8]);
  // Dies at the first request holding clean image 8 exactly: the second block's clean predictions.
  const eight = JSON.stringify(Array.from(clean.subarray(8 * SIZE, 9 * SIZE)));
  const server = await dying((rows) => rows.some((r) => JSON.stringify(r) === eight), { metadata: true }); // no probe image
  const model = await RemoteModel.connect(`${server.base}/v1/models/mnist`, { protocol: 'tfserving', inputShape: [28, 28, 1], retries: 1, backoffMs: 5 });
  const error = await evaluateRobustness(model, x, y, squareOptions).then(() => undefined, (e: unknown) => e);
  assert.ok(error instanceof ServiceError, String(error));
  assert.match(error.message, /^cannot reach http:\/\/127\.0\.0\.1:\d+\/v1\/models\/mnist:predict \(/);
  const partial = error.partial as RobustnessReport;
  assert.equal(partial.count, 8);
  assert.equal(partial.partial!.planned, N);
  assert.deepEqual(partial.partial!.stopped_at, { index: 8, eps: 0, attack: 'square' });
  assert.deepEqual(partial.eps, [0, 0.1, 0.3], 'every ε, on the inputs finished');
  assert.deepEqual(partial.robust_accuracy, first.robust_accuracy);
  assert.deepEqual(partial.attacks[0].broken, first.attacks[0].broken);
});

test('CLI robustness on an endpoint: equals the local model\'s; suites and attacks that need more access refused in one line', async () => {
  const { base } = await serve((req, body, res) => tfserving(classifier, [], { metadata: true })(req, body, res));
  const url = `${base}/v1/models/mnist`;
  const common = ['robustness', '--attacks', 'square', '--eps', '0,0.1,0.3', '--queries', '40', '--limit', '12', '--batch', '4', '--seed', '1', '--json'];
  const t0 = performance.now();
  const served = await advxRun([...common, '--model', url, '--protocol', 'tfserving']);
  const seconds = (performance.now() - t0) / 1000;
  assert.equal(served.status, 0, served.stderr);
  const local = await advxRun([...common, '--model', 'models/mnist-cnn']);
  assert.equal(local.status, 0, local.stderr);
  const [s, l] = [lastJson(served.stdout) as unknown as RobustnessReport & { endpoint: { queries: number; requests: number } }, lastJson(local.stdout) as unknown as RobustnessReport];
  assert.deepEqual(accounting(s), accounting(l));
  assert.ok(s.endpoint.queries > 0);
  console.log(`CLI served robustness: ${s.endpoint.queries} images in ${s.endpoint.requests} requests, ${seconds.toFixed(1)} s wall`);

  const suite = await advxRun(['robustness', '--model', url, '--protocol', 'tfserving', '--suite', 'standard']);
  assert.equal(suite.status, 2);
  assert.match(suite.stderr.trim(), /^advx: --suite standard runs apgd-ce, which needs white-box access \(gradients\), but http:\S+ gives score access only: pass --attacks instead \(square, nes, spsa, hsj\)$/);
  const labelsOnly = await advxRun(['robustness', '--model', url, '--protocol', 'tfserving', '--labels-only', '--attacks', 'hsj,square']);
  assert.equal(labelsOnly.status, 2);
  assert.match(labelsOnly.stderr.trim(), /^advx: attack "square" needs score access \(scores\), but http:\S+ gives decision access only: use hsj$/);
});

test('CLI: a server that dies mid-run: one line, exit 1, the finished examples / ε values written, valid JSON', async () => {
  const out = mkdtempSync(join(tmpdir(), 'advx-remote-eval-'));
  try {
    // attack, batches of 4: dies when batch 2 begins (its first request holds the clean image 4).
    const cleanRow = (i: number) => Array.from(clean.subarray(i * SIZE, (i + 1) * SIZE));
    const four = JSON.stringify(cleanRow(4));
    const a = await dying((rows) => rows.some((r) => JSON.stringify(r) === four));
    const attack = await advxRun(['attack', '--model', `${a.base}/v1/models/mnist`, '--protocol', 'tfserving', '--retries', '1', '--attack', 'square', '--queries', '30', '--limit', '12', '--batch', '4', '--images', '8', '--out', join(out, 'attack')]);
    assert.equal(attack.status, 1, attack.stderr);
    // Its progress lines, then one error line, the last.
    assert.equal(attack.stderr.split('\n').filter((l) => l.startsWith('advx:')).length, 1, attack.stderr);
    assert.match(attack.stderr, /\nadvx: cannot reach http:\/\/127\.0\.0\.1:\d+\/v1\/models\/mnist:predict \(\w+\)\n$/);
    const results = JSON.parse(readFileSync(join(out, 'attack', 'results.json'), 'utf8'));
    assert.equal(results.summary.count, 4);
    assert.deepEqual(results.examples.map((e: { index: number }) => e.index), [0, 1, 2, 3]);
    assert.equal(results.summary.partial.planned, 12);
    assert.match(results.summary.partial.error, /cannot reach/);
    assert.ok(existsSync(join(out, 'attack', 'report.html')));
    assert.ok(existsSync(join(out, 'attack', 'examples', '0003-perturbation.png')));
    assert.ok(!existsSync(join(out, 'attack', 'examples', '0004-perturbation.png')));
    const marker = JSON.parse(readFileSync(join(out, 'attack', '.advx-run'), 'utf8'));
    assert.equal(marker.command, 'attack');
    assert.ok(!existsSync(join(out, 'attack', '.advx-lock')), 'the lock is released');

    // robustness, blocks of 4: dies when block 1 begins; block 0 is kept, every ε of it.
    const r = await dying((rows) => rows.some((row) => JSON.stringify(row) === four), { metadata: true });
    const robustnessArgs = ['robustness', '--model', `${r.base}/v1/models/mnist`, '--protocol', 'tfserving', '--retries', '0', '--attacks', 'square', '--eps', '0,0.1,0.3', '--queries', '40', '--limit', '12', '--batch', '4', '--seed', '1'];
    const robustness = await advxRun([...robustnessArgs, '--out', join(out, 'robustness')]);
    assert.equal(robustness.status, 1, robustness.stderr);
    assert.equal(robustness.stderr.replace(/\r/g, '\n').split('\n').filter((l) => l.startsWith('advx:')).length, 1, robustness.stderr);
    assert.match(robustness.stderr, /advx: cannot reach http:\/\/127\.0\.0\.1:\d+\/v1\/models\/mnist:predict \(\w+\)\n$/);
    const report = JSON.parse(readFileSync(join(out, 'robustness', 'results.json'), 'utf8')).summary;
    assert.deepEqual(report.eps, [0, 0.1, 0.3]);
    assert.equal(report.count, 4);
    assert.deepEqual(report.partial.stopped_at, { index: 4, eps: 0, attack: 'square' });
    assert.ok(report.endpoint.queries > 4);
    assert.match(readFileSync(join(out, 'robustness', 'report.html'), 'utf8'), /Partial: the model stopped answering after 4 of 12 images/);

    // The server back at the same address: the same command goes on from block 0 and ends as a run the outage never hit.
    const back = await serve((req, body, res) => tfserving(classifier, [], { metadata: true })(req, body, res), Number(new URL(r.base).port));
    const resumed = await advxRun([...robustnessArgs, '--out', join(out, 'robustness')]);
    assert.equal(resumed.status, 0, resumed.stderr);
    assert.match(resumed.stderr, /^robustness: \S+ holds 1 block of this run done earlier \(same options, model and data\): going on from there$/m);
    const whole = await advxRun([...robustnessArgs, '--out', join(out, 'robustness-whole')]);
    assert.equal(whole.status, 0, whole.stderr);
    back.stop();
    const read = (dir: string) => readFileSync(join(out, dir, 'examples.jsonl'), 'utf8');
    assert.equal(read('robustness'), read('robustness-whole'), 'examples.jsonl byte for byte');
    assert.ok(!existsSync(join(out, 'robustness', 'blocks')), 'a finished run keeps no blocks');
    assert.equal(JSON.parse(readFileSync(join(out, 'robustness', 'results.json'), 'utf8')).summary.partial, undefined);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test('CLI transfer to a served target: crafted on the local model, the endpoint (the same network) fooled as often', async () => {
  const { base } = await serve((req, body, res) => tfserving(classifier, [], { metadata: true })(req, body, res));
  const url = `${base}/v1/models/mnist`;
  const r = await advxRun(['transfer', '--models', `models/mnist-cnn,${url}`, '--protocol', 'tfserving', '--attack', 'fgsm', '--eps', '0.2', '--limit', '16', '--json']);
  assert.equal(r.status, 0, r.stderr);
  const m = lastJson(r.stdout) as { names: string[]; sources: number[]; rates: number[][]; counts: number[][]; endpoints: Record<string, { queries: number }> };
  assert.deepEqual(m.names, ['models/mnist-cnn', url]);
  assert.deepEqual(m.sources, [0], 'the endpoint is a target only');
  assert.equal(m.rates.length, 1);
  assert.equal(m.rates[0][1], m.rates[0][0]);
  assert.ok(m.rates[0][0] > 0);
  assert.equal(m.endpoints[url].queries, 32, 'the clean images and the adversarial ones; no probe (metadata)');
  const only = await advxRun(['transfer', '--models', `${url},${url}/`, '--protocol', 'tfserving']);
  assert.equal(only.status, 2);
  assert.match(only.stderr.trim(), /^advx: --models lists only endpoints: transfer crafts the examples white-box, on at least one model folder$/);
});

test('CLI --data PATH with a served model: shape from the metadata, or from the images without it', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'advx-remote-data-'));
  try {
    // A flat folder of PNGs, and a CSV giving their labels as class indices (a served model names no
    // classes, so class folders would be numbered in sorted order, as ImageFolder does).
    const labels = y.dataSync();
    mkdirSync(join(dir, 'flat'));
    for (let i = 0; i < N; i++) writeFileSync(join(dir, 'flat', `${String(i).padStart(2, '0')}.png`), encodePng(clean.subarray(i * SIZE, (i + 1) * SIZE), 28, 28, 1));
    writeFileSync(join(dir, 'labels.csv'), Array.from(labels, (l, i) => `flat/${String(i).padStart(2, '0')}.png,${l}`).join('\n') + '\n');
    const predicted = await classifier.predict(x);
    const want = predicted.filter((p, i) => p === labels[i]).length / N;
    const meta = await serve((req, body, res) => tfserving(classifier, [], { metadata: true })(req, body, res));
    const evaluated = await advxRun(['evaluate', '--model', `${meta.base}/v1/models/mnist`, '--protocol', 'tfserving', '--data', join(dir, 'labels.csv'), '--json']);
    assert.equal(evaluated.status, 0, evaluated.stderr);
    assert.equal(lastJson(evaluated.stdout).accuracy, want);
    assert.equal(lastJson(evaluated.stdout).count, N);
    const bare = await serve((req, body, res) => tfserving(classifier, [])(req, body, res));
    const attacked = await advxRun(['attack', '--model', `${bare.base}/v1/models/mnist`, '--protocol', 'tfserving', '--data', join(dir, 'flat'), '--attack', 'square', '--queries', '30', '--json']);
    assert.equal(attacked.status, 0, attacked.stderr);
    const s = lastJson(attacked.stdout);
    assert.equal(s.count, N);
    assert.equal(s.labels, 'model predictions', 'no labels: the endpoint\'s own answers');
    assert.equal(s.clean_accuracy, 1);
    assert.ok((s.success_rate as number) > 0);
    const missing = await advxRun(['attack', '--model', `${bare.base}/v1/models/mnist`, '--protocol', 'tfserving', '--data', join(dir, 'nope'), '--attack', 'square']);
    assert.equal(missing.status, 2);
    assert.match(missing.stderr.trim(), /^advx: --data \S+nope does not exist/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
