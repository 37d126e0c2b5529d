/**
 * Models served over HTTP (src/models/remote.ts): real servers on 127.0.0.1 speaking TF Serving's
 * predict API and KServe v2 around models/mnist-cnn, and servers that fail in the ways servers do.
 * Nothing here talks to any other host.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { setup } from '../helpers/backend.ts';
import { advxRun, lastJson } from '../helpers/cli.ts';
import { json, kserve, serve, stopAll, tfserving } from '../helpers/model-server.ts';
import { loadClassifier } from '../../src/node/io/load-model.ts';
import { loadDataset } from '../../src/node/datasets/index.ts';
import { gatherBatch } from '../../src/data/batch.ts';
import type { Classifier } from '../../src/models/classifier.ts';
import { RemoteModel, type RemoteOptions } from '../../src/models/remote.ts';
import { ATTACKS, checkAccess } from '../../src/attacks/index.ts';
import { AdvxError } from '../../src/core/errors.ts';

const N = 24;
let classifier: Classifier;
let x: tf.Tensor4D;
let y: tf.Tensor1D;
let local: Float32Array;

before(async () => {
  await setup();
  ({ classifier } = await loadClassifier('models/mnist-cnn'));
  const { test: data } = loadDataset('mnist', { limit: { train: 1, test: N } });
  ({ x, y } = gatherBatch(data, Array.from({ length: N }, (_, i) => i)));
  local = classifier.probabilities(x).dataSync() as Float32Array;
});

after(stopAll);

function assertClose(got: Float32Array, want: Float32Array, tol = 1e-5): void {
  assert.equal(got.length, want.length);
  for (let i = 0; i < got.length; i++) assert.ok(Math.abs(got[i] - want[i]) <= tol, `value ${i}: ${got[i]} vs ${want[i]}`);
}

const fast: Partial<RemoteOptions> = { backoffMs: 5 };

test('TF Serving: scores equal the local model\'s, requests split by maxBatch, queries counted exactly', async () => {
  const { base, batches } = await serve((req, body, res) => tfserving(classifier, batches, {})(req, body, res));
  const model = await RemoteModel.connect(`${base}/v1/models/mnist`, { protocol: 'tfserving', inputShape: [28, 28, 1], maxBatch: 10, ...fast });
  assert.deepEqual(model.info, { inputShape: [28, 28, 1], numClasses: 10, bounds: [0, 1] });
  assert.equal(model.queries, 1, 'the probe image for the class count');
  const s = await model.scores(x);
  assertClose(s.dataSync() as Float32Array, local);
  s.dispose();
  assert.equal(model.queries, 1 + N);
  assert.deepEqual(batches.slice(1).sort((a, b) => a - b), [4, 10, 10]);
  assert.deepEqual(Array.from(await model.label(x)), Array.from(await classifier.predict(x)));
  assert.equal(model.queries, 1 + 2 * N);
});

test('KServe v2: shape and classes from the metadata, logits softmaxed, equal to the local scores', async () => {
  const { base, batches } = await serve((req, body, res) => kserve(classifier, batches)(req, body, res));
  const model = await RemoteModel.connect(`${base}/v2/models/mnist`, { protocol: 'kserve', maxBatch: 64, ...fast });
  assert.deepEqual(model.info.inputShape, [28, 28, 1]);
  assert.equal(model.info.numClasses, 10);
  const s = await model.scores(x);
  assertClose(s.dataSync() as Float32Array, local);
  s.dispose();
  assert.equal(model.queries, N, 'no probe: the metadata gave the class count');
  assert.deepEqual(batches, [N]);
});

test('Square through an endpoint flips examples; the local model agrees, and queries add up', async () => {
  const { base, batches } = await serve((req, body, res) => tfserving(classifier, batches, { logits: true })(req, body, res));
  const model = await RemoteModel.connect(`${base}/v1/models/mnist`, { protocol: 'tfserving', inputShape: [28, 28, 1], ...fast });
  const before = model.queries;
  const result = await ATTACKS.square.runBlackBox!(model, x, { labels: y, targeted: false }, { eps: 0.3, queries: 60, seed: 1 });
  assert.equal(model.queries - before, result.queries!.reduce((a, b) => a + b, 0), 'every image sent is charged to one example');
  assert.ok(result.queries!.every((q) => q <= 60));
  const flipped = result.success.filter(Boolean).length;
  assert.ok(flipped >= 3, `only ${flipped} of ${N} flipped`);
  const adv = await classifier.predict(result.adversarial);
  const labels = y.dataSync();
  result.success.forEach((s, i) => assert.equal(s, adv[i] !== labels[i], `example ${i}`));
  assert.ok(result.linf.every((d) => d <= 0.3 + 1e-6));
  result.adversarial.dispose();
});

test('labels only: scores refused, labels are the model\'s; score attacks refused in one line', async () => {
  const { base, batches } = await serve((req, body, res) => tfserving(classifier, batches)(req, body, res));
  const model = await RemoteModel.connect(`${base}/v1/models/mnist`, { protocol: 'tfserving', inputShape: [28, 28, 1], labelsOnly: true });
  await assert.rejects(model.scores(x), /labels only/);
  assert.deepEqual(Array.from(await model.label(x)), Array.from(await classifier.predict(x)));
  assert.throws(() => checkAccess(ATTACKS.square, model.access, 'the endpoint'), /attack "square" needs score access .*decision access only: use hsj$/);
  assert.throws(() => checkAccess(ATTACKS.pgd, 'score', 'the endpoint'), /attack "pgd" needs white-box access \(gradients\).*use square, nes, spsa, hsj$/);
});

test('at most `concurrency` requests in flight', async () => {
  let inFlight = 0;
  let most = 0;
  const batches: number[] = [];
  const { base } = await serve((req, body, res) => {
    most = Math.max(most, ++inFlight);
    setTimeout(() => {
      inFlight--;
      tfserving(classifier, batches)(req, body, res);
    }, 20);
  });
  const model = await RemoteModel.connect(`${base}/v1/models/mnist`, { protocol: 'tfserving', inputShape: [28, 28, 1], maxBatch: 2, concurrency: 3 });
  const s = await model.scores(x);
  assertClose(s.dataSync() as Float32Array, local);
  s.dispose();
  assert.equal(most, 3);
  assert.equal(batches.length, 1 + N / 2);
});

test('503 twice, then an answer: retried with backoff, counted once', async () => {
  let calls = 0;
  const batches: number[] = [];
  const { base } = await serve((req, body, res) => (req.method === 'POST' && ++calls <= 2 ? json(res, 503, 'overloaded') : tfserving(classifier, batches)(req, body, res)));
  const model = await RemoteModel.connect(`${base}/v1/models/mnist`, { protocol: 'tfserving', inputShape: [28, 28, 1], ...fast });
  assert.equal(calls, 3);
  assert.equal(model.requests, 4, 'the metadata (404 here), then the probe three times');
  assert.equal(model.queries, 1);
});

test('failures are one line: timeout, refused connection, HTTP error, garbage', async () => {
  const silent = await serve(() => {}); // never answers
  const opts: RemoteOptions = { protocol: 'tfserving', inputShape: [28, 28, 1], timeoutMs: 150, retries: 1, backoffMs: 5 };
  await assert.rejects(RemoteModel.connect(`${silent.base}/v1/models/mnist`, opts), (e: Error) => e instanceof AdvxError && /^http:\/\/127\.0\.0\.1:\d+\/v1\/models\/mnist:predict did not answer within 0\.15 s$/.test(e.message));
  silent.stop();
  await assert.rejects(RemoteModel.connect(`${silent.base}/v1/models/mnist`, opts), (e: Error) => e instanceof AdvxError && /^cannot reach http:\/\/127\.0\.0\.1:\d+\/v1\/models\/mnist:predict \(ECONNREFUSED\)$/.test(e.message));
  const refusing = await serve((_req, _body, res) => json(res, 400, { error: 'Input to reshape is a tensor with 784 values, but the requested shape has 3072 '.repeat(5) }));
  await assert.rejects(RemoteModel.connect(`${refusing.base}/v1/models/mnist`, opts), (e: Error) => e instanceof AdvxError && /answered HTTP 400: \{"error":"Input to reshape/.test(e.message) && e.message.length < 300);
  const garbage = await serve((_req, _body, res) => json(res, 200, '<html>hello</html>'));
  await assert.rejects(RemoteModel.connect(`${garbage.base}/v1/models/mnist`, opts), /^AdvxError: the server's answer is not TF Serving's predict format: not JSON: "<html>hello<\/html>"$/);
  const wrongCount = await serve((_req, _body, res) => json(res, 200, { predictions: [[0.5, 0.5], [0.5, 0.5]] }));
  await assert.rejects(RemoteModel.connect(`${wrongCount.base}/v1/models/mnist`, opts), /answered 2 predictions for 1 images$/);
});

test('a server that dies mid-attack ends the attack with one line, a ServiceError (a fault, not bad input)', async () => {
  let calls = 0;
  const batches: number[] = [];
  const server = await serve((req, body, res) => {
    tfserving(classifier, batches)(req, body, res);
    if (++calls === 5) setImmediate(server.stop);
  });
  const model = await RemoteModel.connect(`${server.base}/v1/models/mnist`, { protocol: 'tfserving', inputShape: [28, 28, 1], retries: 2, backoffMs: 5 });
  await assert.rejects(ATTACKS.square.runBlackBox!(model, x, { labels: y, targeted: false }, { eps: 0.3, queries: 100, seed: 1 }), /^ServiceError: cannot reach http:\/\/127\.0\.0\.1:\d+\/v1\/models\/mnist:predict \(ECONNREFUSED\)$/);
});


test('CLI: advx attack --model http://… --protocol kserve --attack square; pgd refused; a server dead from the start leaves no results', async () => {
  const { base, batches } = await serve((req, body, res) => kserve(classifier, batches)(req, body, res));
  const out = mkdtempSync(join(tmpdir(), 'advx-remote-'));
  try {
    const common = ['attack', '--model', `${base}/v2/models/mnist`, '--protocol', 'kserve', '--data', 'mnist', '--limit', '8', '--eps', '0.3'];
    const ok = await advxRun([...common, '--attack', 'square', '--queries', '40', '--json', '--out', join(out, 'run')]);
    assert.equal(ok.status, 0, ok.stderr);
    const summary = lastJson(ok.stdout);
    assert.equal(summary.count, 8);
    assert.ok(existsSync(join(out, 'run', 'results.json')));
    const pgd = await advxRun([...common, '--attack', 'pgd']);
    assert.equal(pgd.status, 2);
    assert.match(pgd.stderr.trim(), /^(advx: )?(error: )?attack "pgd" needs white-box access \(gradients\), but http:\/\/127\.0\.0\.1:\d+\/v2\/models\/mnist gives score access only: use square, nes, spsa, hsj$/);
    const labelsOnly = await advxRun([...common, '--attack', 'square', '--labels-only']);
    assert.equal(labelsOnly.status, 2);
    assert.match(labelsOnly.stderr, /attack "square" needs score access \(scores\), but .* gives decision access only: use hsj\n$/);
    const tf1 = await serve((req, body, res) => tfserving(classifier, [])(req, body, res));
    const evaluated = await advxRun(['evaluate', '--model', `${tf1.base}/v1/models/mnist`, '--protocol', 'tfserving', '--limit', String(N), '--json']);
    assert.equal(evaluated.status, 0, evaluated.stderr);
    const predicted = await classifier.predict(x);
    const labels = y.dataSync();
    assert.equal(lastJson(evaluated.stdout).accuracy, predicted.filter((p, i) => p === labels[i]).length / N);
    const gone = await serve(() => {});
    gone.stop();
    const dead = await advxRun(['attack', '--model', `${gone.base}/v2/models/mnist`, '--protocol', 'kserve', '--retries', '0', '--limit', '4', '--attack', 'square', '--out', join(out, 'dead')]);
    assert.equal(dead.status, 1, 'a dead server is a fault, not bad input');
    assert.equal(dead.stderr.trim().split('\n').length, 1, dead.stderr);
    assert.match(dead.stderr, /cannot reach http:\/\/127\.0\.0\.1:\d+\/v2\/models\/mnist \(ECONNREFUSED\)/);
    assert.ok(!existsSync(join(out, 'dead', 'results.json')));
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
