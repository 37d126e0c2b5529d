/** A run's results.json as tests compare runs: every figure, the clock left out. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** results.json of run folder `dir` with its seconds (total, and per attack where it has attacks) set to 0. */
export function resultsFigures(dir: string): Record<string, unknown> {
  const results = JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8'));
  results.summary.seconds = 0;
  if (Array.isArray(results.summary.attacks)) for (const a of results.summary.attacks) a.seconds = 0;
  return results;
}
