/** The pieces of the attack report's figures: histogram bins, quantiles, labels and amplification factors. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { histogram, histogramSvg } from '../../src/report/plot.ts';
import { attackBudget, quantile } from '../../src/node/runs/reports.ts';
import { amplification, exampleCaption, gridZoom, perturbationScale, type ExampleResult } from '../../src/node/runs/attack.ts';

test('histogram: equal-width bins, every value counted; equal values in one bin', () => {
  const h = histogram([0, 1, 2, 3, 4, 5, 6, 7, 8, 10], 5);
  assert.deepEqual(h.counts, [2, 2, 2, 2, 2]);
  assert.deepEqual(h.edges, [0, 2, 4, 6, 8, 10]);
  assert.deepEqual(histogram([7, 7, 7], 10).counts, [3]);
  assert.match(histogramSvg([1, 2, 3], { title: 'Queries per example', xLabel: 'queries' }), /^<svg[^>]*>.*Queries per example.*<\/svg>\n$/s);
});

test('quantile: linear interpolation between order statistics', () => {
  assert.equal(quantile([1, 2, 3, 4], 0.5), 2.5);
  assert.equal(quantile([1, 2, 3, 4], 0), 1);
  assert.equal(quantile([1, 2, 3, 4], 1), 4);
  assert.ok(Number.isNaN(quantile([], 0.5)));
});

test('labels as papers print them, and the budget named as what it is', () => {
  const e: ExampleResult = { index: 0, label: 7, clean_prediction: 7, clean_confidence: 0.994, adversarial_prediction: 8, adversarial_confidence: 1, success: true, linf: 0.05, l2: 1 };
  assert.equal(exampleCaption(e, []), '7 (99%) → 8 (100%)');
  assert.equal(exampleCaption({ ...e, label: 3 }, ['t-shirt', 'trouser', 'pullover', 'dress', 'coat', 'sandal', 'shirt', 'sneaker', 'bag', 'boot']), 'sneaker (99%) [true dress] → bag (100%)');
  assert.equal(amplification(0.1), '×10');
  assert.equal(amplification(0.3), '×3.3');
  assert.equal(perturbationScale(e, 'pgd', 0.3), 0.3);
  assert.equal(perturbationScale(e, 'deepfool', 0.3), 0.05, 'a minimal-norm attack: its own L∞');
  assert.deepEqual([gridZoom(28), gridZoom(32), gridZoom(224)], [4, 3, 1]);
  assert.equal(attackBudget({ attack: 'pgd', eps: 0.3, norm: 'linf' }).text, 'ε = 0.3 (L∞)');
  const cw = attackBudget({ attack: 'cw', eps: 0.3, norm: 'linf' });
  assert.equal(cw.title, 'minimal L2 perturbation');
  assert.doesNotMatch(cw.text, /ε = 0.3 \(L/);
});
