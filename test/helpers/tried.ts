/**
 * Counts the bad inputs and faults the reliability suite tries, for `npm run docs:reliability`:
 * with ADVX_RELIABILITY_COUNT naming a file, each `tried(kind, n)` appends the line `kind\tn`;
 * without it, nothing happens. A test calls it after a case's assertions have passed, so only
 * cases that were handled are counted.
 */
import { appendFileSync } from 'node:fs';

/** The kinds of case, each with what one case of it is (the README's table shows both). */
export const TRIED_KINDS = {
  'bad CLI input': 'an option value, a model folder or an advx.json the CLI must refuse with one line',
  'bad attack input': 'a tensor every attack must refuse: NaN, infinite or out-of-bounds pixels, an empty batch, bad labels',
  'damaged file': 'a corrupt config, checkpoint or metrics file that `--resume` must name',
  'run folder': 'an `--out` advx must refuse, lock, take over or clean without touching anything else',
  'lab server': 'a hostile HTTP request, a script-carrying user file or a file racing a request',
  'killed run': 'a SIGKILL at a random (seeded) moment, then `--resume` or a re-run',
  'full disk': 'a write failing with ENOSPC in the middle of a run',
  'resume exactness': 'a stopped run resumed from its checkpoint and compared byte for byte with an uninterrupted one',
} as const;

export type TriedKind = keyof typeof TRIED_KINDS;

/** Records that `n` cases of `kind` were tried and handled. */
export function tried(kind: TriedKind, n = 1): void {
  const file = process.env.ADVX_RELIABILITY_COUNT;
  if (file) appendFileSync(file, `${kind}\t${n}\n`);
}
