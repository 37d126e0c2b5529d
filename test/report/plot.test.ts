/** Line charts: ticks of counted things at integers only, log axes, series and points drawn, same bytes every time. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { histogramSvg, lineChartSvg } from '../../src/report/plot.ts';
import { lines, points, size, xTickLabels } from './chart-svg.ts';

test('an epoch axis 1..3 ticks at 1, 2, 3 only', () => {
  const svg = lineChartSvg([{ name: 'loss', x: [1, 2, 3], y: [0.9, 0.5, 0.3] }], { title: 'Training loss per epoch', xLabel: 'epoch', yLabel: 'loss', integerTicks: true });
  assert.deepEqual(xTickLabels(svg), ['1', '2', '3']);
  // Left out, integer-valued x data is detected.
  const auto = lineChartSvg([{ name: 'loss', x: [1, 2, 3], y: [0.9, 0.5, 0.3] }], { title: 't', xLabel: 'epoch', yLabel: 'loss' });
  assert.deepEqual(xTickLabels(auto), ['1', '2', '3']);
  const long = lineChartSvg([{ name: 'loss', x: Array.from({ length: 15 }, (_, i) => i + 1), y: Array.from({ length: 15 }, (_, i) => 1 / (i + 1)) }], { title: 't', xLabel: 'epoch', yLabel: 'loss' });
  assert.ok(xTickLabels(long).length >= 3);
  for (const t of xTickLabels(long)) assert.ok(Number.isInteger(Number(t)), `tick ${t}`);
});

test('a one-epoch run: the axis reaches the neighbouring epochs and ticks at integers only', () => {
  const svg = lineChartSvg([{ name: 'accuracy', x: [1], y: [0.4] }], { title: 't', xLabel: 'epoch', yLabel: 'accuracy', yDomain: [0, 1] });
  assert.deepEqual(xTickLabels(svg), ['0', '1', '2']);
});

test('an ε axis keeps its fractional ticks; a log axis ticks at powers of ten', () => {
  const eps = lineChartSvg([{ name: 'pgd', x: [0, 0.1, 0.2, 0.3], y: [1, 0.5, 0.2, 0] }], { title: 't', xLabel: 'ε', yLabel: 'accuracy', yDomain: [0, 1] });
  assert.ok(xTickLabels(eps).includes('0.1'), xTickLabels(eps).join());
  const log = lineChartSvg([{ name: 'pgd', x: [0.001, 0.01, 0.1, 1], y: [1, 0.9, 0.4, 0] }], { title: 't', xLabel: 'ε', yLabel: 'accuracy', xScale: 'log' });
  assert.deepEqual(xTickLabels(log).map(Number), [0.001, 0.01, 0.1, 1]);
});

test('a line and a marker per point for each series; a long legend widens the picture', () => {
  const x = [0, 0.1, 0.2, 0.3];
  const svg = lineChartSvg(
    [{ name: 'FGSM', x, y: [1, 0.5, 0.2, 0] }, { name: 'PGD-40', x, y: [1, 0.4, 0.1, 0], dashed: true }, { name: 'worst case', x, y: [1, 0.3, 0, 0] }],
    { title: 'Accuracy <ε>', xLabel: 'ε', yLabel: 'accuracy', yDomain: [0, 1] },
  );
  assert.deepEqual(lines(svg).map((l) => l.points), [4, 4, 4]);
  assert.deepEqual(points(svg), [4, 4, 4]);
  assert.match(svg, /stroke-dasharray/);
  assert.ok(svg.includes('Accuracy &lt;ε&gt;') && !svg.includes('<ε>'));
  assert.deepEqual(size(svg), [640, 400]);
  const wide = lineChartSvg([{ name: 'a rather long series name for the legend', x, y: x }], { title: 't', xLabel: 'x', yLabel: 'y' });
  assert.ok(size(wide)[0] > 640);
});

test('the same chart gives the same bytes, whatever was drawn before (sharded and single runs compare reports)', () => {
  const draw = () => lineChartSvg([{ name: 'a', x: [1, 2, 3], y: [3, 1, 2] }], { title: 't', xLabel: 'x', yLabel: 'y' });
  const first = draw();
  histogramSvg([1, 2, 3, 4], { title: 'h', xLabel: 'q' });
  assert.equal(draw(), first);
  // Different charts get different clip-path names, so two on one page do not clash.
  const other = lineChartSvg([{ name: 'b', x: [1, 2, 3], y: [3, 1, 2] }], { title: 't', xLabel: 'x', yLabel: 'y' });
  const clip = (s: string) => /clipPath id="([^"]+)"/.exec(s)?.[1];
  assert.ok(clip(first) && clip(other) && clip(first) !== clip(other));
});

test('bands shade phases of training, labelled', () => {
  const svg = lineChartSvg([{ name: 'acc', x: [1, 2, 3, 4], y: [0.1, 0.5, 0.6, 0.9] }], { title: 't', xLabel: 'epoch', yLabel: 'accuracy', bands: [{ from: 3, to: 4, label: 'fine-tune' }] });
  assert.match(svg, /<polygon [^>]*fill-opacity="0.06"/);
  assert.match(svg, />fine-tune<\/text>/);
});
