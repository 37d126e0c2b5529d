// advx quickstart: train a small classifier on two moons, then let PGD flip its predictions.
import { Classifier, fitClassifier, mlp, pgd, toTensors, twoMoons, useBackend } from 'advx';

await useBackend('wasm'); // or 'cpu' (slower), 'webgpu'

// 400 points of two interleaving half circles, as a dataset of 1×1×2 "images" labelled 0 or 1.
const n = 400;
const { points, labels } = twoMoons(n, { noise: 0.1, seed: 1 });
const data = { name: 'moons', images: points, labels, shape: [1, 1, 2], numClasses: 2, classNames: ['upper', 'lower'], count: n };

// The model: an MLP (two hidden layers of 256 ReLU units) that outputs logits, trained with Adam.
const model = mlp({ inputShape: [1, 1, 2], numClasses: 2, seed: 1 });
await fitClassifier(model, data, { epochs: 20, batchSize: 32, learningRate: 0.01, seed: 1 });

// What attacks see of a model: differentiable logits, and the range valid inputs lie in.
const classifier = new Classifier((x) => model.apply(x), { inputShape: [1, 1, 2], numClasses: 2, bounds: [-2, 3] });
const { x, y } = toTensors(data);
const result = await pgd(classifier, x, { labels: y }, { eps: 0.3, steps: 20 });
// result.adversarial: the perturbed inputs; result.success[i], result.linf[i], result.l2[i] per example.

const [clean, adversarial] = [await classifier.predict(x), await classifier.predict(result.adversarial)];
const accuracy = (predicted) => (100 * predicted.filter((p, i) => p === labels[i]).length) / n;
const flipped = clean.filter((p, i) => p === labels[i] && adversarial[i] !== labels[i]).length;
console.log(`accuracy: clean ${accuracy(clean)}%, under PGD (L∞, ε = 0.3) ${accuracy(adversarial)}%`);
console.log(`pgd flipped ${flipped} of ${n} predictions`);
