/**
 * results.json: what every command's run folder says it found, in one versioned schema.
 *
 *   { "advx": "results", "version": 1, "command": "robustness",
 *     "summary": { … the line --json prints … },
 *     …details of the command (examples, curves, the matrix) }
 *
 * Keys are snake_case (camelCase ones are converted on the way out), so that a Python or jq
 * reader sees one style across commands. No clock time is written: a resumed or re-run
 * computation that found the same gives the same file.
 */
import * as fs from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../io/files.ts';

export const RESULTS_FILE = 'results.json';
export const RESULTS_VERSION = 1;

export interface Results {
  advx: 'results';
  version: number;
  command: string;
  summary: Record<string, unknown>;
  [detail: string]: unknown;
}

/** camelCase identifiers become snake_case; other keys (class names, attack names) are data and stay. */
function snakeKey(key: string): string {
  return /^[a-z][a-z0-9]*([A-Z][a-z0-9]*)+$/.test(key) ? key.replace(/[A-Z]/g, (c) => '_' + c.toLowerCase()) : key;
}

export function snakeKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(snakeKeys);
  if (value && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [snakeKey(k), snakeKeys(v)]));
  }
  return value;
}

/** The results object for `command` (snake_case keys). */
export function resultsOf(command: string, summary: object, details: object = {}): Results {
  return snakeKeys({ advx: 'results', version: RESULTS_VERSION, command, summary, ...details }) as Results;
}

/** Writes results.json into `dir` (atomically); returns what was written. */
export function writeResults(dir: string, command: string, summary: object, details: object = {}, indent = 2): Results {
  const results = resultsOf(command, summary, details);
  writeFileAtomic(join(dir, RESULTS_FILE), JSON.stringify(results, null, indent));
  return results;
}

/** A run folder's results.json, or undefined when it has none or it is not one (an older run, a half-finished one). */
export function readResults(dir: string): Results | undefined {
  try {
    const r = JSON.parse(fs.readFileSync(join(dir, RESULTS_FILE), 'utf8'));
    return r?.advx === 'results' && typeof r.command === 'string' && typeof r.summary === 'object' ? r : undefined;
  } catch {
    return undefined;
  }
}
