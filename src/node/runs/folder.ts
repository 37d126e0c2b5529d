/**
 * Run folders: the one place that decides where a command may write its `--out`.
 *
 * - A run folder is created by advx and marked as such: `.advx-run` holds the command's name, a
 *   format version, and the files of the run that a later run of the same command may delete.
 * - advx writes only into a folder it created (marked) or an empty one; a non-empty folder without
 *   the marker, a file, an unwritable path and `--out ''` are refused with one line (AdvxError).
 * - A folder marked by another command is refused; a re-run of the same command continues only
 *   with --resume for commands that resume (train, adapt, gan train), and overwrites its own
 *   outputs for the others (evaluate, attack, robustness, transfer, text-attack, demo), deleting only files
 *   the marker lists.
 * - An exclusive lock (`.advx-lock`, created with the `wx` flag, holding pid, host and start time)
 *   is held for the life of the run and released when the process ends, however it ends (see
 *   KEEPER); a lock left by a process that is no longer alive is taken over.
 * - The folder is created one level at a time below its nearest existing ancestor, which must be a
 *   writable folder: no recursive mkdir, which loops forever on paths like /proc/x.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import { hostname } from 'node:os';
import * as path from 'node:path';
import { AdvxError, FolderInUse } from '../../core/errors.ts';
import { atomicTempWriter, describeSystemError as describeError, writeFileAtomic } from '../io/files.ts';

export const RUN_MARKER = '.advx-run';
export const RUN_LOCK = '.advx-lock';
export const RUN_FORMAT = 1;

export interface RunMarker {
  advx: 'run';
  format: number;
  /** The command that made the folder: "train", "gan train", "attack", … */
  command: string;
  created: string;
  /** Files (relative to the folder) a later run of the same command may delete. */
  files: string[];
}

interface LockContent {
  pid: number;
  host: string;
  started: string;
  token: string;
}

export interface RunFolderOptions {
  /** The command, as the marker records it ("train", "gan train", "attack", …). */
  command: string;
  /** The flag named in messages (default --out). */
  flag?: string;
  /**
   * For commands that continue a run with --resume (train, adapt, gan train): whether the folder
   * already holds a started run of the command, which only --resume may continue. Commands without
   * it may overwrite their own outputs in their own folder.
   */
  started?: (dir: string) => boolean;
  /** Name of such a run in the refusal ("a training run"). */
  runName?: string;
  /** --resume was given. */
  resume?: boolean;
  /**
   * With --resume: a run folder written before run folders were marked (no `.advx-run`) that holds
   * a run of this command is adopted rather than refused.
   */
  legacy?: (dir: string) => boolean;
}

/** Paths inside a run folder (or a sub-folder of one), and the record of files a re-run may delete. */
export interface RunPaths {
  /** The absolute folder. */
  readonly dir: string;
  path(...parts: string[]): string;
  /** Records files (relative to `dir`) as this run's, before they are written. */
  record(files: string[]): void;
  /** Deletes the files an earlier run recorded under `rel` (a file or folder relative to `dir`), and the folders they leave empty. */
  removeRecorded(rel: string): void;
  sub(rel: string): RunPaths;
}

const held = new Set<RunFolder>();
let exitHandler = false;

function releaseAll(): void {
  for (const run of [...held]) run.release();
}

/**
 * The lock's keeper: a small detached process that removes the lock once this process is gone —
 * whether it exits, fails, or dies of SIGINT, SIGTERM or even SIGKILL — by waiting for the end of
 * a pipe from this process, which the kernel closes however it ends. Signal handlers in this
 * process would not do: they run only when the event loop gets a turn, which a long attack or
 * training loop of awaited microtasks does not give, so Ctrl-C would wait for the end of the run.
 * Detached, the keeper is in its own process group and does not get the terminal's Ctrl-C.
 */
const KEEPER = `
const fs = require('node:fs');
const [file, token] = process.argv.slice(1);
const read = (f) => { try { return JSON.parse(fs.readFileSync(f, 'utf8')); } catch { return undefined; } };
const done = () => {
  try {
    if (read(file)?.token === token) {
      const aside = file + '.release-' + token;
      fs.renameSync(file, aside);
      if (read(aside)?.token !== token) { try { fs.linkSync(aside, file); } catch {} }
      fs.rmSync(aside, { force: true });
    }
  } catch {}
  process.exit(0);
};
process.stdin.on('data', () => {});
process.stdin.on('end', done);
process.stdin.on('error', done);
process.stdin.resume();
`;

function startKeeper(lockFile: string, token: string): ChildProcess | undefined {
  try {
    const child = spawn(process.execPath, ['-e', KEEPER, lockFile, token], { stdio: ['pipe', 'ignore', 'ignore'], detached: true });
    child.on('error', () => {});
    child.stdin?.on('error', () => {});
    child.unref();
    (child.stdin as unknown as { unref?: () => void } | null)?.unref?.();
    return child;
  } catch {
    // No keeper: a lock left by a killed run is still taken over, since its pid is dead.
    return undefined;
  }
}

function statOrUndefined(p: string): fs.Stats | undefined {
  try {
    return fs.statSync(p);
  } catch (e) {
    // ENOTDIR: a part of the path is a file, which the walk up to the nearest existing ancestor finds.
    if ((e as NodeJS.ErrnoException).code === 'ENOENT' || (e as NodeJS.ErrnoException).code === 'ENOTDIR') return undefined;
    throw e;
  }
}

function isWritableDir(dir: string): boolean {
  try {
    fs.accessSync(dir, fs.constants.W_OK | fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Makes `dir` (resolved) exist as a writable folder: every missing level is created with a plain,
 * non-recursive mkdir below the nearest existing ancestor, which must be a writable folder.
 */
function ensureFolder(dir: string, shown: string, flag: string): void {
  const missing: string[] = [];
  let p = dir;
  let st: fs.Stats | undefined;
  for (;;) {
    try {
      st = statOrUndefined(p);
    } catch (e) {
      throw new AdvxError(`${flag} ${shown}: cannot use ${p} (${describeError(e)})`);
    }
    if (st) break;
    const parent = path.dirname(p);
    if (parent === p) throw new AdvxError(`${flag} ${shown}: no existing folder above it`);
    missing.unshift(p);
    p = parent;
  }
  if (!st.isDirectory()) {
    throw new AdvxError(missing.length ? `${flag} ${shown}: ${p} is a file, not a folder` : `${flag} ${shown} is a file, not a folder: choose a new or empty folder`);
  }
  if (!isWritableDir(p)) throw new AdvxError(missing.length ? `${flag} ${shown}: cannot create a folder in ${p} (permission denied)` : `${flag} ${shown} is not writable (permission denied)`);
  for (const m of missing) {
    try {
      fs.mkdirSync(m);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST' && statOrUndefined(m)?.isDirectory()) continue;
      throw new AdvxError(`${flag} ${shown}: cannot create ${m} (${describeError(e)})`);
    }
  }
}

/** The command whose run folder `dir` is, by its marker (undefined: no valid marker). Reads only. */
export function markedCommand(dir: string): string | undefined {
  const m = readMarker(dir);
  return m === 'invalid' ? undefined : m?.command;
}

function readMarker(dir: string): RunMarker | undefined | 'invalid' {
  let text: string;
  try {
    text = fs.readFileSync(path.join(dir, RUN_MARKER), 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    return 'invalid';
  }
  try {
    const m = JSON.parse(text);
    if (m?.advx !== 'run' || typeof m.command !== 'string' || typeof m.format !== 'number') return 'invalid';
    return { ...m, files: Array.isArray(m.files) ? m.files.filter((f: unknown) => typeof f === 'string') : [] };
  } catch {
    return 'invalid';
  }
}

function readLock(file: string): LockContent | undefined {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    return undefined;
  }
}

/** Whether the process that wrote a lock is alive (a lock of another host counts as alive). */
function lockAlive(lock: LockContent | undefined): boolean {
  if (!lock || !Number.isInteger(lock.pid) || lock.pid <= 0) return false;
  if (lock.host && lock.host !== hostname()) return true;
  try {
    process.kill(lock.pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A path relative to a run folder, checked to stay inside it, with / separators. */
function relative(rel: string): string {
  const norm = path.posix.normalize(rel.split(path.sep).join('/'));
  if (norm === '..' || norm.startsWith('../') || path.posix.isAbsolute(norm)) throw new Error(`run folder path outside the folder: ${rel}`);
  return norm === '.' ? '' : norm.replace(/\/$/, '');
}

class SubPaths implements RunPaths {
  constructor(
    private readonly run: RunFolder,
    private readonly prefix: string,
  ) {}
  get dir(): string {
    return path.join(this.run.dir, this.prefix);
  }
  path(...parts: string[]): string {
    return path.join(this.dir, ...parts);
  }
  record(files: string[]): void {
    this.run.record(files.map((f) => path.posix.join(this.prefix, relative(f))));
  }
  removeRecorded(rel: string): void {
    this.run.removeRecorded(path.posix.join(this.prefix, relative(rel)));
  }
  sub(rel: string): RunPaths {
    return new SubPaths(this.run, path.posix.join(this.prefix, relative(rel)));
  }
}

export class RunFolder implements RunPaths {
  /** The absolute folder. */
  readonly dir: string;
  readonly command: string;
  /** Whether the folder already held a run of this command (a re-run or a resume). */
  readonly reused: boolean;
  private marker: RunMarker;
  private readonly lockFile: string;
  private readonly token: string;
  private locked = true;
  private keeper: ChildProcess | undefined;

  /** Use openRunFolder. */
  constructor(dir: string, command: string, marker: RunMarker, reused: boolean, token: string) {
    this.dir = dir;
    this.command = command;
    this.marker = marker;
    this.reused = reused;
    this.lockFile = path.join(dir, RUN_LOCK);
    this.token = token;
  }

  path(...parts: string[]): string {
    return path.join(this.dir, ...parts);
  }

  sub(rel: string): RunPaths {
    return new SubPaths(this, relative(rel));
  }

  /** The files a re-run of this command may delete. */
  get files(): readonly string[] {
    return this.marker.files;
  }

  record(files: string[]): void {
    const all = new Set(this.marker.files);
    for (const f of files) all.add(relative(f));
    this.marker = { ...this.marker, files: [...all] };
    this.writeMarker();
  }

  removeRecorded(rel: string): void {
    const r = relative(rel);
    const inside = (f: string) => r === '' || f === r || f.startsWith(r + '/');
    const gone = this.marker.files.filter(inside);
    if (!gone.length) return;
    const folders = new Set<string>();
    for (const f of gone) {
      fs.rmSync(this.path(f), { force: true });
      for (let d = path.posix.dirname(f); d !== '.' && d !== ''; d = path.posix.dirname(d)) folders.add(d);
    }
    // Deepest first; a folder still holding anything (e.g. a file of the user's) stays.
    for (const d of [...folders].sort((a, b) => b.length - a.length)) {
      try {
        fs.rmdirSync(this.path(d));
      } catch {
        // not empty, or already gone
      }
    }
    this.marker = { ...this.marker, files: this.marker.files.filter((f) => !inside(f)) };
    this.writeMarker();
  }

  /** Releases the lock (idempotent); the process's exit releases it too. */
  release(): void {
    if (!this.locked) return;
    this.locked = false;
    held.delete(this);
    try {
      if (readLock(this.lockFile)?.token === this.token) fs.rmSync(this.lockFile, { force: true });
    } catch {
      // best effort: the keeper removes it, and a lock of a dead process is taken over anyway
    }
    try {
      this.keeper?.stdin?.end();
    } catch {
      // it ends with this process
    }
  }

  private writeMarker(): void {
    writeFileAtomic(path.join(this.dir, RUN_MARKER), JSON.stringify(this.marker, null, 2) + '\n');
  }

  /** @internal */
  static create(dir: string, command: string, marker: RunMarker | undefined, reused: boolean, token: string): RunFolder {
    const run = new RunFolder(dir, command, marker ?? { advx: 'run', format: RUN_FORMAT, command, created: new Date().toISOString(), files: [] }, reused, token);
    held.add(run);
    if (!exitHandler) {
      exitHandler = true;
      process.on('exit', releaseAll);
    }
    run.keeper = startKeeper(run.lockFile, token);
    if (!marker) run.writeMarker();
    return run;
  }
}

/** How long a lock file may stay empty or unreadable before it counts as left by a killed process. */
const LOCK_FILL_GRACE_MS = 2000;

/**
 * Takes the lock of `dir`, taking over one left by a dead process; throws an AdvxError when a live
 * process holds it. Returns the lock's token.
 */
function takeLock(dir: string, shown: string, flag: string): string {
  const file = path.join(dir, RUN_LOCK);
  const token = `${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2, 10)}`;
  const content: LockContent = { pid: process.pid, host: hostname(), started: new Date().toISOString(), token };
  let waited = 0; // ms given to a lock being written
  for (let attempt = 0; attempt < 5; attempt++) {
    let fd: number | undefined;
    try {
      fd = fs.openSync(file, 'wx');
      fs.writeFileSync(fd, JSON.stringify(content) + '\n');
      return token;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw new AdvxError(`${flag} ${shown}: cannot write in it (${describeError(e)})`);
    } finally {
      if (fd !== undefined) fs.closeSync(fd);
    }
    const other = readLock(file);
    if (lockAlive(other)) {
      throw new FolderInUse(`${flag} ${shown} is in use by another advx process (pid ${other!.pid}, since ${other!.started}): wait for it to finish or choose another folder`);
    }
    if (!other) {
      // Being written this very moment (created, not yet filled), or garbage: a process killed
      // between creating and filling it leaves it empty. Give a writer its grace in full, then
      // take it over; waiting out the grace is no failed attempt.
      // (At most the grace in all, also for a file stamped in the future by a skewed clock.)
      const st = statOrUndefined(file);
      const grace = st ? Math.min(LOCK_FILL_GRACE_MS - (Date.now() - st.mtimeMs), LOCK_FILL_GRACE_MS - waited) : 0;
      if (grace > 0) {
        const pause = Math.min(grace + 1, 100);
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, pause);
        waited += pause;
        attempt--;
        continue;
      }
    }
    // A stale lock: move it aside under a name of our own, and put it back if it was not the one
    // judged stale (another process took it over meanwhile).
    const aside = `${file}.stale-${token}`;
    try {
      fs.renameSync(file, aside);
    } catch {
      continue;
    }
    const moved = readLock(aside);
    if (moved?.token !== other?.token && lockAlive(moved)) {
      try {
        fs.linkSync(aside, file);
      } catch {
        // someone else holds it now; the open below fails and reports them
      }
    }
    fs.rmSync(aside, { force: true });
  }
  throw new AdvxError(`${flag} ${shown}: could not take its lock ${RUN_LOCK}`);
}

/**
 * Removes the temporary files of atomic writes that a killed run left (a half-written
 * `.grid.png.1234.x7k2.tmp`). Called under the lock, so no other process is writing here; only
 * names of writeFileAtomic's own pattern are touched.
 */
function removeStaleTemps(dir: string): void {
  const walk = (d: string) => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      if (e.isDirectory()) walk(path.join(d, e.name));
      else if (e.isFile() && atomicTempWriter(e.name) !== undefined && atomicTempWriter(e.name) !== process.pid) fs.rmSync(path.join(d, e.name), { force: true });
    }
  };
  walk(dir);
}

/**
 * Opens (creating it if needed) the run folder `out` for `options.command`, locked for this
 * process's lifetime; refuses with an AdvxError what is not a new, empty or own run folder.
 */
export function openRunFolder(out: string | undefined, options: RunFolderOptions): RunFolder {
  const flag = options.flag ?? '--out';
  if (out === undefined || out.trim() === '') throw new AdvxError(`${flag} must name a folder, got ${JSON.stringify(out ?? '')}`);
  const dir = path.resolve(out);
  ensureFolder(dir, out, flag);
  const refuseForeign = () => new AdvxError(`${flag} ${out} holds files advx did not write: choose a new or empty folder`);

  // Look before locking: a folder of someone else's gets no lock file, not even for a moment.
  const check = (): { marker: RunMarker | undefined; adopt: boolean } => {
    const marker = readMarker(dir);
    if (marker === 'invalid') throw new AdvxError(`${flag} ${out}: its ${RUN_MARKER} is not an advx run marker: choose a new or empty folder`);
    if (marker) {
      if (marker.command !== options.command) throw new AdvxError(`${flag} ${out} holds an advx ${marker.command} run, not ${options.command}: choose a new or empty folder`);
      if (marker.format > RUN_FORMAT) throw new AdvxError(`${flag} ${out} was written by a newer advx (run format ${marker.format}): choose a new or empty folder`);
      return { marker, adopt: false };
    }
    let entries: string[];
    try {
      entries = fs.readdirSync(dir);
    } catch (e) {
      throw new AdvxError(`${flag} ${out}: cannot read it (${describeError(e)})`);
    }
    const others = entries.filter((e) => e !== RUN_LOCK && atomicTempWriter(e) === undefined);
    if (others.length === 0) return { marker: undefined, adopt: false };
    if (options.resume && options.legacy?.(dir)) return { marker: undefined, adopt: true };
    throw refuseForeign();
  };
  check();
  const token = takeLock(dir, out, flag);
  let run: RunFolder | undefined;
  try {
    const { marker, adopt } = check(); // again, under the lock
    if (marker && options.started?.(dir) && !options.resume) {
      throw new AdvxError(`${out} already holds ${options.runName ?? `an advx ${options.command} run`}: pass --resume to continue it, or choose another --out`);
    }
    run = RunFolder.create(dir, options.command, marker, Boolean(marker) || adopt, token);
    removeStaleTemps(dir);
    return run;
  } catch (e) {
    if (!run) {
      const lockFile = path.join(dir, RUN_LOCK);
      if (readLock(lockFile)?.token === token) fs.rmSync(lockFile, { force: true });
    }
    throw e;
  }
}

/**
 * Checks a single output file named by the user (e.g. `gan sample --out grid.png`): not empty,
 * not a folder, in a folder that exists or can be made (one level at a time) and is writable.
 * An existing file of that name is replaced.
 */
export function checkOutFile(out: string | undefined, flag = '--out'): string {
  if (out === undefined || out.trim() === '') throw new AdvxError(`${flag} must name a file, got ${JSON.stringify(out ?? '')}`);
  const file = path.resolve(out);
  let st: fs.Stats | undefined;
  try {
    st = statOrUndefined(file);
  } catch (e) {
    throw new AdvxError(`${flag} ${out}: cannot use it (${describeError(e)})`);
  }
  if (st?.isDirectory()) throw new AdvxError(`${flag} ${out} is a folder: name the file to write`);
  if (st && !st.isFile()) throw new AdvxError(`${flag} ${out} is not a regular file`);
  const parent = path.dirname(file);
  let pst: fs.Stats | undefined;
  try {
    pst = statOrUndefined(parent);
  } catch (e) {
    throw new AdvxError(`${flag} ${out}: cannot use ${parent} (${describeError(e)})`);
  }
  if (pst && !pst.isDirectory()) throw new AdvxError(`${flag} ${out}: ${parent} is a file, not a folder`);
  if (pst && !isWritableDir(parent)) throw new AdvxError(`${flag} ${out}: cannot write in ${parent} (permission denied)`);
  if (!pst) ensureFolder(parent, out, flag);
  return file;
}

/**
 * A `legacy` test for openRunFolder: the folder's config.json (as the training commands write it)
 * has all of `keys` — a run of the command from before run folders were marked.
 */
export function legacyConfig(keys: readonly string[], also: (dir: string) => boolean = () => true): (dir: string) => boolean {
  return (dir) => {
    try {
      const config = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
      return typeof config === 'object' && config !== null && keys.every((k) => k in config) && also(dir);
    } catch {
      return false;
    }
  };
}
