/**
 * `npm run docs:reliability`: runs the reliability suite (test/reliability/, one file at a time)
 * with ADVX_RELIABILITY_COUNT set, sums what its tests report through test/helpers/tried.ts, and
 * rewrites the Reliability section of README.md with those counts. A failing suite writes nothing.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { replaceSection } from '../bench/sections.ts';
import { TRIED_KINDS, type TriedKind } from '../test/helpers/tried.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const readme = join(root, 'README.md');
const command = 'npm run docs:reliability';
const note = `(written by \`${command}\`)`;

const files = readdirSync(join(root, 'test/reliability')).filter((f) => f.endsWith('.test.ts')).sort().map((f) => join('test/reliability', f));
const tmp = mkdtempSync(join(tmpdir(), 'advx-reliability-'));
const countFile = join(tmp, 'count.tsv');

console.error(`running the reliability suite (${files.length} test files, one at a time)…`);
const t0 = performance.now();
const { code, output } = await new Promise<{ code: number | null; output: string }>((resolve, reject) => {
  const child = spawn(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=1', '--test-reporter=spec', ...files], {
    cwd: root,
    env: { ...process.env, ADVX_RELIABILITY_COUNT: countFile },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  child.on('error', reject);
  child.on('close', (code) => resolve({ code, output }));
});
const minutes = (performance.now() - t0) / 60000;

/** The runner's summary: `ℹ tests 57` (spec) or `# tests 57` (tap). */
const summary = (key: string) => Number(output.match(new RegExp(`^[ℹ#] ${key} (\\d+)$`, 'm'))?.[1] ?? NaN);
const [tests, pass, fail, skipped] = ['tests', 'pass', 'fail', 'skipped'].map(summary);
if (code !== 0 || !(fail === 0) || !(pass > 0)) {
  console.error(output.split('\n').slice(-80).join('\n'));
  console.error(`the reliability suite failed (exit code ${code}${Number.isNaN(fail) ? '' : `, ${fail} test(s) failed`}): README.md left as it was`);
  rmSync(tmp, { recursive: true, force: true });
  process.exit(1);
}

const counts = new Map<TriedKind, number>(Object.keys(TRIED_KINDS).map((k) => [k as TriedKind, 0]));
const lines = readFileSync(countFile, 'utf8').split('\n').filter(Boolean);
rmSync(tmp, { recursive: true, force: true });
for (const line of lines) {
  const [kind, n] = line.split('\t');
  if (!counts.has(kind as TriedKind) || !/^\d+$/.test(n)) throw new Error(`count file: unexpected line ${JSON.stringify(line)}`);
  counts.set(kind as TriedKind, counts.get(kind as TriedKind)! + Number(n));
}
const total = [...counts.values()].reduce((a, b) => a + b, 0);

const section = [
  'The reliability suite (`test/reliability/`) tries bad inputs and faults: every bad input gets exit code 2 and one line without a stack trace, and nothing outside the run folder changes; a fault leaves no half-written file; a killed or resumed run ends equal to an uninterrupted one, byte for byte; a full disk gives one line with exit code 1.',
  '',
  '| kind | what | cases |',
  '| --- | --- | ---: |',
  ...[...counts].map(([kind, n]) => `| ${kind} | ${TRIED_KINDS[kind]} | ${n} |`),
  `| **total** | | **${total}** |`,
  '',
  `Counted ${new Date().toISOString().slice(0, 10)} on ${cpus().length} × ${cpus()[0]?.model} by \`${command}\` (all ${pass} tests passed${skipped > 0 ? `, ${skipped} skipped` : ''}).`,
].join('\n');

/** Without markers yet: under a `## Reliability` heading, or as a new section after the attack table's. */
function placeSection(text: string, block: string): string {
  if (/^## Reliability\n/m.test(text)) return text.replace(/^## Reliability\n/m, () => `## Reliability\n\n${block}\n`);
  const table = text.indexOf('<!-- attack-table:end -->');
  if (table < 0) throw new Error('README.md has no attack-table markers to place the Reliability section after');
  const next = text.slice(table).search(/^## /m);
  if (next < 0) throw new Error('README.md has no ## heading after the attack table');
  const at = table + next;
  return `${text.slice(0, at)}## Reliability\n\n${block}\n\n${text.slice(at)}`;
}
replaceSection(readme, 'reliability', section, { note, ifMissing: placeSection });
console.error(`README.md: ${total} cases in ${pass} tests (${tests} run), counted in ${minutes.toFixed(1)} min`);
