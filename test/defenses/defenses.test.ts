import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { MNIST_SPEC, trainedMlp, wrapMnist } from '../helpers/mnist-mlp.ts';
import { setup } from '../helpers/backend.ts';
import { loadDataset } from '../../src/node/datasets/index.ts';
import { toTensors, type ImageDataset } from '../../src/data/types.ts';
import { buildModel } from '../../src/models/zoo.ts';
import { Classifier } from '../../src/models/classifier.ts';
import { fitClassifier, type FitOptions } from '../../src/train/fit.ts';
import { adversarialPerturbation } from '../../src/defenses/adversarial-training.ts';
import { distillationLoss, temperatureCrossEntropy } from '../../src/defenses/distillation.ts';
import { pgd } from '../../src/attacks/pgd.ts';
import { fgsm } from '../../src/attacks/fgsm.ts';
import { carliniWagnerL2 } from '../../src/attacks/carlini-wagner.ts';
import { AdvxError } from '../../src/core/errors.ts';

let train: ImageDataset;
let x: tf.Tensor4D;
let y: tf.Tensor1D;
const spec = MNIST_SPEC;

before(async () => {
  await setup();
  const d = loadDataset('mnist', { limit: { train: 4000, test: 64 } });
  train = d.train;
  ({ x, y } = toTensors(d.test));
});

const wrap = wrapMnist;
const trained = (seed: number, hooks?: (c: Classifier) => Partial<FitOptions>) => trainedMlp(train, seed, hooks);

async function robustAccuracy(c: Classifier, eps: number): Promise<number> {
  const r = await pgd(c, x, { labels: y }, { eps, steps: 20, stepSize: eps / 8, seed: 3 });
  const pred = await c.predict(r.adversarial);
  r.adversarial.dispose();
  const labels = await y.data();
  return pred.filter((p, i) => p === labels[i]).length / labels.length;
}

test('FGSM-RS and PGD adversarial training raise PGD robust accuracy far above standard training', async () => {
  const standard = await trained(1);
  const fast = await trained(1, (c) => ({ perturb: adversarialPerturbation(c, { method: 'fgsm-rs', eps: 0.1 }) }));
  const madry = await trained(1, (c) => ({ perturb: adversarialPerturbation(c, { method: 'pgd', eps: 0.1, steps: 3 }) }));
  const [s, f, m] = [await robustAccuracy(standard, 0.1), await robustAccuracy(fast, 0.1), await robustAccuracy(madry, 0.1)];
  assert.ok(s < 0.15, `standard model robust accuracy ${s}`);
  assert.ok(f > s + 0.3, `FGSM-RS ${f} vs standard ${s}`);
  assert.ok(m > s + 0.3, `PGD-AT ${m} vs standard ${s}`);
});

test('ensemble adversarial training uses the static models and needs at least one', async () => {
  const staticModel = await trained(2);
  const model = buildModel('mlp', { ...spec, seed: 4 });
  const c = wrap(model);
  assert.throws(() => adversarialPerturbation(c, { method: 'ensemble', eps: 0.1 }), AdvxError);
  await fitClassifier(model, train, { epochs: 2, batchSize: 64, learningRate: 2e-3, seed: 4, perturb: adversarialPerturbation(c, { method: 'ensemble', eps: 0.1, staticModels: [staticModel] }) });
  // Trained on FGSM examples of two sources: FGSM transferred from the static model hurts it little.
  const transfer = await fgsm(staticModel, x, { labels: y }, { eps: 0.1 });
  const pred = await c.predict(transfer.adversarial);
  const labels = await y.data();
  transfer.adversarial.dispose();
  assert.ok(pred.filter((p, i) => p === labels[i]).length / labels.length > 0.7);
});

test('defensive distillation stops FGSM (vanishing gradients) but not C&W', async () => {
  const T = 50;
  const teacher = await trained(5, () => ({ loss: temperatureCrossEntropy(T) }));
  const student = await trained(6, () => ({ loss: distillationLoss(teacher, T) }));
  const standard = await trained(6);
  const labels = await y.data();
  const acc = async (c: Classifier, t: tf.Tensor) => (await c.predict(t)).filter((p, i) => p === labels[i]).length / labels.length;
  assert.ok((await acc(student, x)) > 0.85, 'the distilled student is accurate');
  const fStd = await fgsm(standard, x, { labels: y }, { eps: 0.15 });
  const fDist = await fgsm(student, x, { labels: y }, { eps: 0.15 });
  const [aStd, aDist] = [await acc(standard, fStd.adversarial), await acc(student, fDist.adversarial)];
  assert.ok(aDist > aStd + 0.2, `FGSM accuracy: distilled ${aDist} vs standard ${aStd}`);
  const cw = await carliniWagnerL2(student, tf.slice(x, 0, 16), { labels: tf.slice(y, 0, 16) as tf.Tensor1D }, { steps: 50, binarySteps: 4 });
  const succ = cw.success.filter(Boolean).length / cw.success.length;
  assert.ok(succ >= 0.8, `C&W success on the distilled model ${succ}`);
  tf.dispose([fStd.adversarial, fDist.adversarial, cw.adversarial]);
});

test('the ε ramp grows the adversarial budget linearly to ε', async () => {
  await setup();
  const model = buildModel('mlp', { inputShape: [28, 28, 1], numClasses: 10, seed: 1 });
  const classifier = new Classifier((t) => model.apply(t) as tf.Tensor, { inputShape: [28, 28, 1], numClasses: 10, bounds: [0, 1] });
  const perturb = adversarialPerturbation(classifier, { method: 'fgsm-rs', eps: 0.3, rampEpochs: 2 });
  const x = tf.fill([8, 28, 28, 1], 0.5);
  const y = tf.zeros([8], 'int32') as tf.Tensor1D;
  const size = (epochs: number) => tf.tidy(() => tf.max(tf.abs(tf.sub(perturb(x, y, 1, epochs), x))).dataSync()[0]);
  assert.ok(Math.abs(size(1) - 0.15) < 1e-5, `half-way: ${size(1)}`);
  assert.ok(Math.abs(size(2) - 0.3) < 1e-5 && Math.abs(size(5) - 0.3) < 1e-5);
  assert.ok(size(0) <= 0.3 * 0.02 + 1e-6, `at the start: ${size(0)}`);
  tf.dispose([x, y]);
  model.dispose();
});
