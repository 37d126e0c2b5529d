/** The attack table of the docs, written from the registry's descriptors so the two cannot drift. */
import { ATTACKS } from '../attacks/index.ts';
import { SUITES } from '../eval/robustness.ts';

const NORM = { linf: 'L∞', l2: 'L2' } as const;

export function attackTableMarkdown(): string {
  const defaults = (d: Record<string, unknown>) => Object.entries(d).map(([k, v]) => `${k} ${String(v)}`).join(', ') || '—';
  return [
    '| attack | what it is | access | budget | norms | targeted | defaults |',
    '| --- | --- | --- | --- | --- | --- | --- |',
    ...Object.values(ATTACKS).map((d) => `| \`${d.name}\` | ${d.title} | ${d.access} | ${d.budget === 'fixed-eps' ? 'fixed ε' : 'minimal norm'} | ${d.norms.map((n) => NORM[n]).join(', ')} | ${d.targeted ? 'yes' : 'no'} | ${defaults(d.defaults)} |`),
    '',
    `Suites (\`--suite\`): ${Object.entries(SUITES).map(([name, s]) => `\`${name}\`: ${s.title}`).join('; ')}.`,
  ].join('\n');
}
