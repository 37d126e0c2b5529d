import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { PNG } from 'pngjs';
import { setup } from '../helpers/backend.ts';
import { advx, lastJson } from '../helpers/cli.ts';
import { loadDataset } from '../../src/node/datasets/index.ts';
import { toTensors } from '../../src/data/types.ts';
import { buildModel } from '../../src/models/zoo.ts';
import { Classifier } from '../../src/models/classifier.ts';
import { fitClassifier } from '../../src/train/fit.ts';
import { evaluateRobustness, modelChecks, planAttacks, recheck, sanityWarnings, SUITES } from '../../src/eval/robustness.ts';
import { ATTACKS, checkAttackRequest } from '../../src/attacks/index.ts';
import { AdvxError } from '../../src/core/errors.ts';
import { projectBall } from '../../src/core/norms.ts';

let classifier: Classifier;
let model: import('@tensorflow/tfjs-layers').LayersModel;
let x: tf.Tensor4D;
let y: tf.Tensor1D;

before(async () => {
  await setup();
  const { train, test } = loadDataset('mnist', { limit: { train: 3000, test: 48 } });
  model = buildModel('mlp', { inputShape: [28, 28, 1], numClasses: 10, seed: 9 });
  await fitClassifier(model, train, { epochs: 2, batchSize: 64, learningRate: 2e-3, seed: 9 });
  classifier = new Classifier((t) => model.apply(t) as tf.Tensor, { inputShape: [28, 28, 1], numClasses: 10, bounds: [0, 1] });
  ({ x, y } = toTensors(test));
});

test('robust accuracy: ε = 0 is clean accuracy, it falls with ε, unbounded ε gives 0%, worst case ≤ each attack', async () => {
  const r = await evaluateRobustness(classifier, x, y, { attacks: ['fgsm', 'pgd'], eps: [0, 0.05, 0.15, 1], steps: 10, seed: 1 });
  assert.equal(r.robust_accuracy['0'], r.clean_accuracy);
  assert.ok(r.clean_accuracy > 0.8);
  for (const a of ['fgsm', 'pgd']) {
    const curve = r.eps.map((e) => r.per_attack[a][String(e)]);
    for (let i = 1; i < curve.length; i++) assert.ok(curve[i] <= curve[i - 1], `${a} not monotone: ${curve}`);
  }
  assert.equal(r.per_attack.pgd['1'], 0, 'an unbounded budget must break every input');
  for (const e of r.eps) assert.ok(r.robust_accuracy[String(e)] <= Math.min(r.per_attack.fgsm[String(e)], r.per_attack.pgd[String(e)]));
  assert.deepEqual(r.warnings, []);
});

test('a model with zero gradients (rounded input) is flagged as masking', async () => {
  const masked = new Classifier((t) => model.apply(tf.round(t)) as tf.Tensor, { inputShape: [28, 28, 1], numClasses: 10, bounds: [0, 1] });
  const r = await evaluateRobustness(masked, x, y, { attacks: ['pgd'], eps: [0.1], steps: 5 });
  assert.equal(r.zero_gradient_share, 1);
  assert.ok(r.warnings.some((w) => /zero loss gradient/.test(w)), r.warnings.join('\n'));
  // PGD makes no progress without gradients: the "robustness" is an artefact, which the warning says.
  assert.ok(r.robust_accuracy['0.1'] > 0.5);
});

test('sanity checks: non-monotone curves and black-box attacks finding what white-box ones missed are reported', () => {
  const w = sanityWarnings({ perAttack: { pgd: { '0.1': 0.5, '0.2': 0.6 }, square: { '0.1': 0.2, '0.2': 0.1 } }, eps: [0.1, 0.2], zeroShare: 0, blackBoxOnly: { '0.1': 3, '0.2': 0 }, count: 100 });
  assert.ok(w.some((s) => /pgd: robust accuracy rises/.test(s)));
  assert.ok(w.some((s) => /at ε=0.1 black-box attacks broke 3 inputs/.test(s)), w.join('\n'));
  assert.ok(!w.some((s) => /at ε=0.2 black-box/.test(s)));
  // AutoAttack's threshold: 0.2% of the inputs.
  assert.deepEqual(sanityWarnings({ perAttack: {}, eps: [0.1], zeroShare: 0, blackBoxOnly: { '0.1': 2 }, count: 1000 }), []);
  // Just above it, the share is printed finely enough to be seen above it (not rounded to "0.2%").
  assert.match(sanityWarnings({ perAttack: {}, eps: [0.3], zeroShare: 0, blackBoxOnly: { '0.3': 23 }, count: 10000 })[0] ?? '', /broke 23 inputs \(0\.23%, above AutoAttack's 0\.2% threshold\)/);
});

test('advx robustness writes the JSON, SVG and PNG curve and prints the promised last line', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'advx-rob-'));
  const t = advx(['train', '--model', 'mlp', '--epochs', '1', '--limit', '2000', '--out', join(tmp, 'run'), '--quiet']);
  assert.equal(t.status, 0, t.stderr);
  const r = advx(['robustness', '--model', join(tmp, 'run', 'model'), '--attacks', 'fgsm,pgd', '--eps', '0,0.1,0.3', '--steps', '5', '--limit', '32', '--out', join(tmp, 'rob'), '--json']);
  assert.equal(r.status, 0, r.stderr);
  const last = lastJson(r.stdout);
  assert.equal(typeof last.clean_accuracy, 'number');
  assert.deepEqual(Object.keys(last.robust_accuracy as object), ['0', '0.1', '0.3']);
  assert.match(readFileSync(join(tmp, 'rob', 'curve.svg'), 'utf8'), /<svg[\s\S]*worst case/);
  const png = PNG.sync.read(readFileSync(join(tmp, 'rob', 'curve.png')));
  assert.ok(png.width > 600);
  const html = readFileSync(join(tmp, 'rob', 'report.html'), 'utf8');
  const pct = (v: number) => `${(100 * v).toFixed(1)}%`;
  assert.ok(html.includes(pct(last.clean_accuracy as number)), 'clean accuracy in report.html');
  const per = last.per_attack as Record<string, Record<string, number>>;
  for (const e of ['0', '0.1', '0.3']) {
    const row = `<tr><td>${e}</td><td>${pct(per.fgsm[e])}</td><td>${pct(per.pgd[e])}</td><td>${pct((last.robust_accuracy as Record<string, number>)[e])}</td></tr>`;
    assert.ok(html.includes(row), `${row} in report.html`);
  }
  assert.match(html, /<img src="data:image\/svg\+xml;base64,/);
  assert.doesNotMatch(html, /https?:\/\/|<script/i);
  // Progress goes to stderr even with --json; stdout holds the JSON line alone.
  assert.match(r.stderr, /^robustness \(32 inputs, 2 attacks × 3 ε\) 32\/32 \| ETA 0s$/m);
  assert.equal(r.stdout.trim().split('\n').length, 1);
  assert.match(html, /The attacks in the order they ran/);
  const refused: [string[], RegExp][] = [
    [['--eps', '0,-1'], /--eps: "-1" is not a non-negative number/],
    [['--suite', 'standard', '--attacks', 'pgd'], /give --suite or --attacks, not both/],
    [['--suite', 'standard', '--steps', '5'], /--steps does not apply with --suite/],
    [['--suite', 'strong'], /unknown suite "strong": choose one of standard, rand/],
    [['--attacks', 'pgd,pgd'], /attack "pgd" is listed twice/],
    [['--attacks', 'pgd,magic'], /unknown attack "magic"/],
  ];
  for (const [args, message] of refused) {
    const bad = advx(['robustness', '--model', join(tmp, 'run', 'model'), ...args]);
    assert.equal(bad.status, 2, `${args.join(' ')}: ${bad.stderr}`);
    assert.match(bad.stderr, message);
    assert.equal(bad.stderr.trim().split('\n').length, 1, `one line: ${bad.stderr}`);
  }
  const cw = advx(['attack', '--model', join(tmp, 'run', 'model'), '--attack', 'cw', '--norm', 'linf', '--limit', '4']);
  assert.equal(cw.status, 2);
  assert.match(cw.stderr, /attack "cw" does not support --norm linf: it supports l2/);
});

/** The robust accuracy at ε of a minimal-norm attack's results, counted by hand as Foolbox does. */
async function clippedByHand(name: string, eps: number, norm: 'linf' | 'l2'): Promise<number> {
  const correct = Array.from(await classifier.predict(x), (p, i) => p === (y.arraySync() as number[])[i]);
  const rows = correct.flatMap((c, i) => (c ? [i] : []));
  const idx = tf.tensor1d(rows, 'int32');
  const [xs, ys] = [tf.gather(x, idx), tf.gather(y, idx) as tf.Tensor1D];
  const r = await ATTACKS[name].run(classifier, xs, { labels: ys }, { eps, norm, steps: 20 });
  const clipped = tf.tidy(() => tf.clipByValue(tf.add(xs, projectBall(tf.sub(r.adversarial, xs), norm, eps)), 0, 1));
  const pred = await classifier.predict(clipped);
  const labels = await ys.data();
  const robust = Array.from(pred).filter((p, i) => p === labels[i]).length;
  tf.dispose([idx, xs, ys, r.adversarial, clipped]);
  return robust / x.shape[0];
}

test('a minimal-norm attack counts at ε only where its perturbation, projected onto the ε-ball, still fools', async () => {
  const r = await evaluateRobustness(classifier, x, y, { attacks: ['deepfool', 'pgd'], eps: [0.02, 0.3], steps: 20, seed: 1, batchSize: 256 });
  const df = r.attacks.find((a) => a.name === 'deepfool')!;
  assert.equal(df.budget, 'minimal-norm');
  assert.equal(r.attacks.find((a) => a.name === 'pgd')!.budget, 'fixed-eps');
  // DeepFool alone, counted at any ε, would break nearly every input at ε = 0.02 (its L∞ is ~0.1–0.3).
  assert.equal(r.per_attack.deepfool['0.02'], await clippedByHand('deepfool', 0.02, 'linf'));
  assert.equal(r.per_attack.deepfool['0.3'], await clippedByHand('deepfool', 0.3, 'linf'));
  assert.ok(r.per_attack.deepfool['0.02'] > 0.5, `deepfool at ε 0.02 leaves ${r.per_attack.deepfool['0.02']}`);
  // The cascade: PGD runs only on what DeepFool left, and the worst case is what remains after it.
  assert.equal(r.attacks[1].attacked['0.02'], Math.round(r.per_attack.deepfool['0.02'] * r.count));
  assert.equal(r.robust_accuracy['0.02'], r.per_attack.pgd['0.02']);
  assert.ok(r.robust_accuracy['0.3'] <= r.per_attack.deepfool['0.3']);
  assert.deepEqual(r.warnings, []);
});

test('C&W (L2 only) is refused where it would optimise L∞, yet evaluates under L∞ by projection', async () => {
  assert.throws(() => checkAttackRequest('cw', { norm: 'linf' }), (e: unknown) => e instanceof AdvxError && /attack "cw" does not support --norm linf: it supports l2/.test(e.message));
  assert.throws(() => checkAttackRequest('deepfool', { targeted: true }), (e: unknown) => e instanceof AdvxError && /untargeted only/.test(e.message));
  const r = await evaluateRobustness(classifier, tf.slice(x, 0, 8), tf.slice(y, 0, 8), { attacks: ['cw'], eps: [0.05], steps: 10 });
  assert.equal(r.attacks[0].norm, 'l2');
  assert.equal(r.norm, 'linf');
});

test('independent mode runs every attack on every correct input and gives each its own robust accuracy', async () => {
  const both = await evaluateRobustness(classifier, x, y, { attacks: ['fgsm', 'bim'], eps: [0.1], steps: 10, cascade: false });
  const alone = await evaluateRobustness(classifier, x, y, { attacks: ['bim'], eps: [0.1], steps: 10 });
  assert.equal(both.mode, 'independent');
  assert.equal(both.per_attack.bim['0.1'], alone.per_attack.bim['0.1']);
  assert.equal(both.attacks[1].attacked['0.1'], Math.round(both.clean_accuracy * both.count));
  assert.ok(both.robust_accuracy['0.1'] <= Math.min(both.per_attack.fgsm['0.1'], both.per_attack.bim['0.1']));
  const cascade = await evaluateRobustness(classifier, x, y, { attacks: ['fgsm', 'bim'], eps: [0.1], steps: 10 });
  assert.ok(cascade.attacks[1].attacked['0.1'] < both.attacks[1].attacked['0.1'], 'the cascade attacks fewer inputs');
  assert.equal(cascade.robust_accuracy['0.1'], both.robust_accuracy['0.1'], 'deterministic attacks: the same worst case either way');
});

test('the re-check: an attack that claims success outside its budget, or without fooling, is not counted and is reported', async () => {
  const bounds: [number, number] = [0, 1];
  const liars: Record<string, (xb: tf.Tensor) => tf.Tensor> = {
    // Far outside the ε-ball: noise of amplitude 1.
    'test-oversized': (xb) => tf.clipByValue(tf.add(xb, tf.randomUniform(xb.shape, -1, 1, 'float32', 3)), ...bounds),
    // The clean input, claimed adversarial.
    'test-unchanged': (xb) => tf.clone(xb),
  };
  for (const [name, make] of Object.entries(liars)) {
    ATTACKS[name] = { ...ATTACKS.pgd, name, run: async (_c, xb) => ({ adversarial: make(xb), success: new Array(xb.shape[0]).fill(true), linf: [], l2: [], iterations: 1 }) };
  }
  try {
    const r = await evaluateRobustness(classifier, x, y, { attacks: ['test-oversized', 'test-unchanged'], eps: [0.1] });
    assert.equal(r.robust_accuracy['0.1'], r.clean_accuracy, 'nothing counted');
    assert.ok(r.warnings.some((w) => /test-oversized at ε=0.1: \d+ reported adversarial examples lie outside the ε-ball or the bounds .* a bug in the attack/.test(w)), r.warnings.join('\n'));
    assert.ok(r.warnings.some((w) => /test-unchanged at ε=0.1: \d+ reported adversarial examples are classified correctly when re-checked/.test(w)), r.warnings.join('\n'));
  } finally {
    for (const name of Object.keys(liars)) delete ATTACKS[name];
  }
});

test('every adversarial example every attack reports passes the re-check, for every norm it supports', async () => {
  const [xs, ys] = [tf.slice(x, 0, 12), tf.slice(y, 0, 12) as tf.Tensor1D];
  const eps = { linf: 0.2, l2: 2 };
  const before = tf.memory().numTensors;
  for (const [name, d] of Object.entries(ATTACKS)) {
    for (const norm of d.norms) {
      const r = await d.run(classifier, xs, { labels: ys }, { eps: eps[norm], norm, steps: 5, queries: 300, samples: 2, targets: 3, seed: 1 });
      const check = await recheck(classifier, xs, ys, r.adversarial, eps[norm], norm);
      r.success.forEach((ok, i) => {
        if (!ok) return;
        assert.ok(check.adversarial[i], `${name} (${norm}) example ${i}: reported adversarial, classified correctly`);
        assert.ok(check.withinBounds[i], `${name} (${norm}) example ${i}: outside the bounds`);
        if (d.budget === 'fixed-eps') assert.ok(check.withinBudget[i], `${name} (${norm}) example ${i}: ${norm} norm ${check.norms[i]} > ε ${eps[norm]}`);
      });
      assert.ok(r.success.some(Boolean), `${name} (${norm}) broke nothing: the property would hold vacuously`);
      r.adversarial.dispose();
    }
  }
  assert.equal(tf.memory().numTensors, before);
  tf.dispose([xs, ys]);
});

test('self-checks: a model that outputs probabilities, and one whose forward pass is random', async () => {
  const soft = new Classifier((t) => tf.softmax(model.apply(t) as tf.Tensor), { inputShape: [28, 28, 1], numClasses: 10, bounds: [0, 1] });
  assert.ok((await modelChecks(soft, x)).some((w) => /outputs? probabilities/.test(w)));
  let draw = 3000;
  const noisy = new Classifier((t) => model.apply(tf.add(t, tf.randomNormal(t.shape, 0, 0.1, 'float32', draw++))) as tf.Tensor, { inputShape: [28, 28, 1], numClasses: 10, bounds: [0, 1] });
  assert.ok((await modelChecks(noisy, x)).some((w) => /forward pass is random/.test(w)));
  assert.deepEqual(await modelChecks(classifier, x), []);
});

test('the standard suite runs AutoAttack\'s four attacks in order, each on what the previous left', async () => {
  assert.deepEqual(SUITES.standard.attacks.map((a) => a.name), ['apgd-ce', 'apgd-t', 'fab-t', 'square']);
  const seen: string[] = [];
  const r = await evaluateRobustness(classifier, tf.slice(x, 0, 16), tf.slice(y, 0, 16), { suite: 'standard', eps: [0.05], onCandidates: (c) => void seen.push(c.attack) });
  assert.equal(r.suite, 'standard');
  const order = r.attacks.map((a) => a.name);
  assert.deepEqual(order, ['apgd-ce', 'apgd-t', 'fab-t', 'square']);
  for (let i = 1; i < order.length; i++) {
    const left = Math.round(r.per_attack[order[i - 1]]['0.05'] * r.count);
    assert.equal(r.attacks[i].attacked['0.05'], left, `${order[i]} runs on the ${left} inputs still robust`);
  }
  assert.deepEqual(seen, order.filter((_, i) => r.attacks[i].attacked['0.05'] > 0));
  assert.equal(r.robust_accuracy['0.05'], r.per_attack.square['0.05']);
  assert.throws(() => planAttacks({ suite: 'standard', attacks: ['pgd'], eps: [0.1] }, 'linf'), /either a suite or a list/);
});

test('the rand suite averages gradients over 20 passes and flags the random forward pass', async () => {
  assert.deepEqual(SUITES.rand.attacks.map((a) => [a.name, a.options.eotIter]), [['apgd-ce', 20], ['apgd-dlr', 20]]);
  // Each pass draws with the next seed of a counter: random across passes, the same on every run.
  let draw = 2000;
  const noisy = new Classifier((t) => model.apply(tf.add(t, tf.randomNormal(t.shape, 0, 0.05, 'float32', draw++))) as tf.Tensor, { inputShape: [28, 28, 1], numClasses: 10, bounds: [0, 1] });
  const r = await evaluateRobustness(noisy, tf.slice(x, 0, 8), tf.slice(y, 0, 8), { suite: 'rand', eps: [0.1] });
  assert.deepEqual(r.attacks.map((a) => a.name), ['apgd-ce', 'apgd-dlr']);
  assert.ok(r.robust_accuracy['0.1'] < r.clean_accuracy, `the rand suite breaks inputs: ${r.robust_accuracy['0.1']} vs clean ${r.clean_accuracy}`);
  assert.ok(r.warnings.some((w) => /forward pass is random/.test(w)), r.warnings.join('\n'));
});
