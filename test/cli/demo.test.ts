import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { advx, lastJson } from '../helpers/cli.ts';
import { lines, points } from '../report/chart-svg.ts';

test('advx demo attacks the shipped MNIST CNN and writes a report folder', () => {
  const out = join(mkdtempSync(join(tmpdir(), 'advx-demo-')), 'demo');
  const r = advx(['demo', '--out', out, '--limit', '32', '--json']);
  assert.equal(r.status, 0, r.stderr);
  const s = lastJson(r.stdout) as { test_accuracy: number; results: Array<{ attack: string; eps: number; adversarial_accuracy: number }> };
  // The shipped model, checked on the full test set.
  assert.ok(s.test_accuracy >= 0.992, `shipped CNN accuracy ${s.test_accuracy}`);
  const pgd03 = s.results.find((x) => x.attack === 'pgd' && x.eps === 0.3)!;
  const fgsm03 = s.results.find((x) => x.attack === 'fgsm' && x.eps === 0.3)!;
  assert.ok(pgd03.adversarial_accuracy <= 0.05, `PGD-40 ε=0.3 accuracy ${pgd03.adversarial_accuracy}`);
  assert.ok(pgd03.adversarial_accuracy <= fgsm03.adversarial_accuracy);
  for (const f of ['report.html', 'results.json', 'pgd-eps0.3/grid.png', 'fgsm-eps0.3/results.json']) assert.ok(existsSync(join(out, f)), f);
  const html = readFileSync(join(out, 'report.html'), 'utf8');
  assert.match(html, /<table>[\s\S]*PGD-40[\s\S]*<\/table>/);
  assert.match(html, /<img src="pgd-eps0.3\/grid.png"/);
  // The accuracy-vs-ε curve, embedded: a line per attack and the worst case, from ε = 0 (clean) to 0.3.
  const uri = html.match(/<img src="data:image\/svg\+xml;base64,([A-Za-z0-9+/=]+)"/);
  assert.ok(uri, 'curve SVG embedded in report.html');
  const svg = Buffer.from(uri[1], 'base64').toString('utf8');
  assert.equal(svg, readFileSync(join(out, 'curve.svg'), 'utf8'));
  assert.match(svg, /Accuracy against ε/);
  assert.equal(lines(svg).length, 3);
  for (const name of ['FGSM', 'PGD-40', 'worst case']) assert.match(svg, new RegExp(`>${name}</text>`));
  assert.deepEqual(points(svg), [4, 4, 4], '12 points: ε = 0, 0.1, 0.2, 0.3 on each line');
});
