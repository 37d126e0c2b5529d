/** Chart ticks: axes of counted things (epochs, steps) tick at integers only. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lineChartSvg, ticks } from '../../src/report/plot.ts';

/** The x-axis tick labels of a line chart (the text under the plot, 18 px below its frame). */
function xTickLabels(svg: string): string[] {
  return [...svg.matchAll(/<text x="[^"]*" y="(\d+(?:\.\d+)?)" text-anchor="middle" font-size="12">([^<]*)<\/text>/g)].map((m) => m[2]);
}

test('an epoch axis 1..3 ticks at 1, 2, 3 only', () => {
  const svg = lineChartSvg([{ name: 'loss', x: [1, 2, 3], y: [0.9, 0.5, 0.3] }], { title: 'Training loss per epoch', xLabel: 'epoch', yLabel: 'loss', integerTicks: true });
  assert.deepEqual(xTickLabels(svg), ['1', '2', '3']);
  // Left out, integer-valued x data is detected.
  const auto = lineChartSvg([{ name: 'loss', x: [1, 2, 3], y: [0.9, 0.5, 0.3] }], { title: 't', xLabel: 'epoch', yLabel: 'loss' });
  assert.deepEqual(xTickLabels(auto), ['1', '2', '3']);
});

test('ticks: integer steps of at least 1 when asked, the usual round steps otherwise', () => {
  assert.deepEqual(ticks(1, 3, 6, true), [1, 2, 3]);
  assert.deepEqual(ticks(1, 2, 6, true), [1, 2]);
  assert.deepEqual(ticks(0, 12, 6, true), [0, 2, 4, 6, 8, 10, 12]);
  for (const t of ticks(1, 15, 6, true)) assert.ok(Number.isInteger(t), `tick ${t}`);
  assert.deepEqual(ticks(0, 0.3), [0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3]);
  assert.deepEqual(ticks(1, 3), [1, 1.5, 2, 2.5, 3]);
  // ε axes of a robustness curve keep their fractional ticks.
  const eps = lineChartSvg([{ name: 'pgd', x: [0, 0.1, 0.2, 0.3], y: [1, 0.5, 0.2, 0] }], { title: 't', xLabel: 'ε', yLabel: 'accuracy', yDomain: [0, 1] });
  assert.ok(xTickLabels(eps).includes('0.1'));
});
