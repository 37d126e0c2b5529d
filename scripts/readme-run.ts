/**
 * Re-runs the README's commands, as a new user would, in a fresh clone of this repository, and
 * writes what each printed: docs/readme-run.md (every command: exit code, time, its last lines)
 * and the README's `readme-run` section (a summary the README quotes).
 *
 *   npm run docs:readme-run [-- --budget-minutes M] [--deadline-minutes M] [--only REGEX] [--again] [--dir D]
 *
 * The clone (default .cache/readme-run/clone, at this checkout's HEAD) persists on this machine
 * and the results (docs/readme-run.jsonl, committed) with the repository, so the hours the long
 * lines take (training, AutoAttack on the whole test set, the results scripts) spread over
 * several invocations and machines: a command already run is kept, and the run stops starting
 * commands once its budget is spent. With --deadline-minutes, a line still running then is stopped
 * and recorded as unfinished; the next invocation runs it again in the same clone, where a command
 * that resumes (advx robustness, npm run train:models) goes on from its run folders, and its
 * time adds up over the parts. What it has done (its --out folder, or its rule's `progress`) is
 * also parked in parked/readme-run/ of this checkout, to be committed: a fresh clone on another
 * machine gets it back and goes on too. The commands run in README order, because later lines use
 * earlier lines' run folders (a fresh clone lacks those of lines kept from elsewhere: --again
 * reruns them). What a line writes into tracked files of the clone (the results scripts' sections
 * of RESULTS.md and BENCHMARKS.md, their pictures in docs/) is carried into this checkout as soon
 * as the line ends, to be committed with docs/readme-run.*.
 *
 * How each line runs is stated in RULES, as data: `npx advx` is the clone's own bin (the clone is
 * the advx package itself, so npx would look for it on the registry); lines that stand for the
 * user's own files get stand-ins made here; lines with elided options (…) or that serve until
 * stopped are not run, the reason said in the output.
 */
import { spawn, spawnSync } from 'node:child_process';
import { appendFileSync, copyFileSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { findSection, replaceSection } from '../bench/sections.ts';
import { loadDataset } from '../src/node/datasets/index.ts';
import { encodePng } from '../src/node/io/png.ts';
import { writeFileAtomic } from '../src/node/io/files.ts';

const ROOT = resolve(dirname(new URL(import.meta.url).pathname), '..');
const MACHINE = `${cpus().length} × ${cpus()[0]?.model.trim()}, Node ${process.version}`;

interface Rule {
  /** Lines this rule applies to (the first matching rule wins). */
  match: RegExp;
  /** Not run, and why. */
  skip?: string;
  /** Made in the clone before the line runs, and said in the output; what `make` returns is called after the line. */
  standIn?: { what: string; make: (clone: string) => Promise<(() => void) | void> | (() => void) | void };
  /** The line serves until stopped: started, its URL fetched, then stopped. */
  serves?: boolean;
  /** The lines of its output worth quoting when it succeeds (default: the last 3). */
  quote?: RegExp;
  /** What the line takes to go on after an unfinished part, as the README says a user goes on (advx train's `--resume`); without it, the line as it stands goes on (advx robustness). */
  goOn?: string;
  /** Where in the clone the line keeps what it has done, for going on (default: its `--out` folder); see progressPaths. */
  progress?: string[];
  /** false: what the line writes into tracked files describes files that stay in the clone, so none of it is carried (see carryResults). */
  carry?: false;
}

export const RULES: Rule[] = [
  { match: /…/, skip: 'elided options: a shorthand for the line above it' },
  { match: /^npm install /, skip: 'installs the published package (the clone is the package)' },
  { match: /advx worker /, skip: 'a worker serves a Redis queue until stopped (test/queue/redis.test.ts runs it)' },
  { match: /--protocol tfserving/, standIn: { what: "http://127.0.0.1:8501/v1/models/net = models/mnist-cnn behind TF Serving's REST API, served by this script for the line's run (test/helpers/model-server.ts, as the served-model tests serve it)", make: servedModel } },
  { match: /--model net\.onnx/, standIn: { what: 'net.onnx = test/fixtures/onnx/resnet-mnistm.onnx (PyTorch ResNet on MNIST-M) with its advx.json; photos/ = 100 MNIST-M test images as photos/<class>/<n>.png', make: onnxAndPhotos } },
  { match: /^npx advx inspect net\.onnx/, standIn: { what: 'net.onnx as above', make: onnxAndPhotos } },
  { match: /advx sweep grid\.json/, standIn: { what: 'grid.json = evaluate of models/mnist-cnn with --limit 200 and 500', make: sweepGrid } },
  { match: /advx lab /, serves: true },
  { match: /^npm run bench(:suite)?$/, standIn: { what: "../shared/bench = this repository's ../shared/bench (PyTorch's reference workloads, which npm run bench looks for beside the repository)", make: sharedBench } },
  // The test runner ends with its counts (tests, pass, fail), then skipped, todo and the duration.
  { match: /^npm (ci && npm )?(test|run test:e2e)$/, quote: /^# (tests|pass|fail|skipped) / },
  { match: /^npx advx (train|adapt|gan train) /, goOn: '--resume' },
  // A robustness table is followed by notes (queries, minimal-norm attacks, shards merged): quote
  // the table itself (a --json line is its own last line).
  { match: /^npx advx robustness (?!.*--json)/, quote: /^(clean accuracy |ε |\d[\d.]* +\d)/ },
  // Its sections are carried into RESULTS.md as each is measured; the note of which are done goes on.
  // It prints the section it wrote, then each robust model's worst case: quote those.
  { match: /^npm run results:attacks$/, progress: ['.cache/results-attacks.json'], quote: /^models\/[\w-]+: robust accuracy / },
  // It replaces the clone's models/ with the models it trains; its tables describe those, not the
  // shipped models of this checkout, so they stay in the clone (its output quotes them). Its run
  // folders (a few megabytes each) are parked: its hours (about 2 on 2 threads, 7 on 1 under load)
  // can span sessions, and a session's clone does not always outlive it.
  { match: /^npm run train:models$/, carry: false, quote: /^\{"model"/, progress: ['runs/models'] },
];

async function onnxAndPhotos(clone: string): Promise<void> {
  const fixtures = join(clone, 'test', 'fixtures', 'onnx');
  copyFileSync(join(fixtures, 'resnet-mnistm.onnx'), join(clone, 'net.onnx'));
  copyFileSync(join(fixtures, 'resnet-mnistm.advx.json'), join(clone, 'net.advx.json'));
  if (existsSync(join(clone, 'photos'))) return;
  const { test } = loadDataset('mnist-m', { limit: { train: 1, test: 100 } });
  const [h, w, c] = test.shape;
  const size = h * w * c;
  for (let i = 0; i < test.labels.length; i++) {
    const folder = join(clone, 'photos', String(test.labels[i]));
    mkdirSync(folder, { recursive: true });
    writeFileSync(join(folder, `${i}.png`), encodePng(test.images.subarray(i * size, (i + 1) * size), w, h, c as 1 | 3));
  }
}

/** The clone's models/mnist-cnn at the README's address, as TF Serving answers; the returned function stops it. */
async function servedModel(clone: string): Promise<() => void> {
  const [{ useBackend }, { loadClassifier }, { serve, tfserving }] = await Promise.all([import('../src/backend/index.ts'), import('../src/node/io/load-model.ts'), import('../test/helpers/model-server.ts')]);
  await useBackend('wasm', { threads: 1 });
  const { classifier } = await loadClassifier(join(clone, 'models', 'mnist-cnn'));
  return (await serve(tfserving(classifier, [], { model: 'net', metadata: true }), 8501)).stop;
}

/** The reference workloads beside the clone, as beside this repository (a link; nothing copied). */
function sharedBench(clone: string): void {
  const shared = resolve(ROOT, '..', 'shared');
  const beside = resolve(clone, '..', 'shared');
  if (existsSync(join(shared, 'bench')) && !existsSync(beside)) symlinkSync(shared, beside);
}

function sweepGrid(clone: string): void {
  writeFileSync(join(clone, 'grid.json'), JSON.stringify({ command: 'evaluate', args: ['--model', 'models/mnist-cnn', '--data', 'mnist'], grid: { '--limit': [200, 500] } }, null, 2));
}

/** The README's command lines: its first code block and the one under "## Commands", comments cut. */
export function readmeCommands(readme: string): string[] {
  const blocks = [...readme.matchAll(/^```sh\n([\s\S]*?)^```/gm)].map((m) => m[1]!);
  const commandsAt = readme.indexOf('## Commands');
  const chosen = [blocks[0]!, [...readme.slice(commandsAt).matchAll(/^```sh\n([\s\S]*?)^```/gm)][0]![1]!];
  return chosen.flatMap((b) => b.split('\n')).map((l) => l.replace(/\s+#.*$/, '').trim()).filter((l) => l !== '');
}

/** The line as it runs again after an unfinished part: with its rule's `goOn` flag, unless it has it. */
export function goOnLine(line: string, rule?: Pick<Rule, 'goOn'>): string {
  return rule?.goOn && !line.split(/\s+/).includes(rule.goOn) ? `${line} ${rule.goOn}` : line;
}

/** The clone's paths where an unfinished line keeps what it has done: its rule's `progress`, else the folder of its `--out`. */
export function progressPaths(line: string, rule?: Pick<Rule, 'progress'>): string[] {
  if (rule?.progress) return rule.progress;
  const out = /(?:^|\s)--out\s+(\S+)/.exec(line)?.[1];
  return out ? [out] : [];
}

/**
 * Where an unfinished line's progress is parked in this checkout, to be committed with
 * docs/readme-run.jsonl: the next invocation goes on with it on any machine, also in a fresh
 * clone. (On the machine that stopped it, the clone still has it, and that copy is used.)
 */
export const PARKED = join(ROOT, 'parked', 'readme-run');

/** Copies the line's progress from the clone to `parked` (a lock of the stopped process left behind is not copied). */
export function park(clone: string, paths: string[], parked = PARKED): void {
  for (const p of paths) {
    rmSync(join(parked, p), { recursive: true, force: true });
    if (existsSync(join(clone, p))) cpSync(join(clone, p), join(parked, p), { recursive: true, filter: (src) => basename(src) !== '.advx-lock' });
  }
}

/** Puts parked progress into a clone that lacks it (a fresh clone, on another machine); returns the paths put back. */
export function unpark(clone: string, paths: string[], parked = PARKED): string[] {
  const back = paths.filter((p) => !existsSync(join(clone, p)) && existsSync(join(parked, p)));
  for (const p of back) cpSync(join(parked, p), join(clone, p), { recursive: true });
  return back;
}

/** Drops the line's parked progress once the line has ended (it is in the clone's run folders, or no longer needed). */
export function unparkDone(paths: string[], parked = PARKED): void {
  for (const p of paths) {
    rmSync(join(parked, p), { recursive: true, force: true });
    // And the folders it leaves empty, up to `parked` itself.
    for (let dir = dirname(join(parked, p)); dir.startsWith(parked) && existsSync(dir) && readdirSync(dir).length === 0; dir = dirname(dir)) rmSync(dir, { recursive: true });
  }
}

/** What runs in the clone's shell for a README line. */
export function shellLine(line: string): string {
  return line.replace(/^npm ci && /, '').replace(/\bnpx advx\b/g, 'node bin/advx.js');
}

interface Outcome {
  command: string;
  /** The commit it ran at (the last part's). */
  commit: string;
  /** `unfinished`: stopped at the invocation's deadline; the next invocation runs it again, and it goes on from its run folders where its command resumes. */
  status: 'ok' | 'failed' | 'skipped' | 'timed out' | 'unfinished' | 'not run yet';
  exit?: number | null;
  /** In all, over its parts. */
  seconds?: number;
  /** The invocations it ran in, when more than one (a line stopped at a deadline and run again). */
  parts?: number;
  /** The commits its earlier parts ran at (the clone moves along between invocations). */
  earlierCommits?: string[];
  /** The machine's 1-minute load average when the line (its last part) started. */
  load?: number;
  /** Cores × CPU model, Node's version. */
  machine?: string;
  output?: string[];
  note?: string;
  date: string;
}

// Colours (ANSI escapes) and carriage-return redraws of a progress bar are not output worth quoting.
const tail = (text: string, n: number) => text.replace(/\x1b\[[0-9;]*m/g, '').split('\n').map((l) => (l.split('\r').at(-1) ?? '').trimEnd()).filter((l) => l !== '').slice(-n).map((l) => (l.length > 200 ? `${l.slice(0, 197)}…` : l));

/**
 * Runs a line in the clone; stops it (its whole process group) after `timeoutMinutes` (timed out)
 * or at `deadline` (Date.now() time, unfinished), whichever comes first.
 */
export function runLine(clone: string, line: string, timeoutMinutes: number, deadline: number, quote?: RegExp): Promise<Omit<Outcome, 'command' | 'commit' | 'date' | 'note'>> {
  return new Promise((done) => {
    const started = performance.now();
    const child = spawn('bash', ['-c', shellLine(line)], { cwd: clone, env: { ...process.env, CI: '1' }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => { out = (out + d.toString()).slice(-20_000); });
    child.stderr.on('data', (d: Buffer) => { err = (err + d.toString()).slice(-20_000); });
    const timeoutMs = timeoutMinutes * 60_000;
    const atDeadline = deadline - Date.now() < timeoutMs;
    let stopped = false;
    const timer = setTimeout(() => { stopped = true; process.kill(-child.pid!, 'SIGTERM'); }, Math.max(0, Math.min(timeoutMs, deadline - Date.now())));
    child.on('close', (code) => {
      clearTimeout(timer);
      const seconds = Math.round((performance.now() - started) / 100) / 10;
      const output = code === 0 ? (quote ? tail(out || err, 20).filter((l) => quote.test(l)) : tail(out || err, 3)) : [...tail(out, 2), ...tail(err, 3)];
      done({ status: stopped ? (atDeadline ? 'unfinished' : 'timed out') : code === 0 ? 'ok' : 'failed', exit: code, seconds, output });
    });
  });
}

/** Starts a serving line, fetches the URL it prints, stops it. */
function serveLine(clone: string, line: string): Promise<Omit<Outcome, 'command' | 'commit' | 'date' | 'note'>> {
  return new Promise((done) => {
    const started = performance.now();
    const child = spawn('bash', ['-c', `exec ${shellLine(line)} --port 0`], { cwd: clone, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const finish = (status: Outcome['status'], output: string[]) => { child.kill('SIGINT'); done({ status, exit: null, seconds: Math.round((performance.now() - started) / 100) / 10, output }); };
    const timer = setTimeout(() => finish('failed', ['no URL printed within 60 s', ...tail(out, 2)]), 60_000);
    child.stdout.on('data', async (d: Buffer) => {
      out += d.toString();
      const url = /https?:\/\/\S+\//.exec(out)?.[0];
      if (!url) return;
      clearTimeout(timer);
      try {
        const r = await fetch(url);
        finish(r.ok ? 'ok' : 'failed', [...tail(out, 1), `GET ${url.replace(/:\d+\//, ':PORT/')} → ${r.status} ${r.headers.get('content-type') ?? ''}`]);
      } catch (e) {
        finish('failed', [...tail(out, 1), `GET ${url}: ${(e as Error).message}`]);
      }
    });
  });
}

function git(args: string[], cwd = ROOT): string {
  const r = spawnSync('git', args, { cwd, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`git ${args.join(' ')}: ${r.stderr.trim()}`);
  return r.stdout.trim();
}

/**
 * The clone at this checkout's HEAD: made fresh the first time, moved to a newer HEAD later (its
 * run folders kept, since later lines need earlier lines' runs), `npm ci` and `npm run build`
 * each time it is made or moved.
 */
function cloneAtHead(clone: string): string {
  const head = git(['rev-parse', 'HEAD']);
  if (existsSync(join(clone, '.git'))) {
    if (git(['rev-parse', 'HEAD'], clone) === head) return head;
    git(['fetch', '--quiet', ROOT, head], clone);
  } else {
    if (existsSync(clone)) throw new Error(`${clone} exists and is no clone: remove it or give another --dir`);
    mkdirSync(dirname(clone), { recursive: true });
    git(['clone', '--quiet', '--no-local', ROOT, clone]);
  }
  // Lines rewrite tracked files (npm run bench its BENCHMARKS.md, the results scripts RESULTS.md):
  // carried into this checkout after each line (carryResults), they give way here; run folders
  // (untracked) stay.
  git(['checkout', '--quiet', '--force', head], clone);
  for (const step of ['npm ci --prefer-offline --no-audit --no-fund', 'npm run build']) {
    process.stderr.write(`readme-run: ${step}\n`);
    const r = spawnSync('bash', ['-c', step], { cwd: clone, stdio: ['ignore', 'ignore', 'inherit'] });
    if (r.status !== 0) throw new Error(`${step} failed in ${clone}`);
  }
  return head;
}

/**
 * Carries what a line wrote into the clone's tracked results over to the checkout at `root`, so
 * that moving the clone along (which resets tracked files) loses nothing: each marked section of a
 * tracked Markdown file that the line changed replaces the same section there (the rest of the
 * file, perhaps newer there, stays), and each file under docs/ it changed or added is copied. The
 * user's files a line made (stand-ins, grid.png, run folders) stay in the clone. Returns what was
 * carried, as "FILE" or "FILE SECTION".
 */
export function carryResults(clone: string, root: string): string[] {
  const run = (args: string[]) => spawnSync('git', args, { cwd: clone, encoding: 'utf8' }).stdout;
  const changed = run(['status', '--porcelain', '--untracked-files=all']).split('\n').filter(Boolean).map((l) => ({ status: l.slice(0, 2), path: l.slice(3) }));
  const carried: string[] = [];
  for (const { status, path } of changed) {
    if (status !== ' M' && status !== '??') continue;
    const [from, to] = [join(clone, path), join(root, path)];
    const text = status === ' M' && path.endsWith('.md') && existsSync(to) ? readFileSync(from, 'utf8') : undefined;
    const names = text === undefined ? [] : [...text.matchAll(/<!-- ([\w:.-]+):start/g)].map((m) => m[1]!);
    if (text !== undefined && names.length) {
      const before = run(['show', `HEAD:${path}`]);
      const here = readFileSync(to, 'utf8');
      let merged = here;
      for (const name of names) {
        const block = findSection(text, name)!;
        const old = findSection(merged, name);
        if (block === findSection(before, name) || old === block) continue;
        if (old === undefined) {
          process.stderr.write(`readme-run:   ${path} of the clone has a new section ${name}, which ${root} lacks: not carried\n`);
          continue;
        }
        merged = merged.replace(old, () => block);
        carried.push(`${path} ${name}`);
      }
      if (merged !== here) writeFileAtomic(to, merged);
    } else if (path.startsWith('docs/')) {
      mkdirSync(dirname(to), { recursive: true });
      writeFileAtomic(to, readFileSync(from));
      carried.push(path);
    }
  }
  return carried;
}

function table(outcomes: Outcome[]): string {
  const cell = (s: string) => s.replace(/\|/g, '\\|');
  return [
    '| command | result | time | load | last lines printed |',
    '| --- | --- | ---: | ---: | --- |',
    ...outcomes.map((o) => `| \`${cell(o.command)}\` | ${o.status}${o.exit !== undefined && o.exit !== null && o.exit !== 0 ? ` (exit ${o.exit})` : ''} | ${o.seconds === undefined ? '' : formatSeconds(o.seconds)}${o.parts ? ` in ${o.parts} parts` : ''} | ${o.load ?? ''} | ${[o.note, ...(o.output ?? []).map((l) => `\`${cell(l)}\``)].filter(Boolean).join('<br>')} |`),
  ].join('\n');
}

function formatSeconds(s: number): string {
  return s < 90 ? `${s.toFixed(1)} s` : s < 5400 ? `${(s / 60).toFixed(1)} min` : `${(s / 3600).toFixed(1)} h`;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { dir: { type: 'string' }, 'budget-minutes': { type: 'string' }, 'deadline-minutes': { type: 'string' }, only: { type: 'string' }, again: { type: 'boolean' }, 'timeout-minutes': { type: 'string' } } });
  const clone = resolve(values.dir ?? join(ROOT, '.cache', 'readme-run', 'clone'));
  const resultsFile = join(ROOT, 'docs', 'readme-run.jsonl');
  const budgetMs = Number(values['budget-minutes'] ?? 60) * 60_000;
  const timeoutMinutes = Number(values['timeout-minutes'] ?? 240);
  const only = values.only ? new RegExp(values.only) : undefined;
  const commit = cloneAtHead(clone);
  const lines = readmeCommands(readFileSync(join(clone, 'README.md'), 'utf8'));
  const earlier = new Map<string, Outcome>();
  if (existsSync(resultsFile)) {
    for (const l of readFileSync(resultsFile, 'utf8').split('\n').filter(Boolean)) {
      const o = JSON.parse(l) as Outcome;
      earlier.set(o.command, o);
    }
  }
  const started = Date.now();
  const deadline = values['deadline-minutes'] === undefined ? Infinity : started + Number(values['deadline-minutes']) * 60_000;
  for (const line of lines) {
    if (only && !only.test(line)) continue;
    const rule = RULES.find((r) => r.match.test(line));
    const kept = earlier.get(line);
    // A line kept as skipped whose rule now runs it (a stand-in was added) runs again.
    const nowRunnable = kept?.status === 'skipped' && !rule?.skip;
    // A line stopped at an earlier deadline runs again (and goes on where its command resumes).
    const goesOn = kept?.status === 'unfinished';
    if (kept && !nowRunnable && !goesOn && !(values.again && kept.status !== 'skipped')) continue;
    const date = new Date().toISOString().slice(0, 10);
    let outcome: Outcome;
    if (rule?.skip) {
      outcome = { command: line, commit, status: 'skipped', note: rule.skip, date };
    } else {
      if (Date.now() - started > budgetMs || Date.now() >= deadline) continue;
      const stopStandIn = await rule?.standIn?.make(clone);
      process.stderr.write(`readme-run: ${line}\n`);
      const progress = progressPaths(line, rule);
      if (goesOn) {
        const back = unpark(clone, progress);
        if (back.length) process.stderr.write(`readme-run:   going on from the progress parked in ${PARKED}: ${back.join(', ')}\n`);
      }
      const load = Math.round(loadavg()[0]! * 10) / 10;
      const ran = rule?.serves ? await serveLine(clone, line) : await runLine(clone, goesOn ? goOnLine(line, rule) : line, timeoutMinutes, deadline, rule?.quote);
      if (goesOn) Object.assign(ran, { seconds: (kept!.seconds ?? 0) + (ran.seconds ?? 0), parts: (kept!.parts ?? 1) + 1, earlierCommits: [...(kept!.earlierCommits ?? []), kept!.commit] });
      stopStandIn?.();
      if (ran.status === 'unfinished') park(clone, progress);
      else unparkDone(progress);
      const carried = rule?.carry === false ? [] : carryResults(clone, ROOT);
      if (carried.length) process.stderr.write(`readme-run:   carried into this checkout: ${carried.join(', ')}\n`);
      outcome = { command: line, commit, ...ran, load, machine: MACHINE, date, ...(rule?.standIn ? { note: `stand-in: ${rule.standIn.what}` } : {}) };
      process.stderr.write(`readme-run:   ${outcome.status} in ${formatSeconds(outcome.seconds ?? 0)}${outcome.parts ? ` (${outcome.parts} parts)` : ''}\n`);
    }
    earlier.set(line, outcome);
    appendFileSync(resultsFile, `${JSON.stringify(outcome)}\n`);
  }
  const outcomes = lines.map((l) => earlier.get(l) ?? { command: l, commit: '', status: 'not run yet' as const, date: '' });
  const count = (s: Outcome['status']) => outcomes.filter((o) => o.status === s).length;
  const machines = [...new Set(outcomes.map((o) => o.machine).filter(Boolean))];
  const machine = machines.length ? machines.join(' and ') : MACHINE;
  const dates = [...new Set(outcomes.map((o) => o.date).filter(Boolean))].sort();
  const commits = [...new Set(outcomes.flatMap((o) => [...(o.earlierCommits ?? []), o.commit].map((c) => c.slice(0, 7))).filter(Boolean))];
  const summary = `${lines.length} command lines, re-run in a clone of this repository (made fresh, then moved along; lines run at ${commits.join(', ') || commit.slice(0, 7)}; \`npm ci\`, \`npm run build\`, then each line in order, \`npx advx\` as the clone's \`bin/advx.js\`) on ${machine}, ${dates.length > 1 ? `${dates[0]} to ${dates.at(-1)}` : dates[0] ?? 'never'}: ${count('ok')} ran and exited 0, ${count('failed') + count('timed out')} did not, ${count('skipped')} are not runnable as written (elided options, a server to be stopped), ${count('unfinished') ? `${count('unfinished')} under way (stopped at an invocation's deadline; the next goes on with it), ` : ''}${count('not run yet')} not run yet (hours of training and evaluation: later invocations).`;
  writeFileAtomic(join(ROOT, 'docs', 'readme-run.md'), `# The README's commands, re-run\n\nWritten by \`npm run docs:readme-run\` (scripts/readme-run.ts). ${summary}\n\n${table(outcomes)}\n`);
  const failed = outcomes.filter((o) => o.status === 'failed' || o.status === 'timed out');
  const quoted = outcomes.filter((o) => o.status === 'ok' && /--json|demo|evaluate/.test(o.command)).slice(0, 6);
  const readme = [
    summary + ' Each line\'s output: docs/readme-run.md.',
    ...(failed.length ? ['', 'Did not run through: ' + failed.map((o) => `\`${o.command}\` (${o.status}${o.exit ? `, exit ${o.exit}` : ''})`).join('; ') + '.'] : []),
    ...(quoted.length ? ['', '```text', ...quoted.flatMap((o) => [`$ ${o.command}`, (o.output ?? []).at(-1) ?? '']), '```'] : []),
  ].join('\n');
  replaceSection(join(ROOT, 'README.md'), 'readme-run', readme, { note: '(written by `npm run docs:readme-run`)' });
  process.stderr.write(`readme-run: ${summary}\n`);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((e: Error) => { process.stderr.write(`readme-run: ${e.message}\n`); process.exit(1); });
}
