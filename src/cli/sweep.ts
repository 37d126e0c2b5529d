/**
 * `advx sweep GRID.json`: one advx command over a grid of flag values (methods × seeds × …), each
 * point a job with its own run folder under --out/runs/, on a local pool or the Redis queue; the
 * points' JSON lines are collected into sweep.jsonl and one table.
 */
import { Command, Option } from 'commander';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { AdvxError } from '../core/errors.ts';
import { writeFileAtomic } from '../node/io/files.ts';
import { openRunFolder } from '../node/runs/folder.ts';
import { RESULTS_FILE, writeResults } from '../node/runs/results.ts';
import { hashModels, type AdvxJob } from '../node/queue/jobs.ts';
import { runJobs } from '../node/queue/pool.ts';
import { progress } from '../node/io/progress.ts';
import { positiveInt, printJson, quietOption } from './common.ts';
import { COMMANDS, isCommandName } from './commands.ts';

interface SweepFlags {
  out: string;
  workers: number;
  redis?: string;
  queue: string;
  attempts: number;
  json?: boolean;
  quiet?: boolean;
}

/** GRID.json: the command, the flags every point shares, and the values each varied flag takes. */
export interface Grid {
  command: string;
  args: string[];
  grid: Record<string, (string | number | boolean)[]>;
}

/** Commands a sweep does not run: they serve, distribute or join runs rather than make one. */
const NOT_SWEPT = ['lab', 'worker', 'sweep', 'merge', 'inspect'];
/** Flags whose values are models, hashed so that every point runs on the submitter's files. */
const MODEL_FLAGS = ['--model', '--models'];

export function sweepCommand(): Command {
  return new Command('sweep')
    .description(COMMANDS.sweep.summary)
    .argument('<grid>', 'GRID.json: {"command": "adapt", "args": ["--data", "mnist->mnist-m", "--epochs", "2"], "grid": {"--method": ["dann", "coral"], "--seed": [0, 1, 2]}}')
    .requiredOption('--out <dir>', 'folder for the points\' run folders (runs/<point>), sweep.jsonl and table.md')
    .addOption(new Option('--workers <k>', 'points run at once on this machine, each with its share of the cores').argParser(positiveInt('--workers', 256)).default(1))
    .option('--redis <url>', 'run the points as jobs on the Redis queue at url (taken by `advx worker --redis url`)')
    .addOption(new Option('--queue <name>', 'the queue\'s name on Redis').default('advx'))
    .addOption(new Option('--attempts <n>', 'tries of each point on Redis before the sweep fails').argParser(positiveInt('--attempts', 100)).default(3))
    .option('--json', 'print the rows (the point\'s flags and its command\'s JSON line) as one JSON array')
    .addOption(quietOption())
    .action((file: string, flags: SweepFlags) => sweep(file, flags));
}

export function readGrid(file: string): Grid {
  let grid: Grid;
  try {
    grid = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new AdvxError(`${file}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : `not JSON (${(e as Error).message})`}`);
  }
  const bad = (what: string) => new AdvxError(`${file}: ${what}; want {"command": "adapt", "args": [...], "grid": {"--flag": [values, ...], ...}}`);
  if (typeof grid !== 'object' || grid === null) throw bad('not an object');
  if (!isCommandName(grid.command) || NOT_SWEPT.includes(grid.command)) throw bad(`"command" ${JSON.stringify(grid.command)} is not an advx command a sweep runs (${Object.keys(COMMANDS).filter((c) => !NOT_SWEPT.includes(c)).join(', ')})`);
  grid.args ??= [];
  if (!Array.isArray(grid.args) || !grid.args.every((a) => typeof a === 'string')) throw bad('"args" is not a list of strings');
  if (grid.args.some((a) => a === '--out' || a.startsWith('--out=') || a === '--json')) throw bad('"args" sets --out or --json, which the sweep sets for each point');
  if (typeof grid.grid !== 'object' || grid.grid === null || !Object.keys(grid.grid).length) throw bad('"grid" names no flag');
  for (const [flag, values] of Object.entries(grid.grid)) {
    if (!/^--[a-z][a-z0-9-]*$/.test(flag)) throw bad(`"grid" key ${JSON.stringify(flag)} is not a flag`);
    if (!Array.isArray(values) || !values.length || !values.every((v) => ['string', 'number', 'boolean'].includes(typeof v))) throw bad(`"grid" ${flag} is not a non-empty list of values`);
  }
  return grid;
}

/** Every point of the grid, as flag → value, the last flag varying fastest. */
export function gridPoints(grid: Grid['grid']): Record<string, string | number | boolean>[] {
  return Object.entries(grid).reduce<Record<string, string | number | boolean>[]>((points, [flag, values]) => points.flatMap((p) => values.map((v) => ({ ...p, [flag]: v }))), [{}]);
}

/** The point's flags on a command line: `--seed 1`; a boolean flag is there when true, absent when false. */
function pointArgs(point: Record<string, string | number | boolean>): string[] {
  return Object.entries(point).flatMap(([flag, v]) => (v === true ? [flag] : v === false ? [] : [flag, String(v)]));
}

function pointName(point: Record<string, string | number | boolean>): string {
  return Object.entries(point).map(([flag, v]) => `${flag.slice(2)}-${String(v).replace(/[^A-Za-z0-9.]+/g, '_')}`).join('_');
}

async function sweep(file: string, flags: SweepFlags): Promise<void> {
  const grid = readGrid(file);
  const points = gridPoints(grid.grid);
  const queue = flags.redis !== undefined ? await import('../node/queue/redis.ts') : undefined;
  if (queue) {
    queue.checkRedisUrl(flags.redis!);
    queue.requireQueuePackages();
  }
  const run = openRunFolder(flags.out, { command: 'sweep' });
  const cwd = process.cwd();
  const jobs: AdvxJob[] = points.map((point) => {
    const argv = [grid.command, ...grid.args, ...pointArgs(point)];
    const models = argv.flatMap((a, i) => (MODEL_FLAGS.includes(a) && argv[i + 1] !== undefined ? argv[i + 1].split(',') : []));
    return { argv: [...argv, '--out', run.path('runs', pointName(point)), '--json'], cwd, models: hashModels(models, cwd) };
  });
  let results: unknown[];
  if (queue) {
    const id = `sweep-${createHash('sha256').update(JSON.stringify(jobs)).digest('hex').slice(0, 16)}`;
    const flow = { id, parent: { name: 'collect' as const, data: { collect: jobs.length } }, children: jobs.map((data) => ({ name: 'run', data })), childName: (i: number) => `point ${pointName(points[i])}` };
    results = (await queue.runFlowOnRedis(flow, { redis: flags.redis!, queue: flags.queue, attempts: flags.attempts, keptIn: run.path('runs'), quiet: flags.quiet })) as unknown[];
  } else {
    const bar = progress(`sweep of ${grid.command}: points done`, jobs.length, flags.quiet);
    results = await runJobs(jobs, flags.workers, (done) => bar.update(done, {}));
    bar.stop();
  }
  const rows = points.map((point, i) => ({ point: pointName(point), flags: point, result: results[i] ?? null }));
  run.record(['sweep.jsonl', 'table.md', RESULTS_FILE]);
  writeFileAtomic(run.path('sweep.jsonl'), rows.map((r) => JSON.stringify(r) + '\n').join(''));
  // The same rows as results.json's summary, where the lab's dashboard reads every run's findings.
  writeResults(run.path(), 'sweep', { command: grid.command, points: rows });
  const table = sweepTable(rows);
  writeFileAtomic(run.path('table.md'), table);
  if (flags.json) printJson(rows);
  else process.stdout.write(`${table}\n${points.length} runs of advx ${grid.command} in ${path.join(flags.out, 'runs')}; rows in ${path.join(flags.out, 'sweep.jsonl')}\n`);
}

/** The numbers of a JSON line, flattened to dotted keys (two levels: `accuracy`, `target.accuracy`). */
function numbersOf(value: unknown, prefix = '', depth = 0): [string, number][] {
  if (typeof value === 'number') return [[prefix, value]];
  if (typeof value !== 'object' || value === null || Array.isArray(value) || depth >= 2) return [];
  return Object.entries(value).flatMap(([k, v]) => numbersOf(v, prefix ? `${prefix}.${k}` : k, depth + 1));
}

/** A Markdown table: the varied flags, then every number the points' JSON lines share. */
export function sweepTable(rows: { flags: Record<string, string | number | boolean>; result: unknown }[]): string {
  const flagNames = Object.keys(rows[0]?.flags ?? {});
  const numbers = rows.map((r) => new Map(numbersOf(r.result)));
  const columns = [...numbers[0]?.keys() ?? []].filter((k) => numbers.every((n) => n.has(k)));
  const cell = (v: number) => (Number.isInteger(v) ? String(v) : v.toPrecision(4));
  const header = [...flagNames, ...columns];
  return [
    `| ${header.join(' | ')} |`,
    `|${header.map(() => ' --- ').join('|')}|`,
    ...rows.map((r, i) => `| ${[...flagNames.map((f) => String(r.flags[f])), ...columns.map((c) => cell(numbers[i].get(c)!))].join(' | ')} |`),
  ].join('\n') + '\n';
}
