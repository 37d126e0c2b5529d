/**
 * `npm run results:attacks`: the attack numbers of RESULTS.md, measured on the shipped MNIST CNN
 * (models/mnist-cnn) and written between the markers there.
 *
 *   npm run results:attacks -- [--limit 10000] [--eot-limit 100]
 */
import * as tf from '@tensorflow/tfjs-core';
import { existsSync, readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { useBackend } from '../src/backend/index.ts';
import { loadDataset } from '../src/node/datasets.ts';
import { loadClassifier } from '../src/node/load-model.ts';
import { subset, toTensors } from '../src/data/types.ts';
import { evaluateRobustness } from '../src/eval/robustness.ts';
import { eot, survival } from '../src/attacks/eot.ts';
import { pgd } from '../src/attacks/pgd.ts';
import { writeFileAtomic } from '../src/node/io.ts';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({ options: { limit: { type: 'string', default: '10000' }, 'eot-limit': { type: 'string', default: '100' } } });
await useBackend('wasm');
const { classifier } = await loadClassifier(join(root, 'models/mnist-cnn'));
const test = loadDataset('mnist').test;
const lines: string[] = [];
const started = performance.now();

// 1. FGSM and PGD-40 at ε = 0.3 on the test set.
{
  const data = subset(test, 0, Math.min(Number(values.limit), test.count));
  const { x, y } = toTensors(data);
  const r = await evaluateRobustness(classifier, x, y, { attacks: ['fgsm', 'pgd'], eps: [0.3], steps: 40, stepSize: 0.01, seed: 0, batchSize: 500 });
  tf.dispose([x, y]);
  lines.push(`Undefended \`models/mnist-cnn\` on the first ${r.count} MNIST test images (clean accuracy ${(r.clean_accuracy * 100).toFixed(2)}%), L∞ ε = 0.3:`, '');
  lines.push('| attack | robust accuracy |', '| --- | ---: |');
  lines.push(`| FGSM | ${(r.per_attack.fgsm['0.3'] * 100).toFixed(2)}% |`, `| PGD-40 (α 0.01, random start) | ${(r.per_attack.pgd['0.3'] * 100).toFixed(2)}% |`);
  lines.push(`| worst case of both | ${(r.robust_accuracy['0.3'] * 100).toFixed(2)}% |`, '');
  console.error(`fgsm/pgd done in ${r.seconds.toFixed(0)} s`);
}

// 2. EOT versus plain PGD: survival under 100 random physical transformations.
{
  const n = Number(values['eot-limit']);
  const { x, y } = toTensors(subset(test, 0, n));
  const eps = 0.2;
  const plain = await pgd(classifier, x, { labels: y }, { eps, steps: 100, stepSize: 0.01, seed: 1 });
  const robust = await eot(classifier, x, { labels: y }, { eps, steps: 100, stepSize: 0.01, samples: 16, seed: 1 });
  const mean = (a: number[]) => a.reduce((s, v) => s + v, 0) / a.length;
  const [sPlain, sEot, sClean] = [
    mean(await survival(classifier, plain.adversarial, { labels: y }, 100)),
    mean(await survival(classifier, robust.adversarial, { labels: y }, 100)),
    mean(await survival(classifier, x, { labels: y }, 100)),
  ];
  tf.dispose([x, y, plain.adversarial, robust.adversarial]);
  lines.push(`Expectation over Transformation on ${n} test images, L∞ ε = ${eps}, 100 random transformations each (rotation ±20°, scale 0.85–1.15, shift ±2 px, brightness ±0.1, contrast 0.8–1.2, noise σ 0.03):`, '');
  lines.push('| input | misclassified under the transformations |', '| --- | ---: |');
  lines.push(`| clean | ${(sClean * 100).toFixed(1)}% |`, `| PGD-100 | ${(sPlain * 100).toFixed(1)}% |`, `| EOT-PGD-100 (16 samples per step) | ${(sEot * 100).toFixed(1)}% |`, '');
}

lines.push(`Measured ${new Date().toISOString().slice(0, 10)} on ${cpus().length} × ${cpus()[0]?.model}, wasm backend, in ${((performance.now() - started) / 60000).toFixed(1)} min, by \`npm run results:attacks\`.`);
const path = join(root, 'RESULTS.md');
const block = ['<!-- attacks:start (written by `npm run results:attacks`) -->', ...lines, '<!-- attacks:end -->'].join('\n');
const text = existsSync(path) ? readFileSync(path, 'utf8') : '# Results\n\n<!-- attacks:start --><!-- attacks:end -->\n';
writeFileAtomic(path, text.replace(/<!-- attacks:start[\s\S]*?<!-- attacks:end -->/, block));
console.log(block);
process.exit(0);
