/**
 * `advx text-attack --out`: report.html shows each message before → after (the original with the
 * words removed or changed marked, the adversarial text with the new words marked, class and
 * probability on each), and TextAttack's summary, whose figures agree with results.json.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { advxJson } from '../helpers/cli.ts';
import { escapeHtml } from '../../src/text/highlight.ts';
import { isWord, tokenize } from '../../src/text/tokenize.ts';

interface Edit { kind: string; position: number; start: number; end: number; before: string; after: string }
interface Example { original: string; adversarial: string; edits: Edit[]; success: boolean; queries: number; before: number[]; after: number[] }

test('text-attack report.html: before → after with marks for every message, and the summary table agrees with results.json', () => {
  const out = join(mkdtempSync(join(tmpdir(), 'advx-text-report-')), 'run');
  const t0 = performance.now();
  const line = advxJson(['text-attack', '--model', 'models/spam-word', '--attack', 'liang', '--limit', '6', '--budget', '3', '--seed', '5', '--out', out, '--json']);
  console.log(`text-attack on 6 messages: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  const results = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
  const html = readFileSync(join(out, 'report.html'), 'utf8');
  const { summary, classes } = results as { summary: Record<string, number | null>; classes: string[] };
  const examples = results.examples as Example[];
  assert.deepEqual({ ...line, seconds: 0 }, { ...summary, seconds: 0 }, '--json prints the summary');

  // The summary, recomputed from the examples.
  const wins = examples.filter((e) => e.success);
  assert.ok(wins.length > 0 && wins.length < examples.length, 'not vacuous: some broken, some not');
  const words = (t: string) => tokenize(t).filter(isWord).length;
  const perturbed = (e: Example) => new Set(e.edits.filter((d) => d.kind !== 'insert').map((d) => d.position)).size + e.edits.filter((d) => d.kind === 'insert').length;
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  assert.equal(summary.count, 6);
  assert.equal(summary.succeeded, wins.length);
  assert.equal(summary.failed, examples.length - wins.length);
  assert.ok(Number.isInteger(summary.skipped) && (summary.skipped as number) >= 0);
  assert.equal(summary.success_rate, wins.length / examples.length);
  const close = (a: number | null, b: number, what: string) => assert.ok(a !== null && Math.abs(a - b) < 1e-9, `${what}: ${a} vs ${b}`);
  close(summary.mean_queries, mean(examples.map((e) => e.queries)), 'mean queries');
  close(summary.mean_words, mean(examples.map((e) => words(e.original))), 'mean words');
  close(summary.mean_perturbed_pct, mean(wins.map((e) => (100 * perturbed(e)) / words(e.original))), 'perturbed %');
  close(summary.mean_edits, mean(wins.map((e) => e.edits.length)), 'mean edits');

  // The table in the report says the same.
  const row = (label: string) => html.match(new RegExp(`<tr><th>${label}</th><td>([^<]*)</td></tr>`))?.[1];
  assert.equal(row('Number of successful attacks'), String(wins.length));
  assert.equal(row('Number of failed attacks'), String(examples.length - wins.length));
  assert.equal(row('Number of skipped attacks'), String(summary.skipped));
  assert.equal(row('Attack success rate'), `${((100 * wins.length) / examples.length).toFixed(1)}%`);
  assert.equal(row('Original accuracy'), `${((100 * 6) / (6 + (summary.skipped as number))).toFixed(1)}%`);
  assert.equal(row('Avg num queries'), (summary.mean_queries as number).toFixed(1));
  assert.equal(row('Average num. words per input'), (summary.mean_words as number).toFixed(1));
  assert.equal(row('Average perturbed word %'), `${(summary.mean_perturbed_pct as number).toFixed(2)}%`);

  // Each message before → after.
  const sections = html.split('<section class="example">').slice(1);
  assert.equal(sections.length, examples.length);
  const strip = (s: string) => s.replace(/<[^>]*>/g, '');
  const argmax = (p: number[]) => p.indexOf(Math.max(...p));
  examples.forEach((e, i) => {
    const [, orig, adv] = sections[i].split('<div class="adv-text">');
    const origBody = orig.slice(0, orig.lastIndexOf('</div>', orig.lastIndexOf('</div>') - 1));
    assert.equal(strip(origBody), escapeHtml(e.original), `#${i + 1}: the original, escaped`);
    assert.ok(sections[i].includes(`<h4>original: ${escapeHtml(classes[argmax(e.before)])} ${(100 * Math.max(...e.before)).toFixed(1)}%</h4>`), `#${i + 1}: class and probability before`);
    assert.ok(sections[i].includes(`<h4>adversarial: ${escapeHtml(classes[argmax(e.after)])} ${(100 * Math.max(...e.after)).toFixed(1)}%</h4>`), `#${i + 1}: class and probability after`);
    if (e.success) assert.notEqual(argmax(e.after), argmax(e.before));
    for (const d of e.edits) {
      if (d.kind === 'insert') {
        assert.ok(adv.includes(`<ins title="inserted">${escapeHtml(d.after)}</ins>`), `#${i + 1}: inserted ${d.after}`);
        continue;
      }
      const word = escapeHtml(e.original.slice(d.start, d.end));
      assert.match(origBody, new RegExp(`<(mark class="\\w+" title="became: [^"]*"|del title="deleted")>${word.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}</`), `#${i + 1}: ${word} marked in the original`);
    }
    const last = new Map(e.edits.filter((d) => d.kind !== 'insert').map((d) => [d.position, d]));
    for (const d of last.values()) if (d.after !== '') assert.ok(adv.includes(`">${escapeHtml(d.after)}</mark>`), `#${i + 1}: ${d.after} marked in the adversarial text`);
  });
});
