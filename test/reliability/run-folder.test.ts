/**
 * Run folders (src/node/runs/folder.ts): every command that writes --out writes only into a folder
 * it created (marked .advx-run) or an empty one, deletes only files it wrote itself, holds an
 * exclusive lock for the run, and refuses '', files, unwritable paths and /proc at once with one
 * line (exit code 2). No file outside the run folder changes.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { AdvxError } from '../../src/core/errors.ts';
import { RUN_LOCK, RUN_MARKER, checkOutFile, legacyConfig, openRunFolder } from '../../src/node/runs/folder.ts';
import { advx, advxAsync, BIN } from '../helpers/cli.ts';
import { tried } from '../helpers/tried.ts';

const tmp = mkdtempSync(join(tmpdir(), 'advx-run-folder-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const ATTACK = ['attack', '--model', 'models/mnist-cnn', '--attack', 'fgsm', '--eps', '0.1', '--limit', '4'];
const TRAIN = ['train', '--model', 'mlp', '--epochs', '1', '--limit', '200', '--quiet'];

/** Every file and folder under `dir` (relative), with each file's content. */
function snapshot(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string, rel: string) => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      const r = rel ? `${rel}/${name}` : name;
      if (statSync(p).isDirectory()) {
        out.set(r + '/', '');
        walk(p, r);
      } else out.set(r, readFileSync(p).toString('base64'));
    }
  };
  walk(dir, '');
  return out;
}

/** What changed between two snapshots, outside `inside` (a relative folder, or none). */
function changedOutside(before: Map<string, string>, after: Map<string, string>, inside?: string): string[] {
  const keys = new Set([...before.keys(), ...after.keys()]);
  return [...keys].filter((k) => (!inside || !(k === inside + '/' || k.startsWith(inside + '/'))) && before.get(k) !== after.get(k));
}

/** The command failed with exit code 2 and one line on stderr matching `message`. */
function refused(r: { status: number | null; stderr: string }, message: RegExp, status = 2): void {
  assert.equal(r.status, status, r.stderr);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0], message);
}

function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(r.stdout);
}

test('attack into a non-empty folder advx did not write is refused and deletes nothing (defect 1)', () => {
  const parent = join(tmp, 'd1');
  const out = join(parent, 'u');
  mkdirSync(join(out, 'examples'), { recursive: true });
  writeFileSync(join(out, 'examples', 'notes.txt'), 'mine\n');
  writeFileSync(join(out, 'grid.png'), 'not a png of advx');
  const before = snapshot(parent);
  const r = advx([...ATTACK, '--images', '2', '--out', out]);
  refused(r, /--out .* holds files advx did not write: choose a new or empty folder/);
  assert.deepEqual(changedOutside(before, snapshot(parent)), []);
  tried('run folder');
});

test('attack re-run in its own folder deletes only the images it wrote, not a file of the user', () => {
  const parent = join(tmp, 'own');
  mkdirSync(parent);
  writeFileSync(join(parent, 'neighbour.txt'), 'untouched');
  const out = join(parent, 'run');
  const before = snapshot(parent);
  assert.equal(advx([...ATTACK, '--images', '2', '--print-scale', '2', '--out', out]).status, 0);
  assert.deepEqual(changedOutside(before, snapshot(parent), 'run'), []);
  const marker = JSON.parse(readFileSync(join(out, RUN_MARKER), 'utf8'));
  assert.equal(marker.command, 'attack');
  assert.equal(marker.format, 1);
  assert.ok(marker.files.includes('grid.png'));
  assert.equal(readdirSync(join(out, 'examples')).length, 6);
  assert.ok(!existsSync(join(out, RUN_LOCK)), 'the lock is released');
  writeFileSync(join(out, 'examples', 'notes.txt'), 'mine\n');
  const again = advx([...ATTACK, '--images', '0', '--out', out]);
  assert.equal(again.status, 0, again.stderr);
  assert.deepEqual(readdirSync(join(out, 'examples')), ['notes.txt'], 'advx images gone, the user file kept');
  assert.ok(!existsSync(join(out, 'grid.png')) && !existsSync(join(out, 'print')));
  assert.deepEqual(JSON.parse(readFileSync(join(out, RUN_MARKER), 'utf8')).files, []);
  tried('run folder'); // a user's file in advx's own folder
});

test('train refuses a folder that is not an advx run, and --out "" (defect 2)', () => {
  const out = join(tmp, 'd2');
  mkdirSync(join(out, 'model'), { recursive: true });
  writeFileSync(join(out, 'config.json'), '{"mine":true}');
  writeFileSync(join(out, 'report.html'), '<p>mine</p>');
  writeFileSync(join(out, 'model', 'model.json'), '{}');
  const before = snapshot(out);
  refused(advx([...TRAIN, '--out', out]), /holds files advx did not write/);
  refused(advx([...TRAIN, '--out', out, '--resume']), /holds files advx did not write/);
  assert.deepEqual(changedOutside(before, snapshot(out)), []);
  tried('run folder', 2); // without and with --resume

  const cwd = join(tmp, 'cwd');
  mkdirSync(cwd);
  const r = spawnSync(process.execPath, [BIN, ...TRAIN, '--out', ''], { cwd, encoding: 'utf8', timeout: 120_000 });
  refused(r, /--out must name a folder/);
  assert.deepEqual(readdirSync(cwd), [], 'nothing written into the current folder');
  tried('run folder');
});

test('a folder marked by another command is refused; an old unmarked run is adopted only by --resume', () => {
  const other = join(tmp, 'other');
  openRunFolder(other, { command: 'robustness' }).release();
  assert.throws(() => openRunFolder(other, { command: 'attack' }), (e: unknown) => e instanceof AdvxError && /holds an advx robustness run, not attack/.test(e.message));
  tried('run folder');

  const legacy = join(tmp, 'legacy');
  mkdirSync(join(legacy, 'checkpoint'), { recursive: true });
  writeFileSync(join(legacy, 'config.json'), JSON.stringify({ model: 'mlp', data: 'mnist' }));
  writeFileSync(join(legacy, 'checkpoint', 'state.json'), '{"epoch":1}');
  const options = { command: 'train', started: () => true, legacy: legacyConfig(['model', 'data']), runName: 'a training run' };
  assert.throws(() => openRunFolder(legacy, options), /holds files advx did not write/);
  assert.ok(!existsSync(join(legacy, RUN_MARKER)) && !existsSync(join(legacy, RUN_LOCK)), 'no marker or lock left in a refused folder');
  tried('run folder');
  const run = openRunFolder(legacy, { ...options, resume: true });
  assert.ok(run.reused);
  run.release();
  assert.throws(() => openRunFolder(legacy, options), /already holds a training run: pass --resume/);
  tried('run folder');
});

test('a second process on the same --out is refused while the first runs; its lock goes when it is killed (defect 3)', async () => {
  const parent = join(tmp, 'd3');
  mkdirSync(parent);
  const out = join(parent, 'run');
  const before = snapshot(parent);
  const first = advxAsync(['train', '--model', 'mlp', '--epochs', '500', '--limit', '200', '--quiet', '--out', out]);
  let firstErr = '';
  first.stderr!.on('data', (d) => (firstErr += d));
  const exited = new Promise<void>((resolve) => first.once('exit', () => resolve()));
  try {
    // The lock exists from the start; the marker is written right after it.
    for (let i = 0; i < 600 && !(existsSync(join(out, RUN_LOCK)) && existsSync(join(out, RUN_MARKER))); i++) {
      assert.equal(first.exitCode, null, `the first run ended early: ${firstErr}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const lock = JSON.parse(readFileSync(join(out, RUN_LOCK), 'utf8'));
    assert.equal(lock.pid, first.pid);
    assert.ok(lock.started && lock.host);
    for (const args of [[...TRAIN, '--out', out], [...TRAIN, '--out', out, '--resume'], [...ATTACK, '--out', out]]) {
      // In use is refused for now (exit code 75, try later), a folder of another command for good (2).
      if (args[0] === 'train') refused(advx(args), /is in use by another advx process \(pid \d+/, 75);
      else refused(advx(args), /holds an advx train run, not attack/);
      tried('run folder');
    }
    assert.equal(first.exitCode, null, 'the first run goes on');
  } finally {
    first.kill('SIGTERM');
    await exited;
  }
  // Released by the lock's keeper once the process is gone: it renames the lock aside, then removes
  // it, so the folder is settled once neither is there.
  const locked = () => readdirSync(out).some((n) => n === RUN_LOCK || n.startsWith(`${RUN_LOCK}.release-`));
  for (let i = 0; i < 50 && locked(); i++) await new Promise((r) => setTimeout(r, 100));
  assert.ok(!locked(), 'the lock is released after SIGTERM');
  assert.deepEqual(changedOutside(before, snapshot(parent), 'run'), []);
  tried('run folder'); // the lock of a process ended by SIGTERM
});

test('a lock of a live process is refused; a stale lock (a dead pid) is taken over', () => {
  const out = join(tmp, 'locks');
  openRunFolder(out, { command: 'attack' }).release();
  const live = { pid: process.ppid, host: hostname(), started: new Date().toISOString(), token: 'live' };
  writeFileSync(join(out, RUN_LOCK), JSON.stringify(live));
  assert.throws(() => openRunFolder(out, { command: 'attack' }), new RegExp(`in use by another advx process \\(pid ${process.ppid}`));
  assert.equal(JSON.parse(readFileSync(join(out, RUN_LOCK), 'utf8')).token, 'live', 'a live lock is left alone');
  tried('run folder');

  const pid = deadPid();
  writeFileSync(join(out, RUN_LOCK), JSON.stringify({ ...live, pid, token: 'dead' }));
  const run = openRunFolder(out, { command: 'attack' });
  assert.equal(JSON.parse(readFileSync(join(out, RUN_LOCK), 'utf8')).pid, process.pid);
  run.release();
  assert.ok(!existsSync(join(out, RUN_LOCK)));
  assert.deepEqual(readdirSync(out).sort(), [RUN_MARKER]);
  tried('run folder');
});

test('an empty lock (a run killed between creating and filling it) is taken over once its grace is out', () => {
  const out = join(tmp, 'empty-lock');
  openRunFolder(out, { command: 'attack' }).release();
  writeFileSync(join(out, RUN_LOCK), '');
  const t0 = Date.now();
  const run = openRunFolder(out, { command: 'attack' });
  const waited = Date.now() - t0;
  assert.equal(JSON.parse(readFileSync(join(out, RUN_LOCK), 'utf8')).pid, process.pid);
  assert.ok(waited >= 1500, `a lock being written is given time first (waited ${waited} ms)`);
  run.release();
  assert.deepEqual(readdirSync(out).sort(), [RUN_MARKER]);
});

test('the CLI takes over a stale lock left by a killed run', () => {
  const out = join(tmp, 'stale');
  openRunFolder(out, { command: 'attack' }).release();
  writeFileSync(join(out, RUN_LOCK), JSON.stringify({ pid: deadPid(), host: hostname(), started: new Date().toISOString(), token: 'dead' }));
  const r = advx([...ATTACK, '--images', '0', '--out', out]);
  assert.equal(r.status, 0, r.stderr);
  assert.ok(existsSync(join(out, 'results.json')));
  assert.ok(!existsSync(join(out, RUN_LOCK)));
  tried('run folder');
});

test('/proc/x fails within a second, and at once from the CLI with one line (defect 4)', { skip: !existsSync('/proc/self') && 'no /proc' }, () => {
  const start = performance.now();
  assert.throws(() => openRunFolder('/proc/x', { command: 'attack' }), AdvxError);
  assert.throws(() => openRunFolder('/proc/x/y/z', { command: 'attack' }), AdvxError);
  assert.ok(performance.now() - start < 1000);
  const r = spawnSync(process.execPath, [BIN, ...ATTACK, '--out', '/proc/x'], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.error, undefined, 'did not hang');
  refused(r, /--out \/proc\/x: cannot create \/proc\/x/);
  tried('run folder', 2); // /proc/x and /proc/x/y/z
});

test('--out naming a file, or a folder inside one, is refused with one line', () => {
  const file = join(tmp, 'a-file');
  writeFileSync(file, 'keep');
  refused(advx([...ATTACK, '--out', file]), /--out .*a-file is a file, not a folder/);
  refused(advx([...TRAIN, '--out', join(file, 'run')]), /a-file is a file, not a folder/);
  assert.equal(readFileSync(file, 'utf8'), 'keep');
  assert.throws(() => openRunFolder(join(file, 'run'), { command: 'attack' }), AdvxError);
  tried('run folder', 2); // the file, and a folder inside it
});

test('a read-only folder is refused with one line', () => {
  // Root writes anywhere: then the CLI runs as nobody, for whom the folder is read-only.
  const root = process.getuid?.() === 0;
  const cli = (args: string[]) => {
    if (!root) return advx(args);
    const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 120_000, uid: 65534, gid: 65534 });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  };
  const parent = join(tmp, 'ro-parent');
  const ro = join(parent, 'ro');
  mkdirSync(ro, { recursive: true });
  chmodSync(tmp, 0o755);
  chmodSync(parent, 0o755);
  chmodSync(ro, 0o555);
  try {
    if (!root) {
      assert.throws(() => openRunFolder(ro, { command: 'attack' }), /not writable/);
      assert.throws(() => openRunFolder(join(ro, 'run'), { command: 'attack' }), /permission denied/);
    }
    refused(cli([...ATTACK, '--out', ro]), /--out .*ro is not writable \(permission denied\)/);
    refused(cli([...ATTACK, '--out', join(ro, 'run')]), /cannot create a folder in .*ro \(permission denied\)/);
    assert.deepEqual(readdirSync(ro), []);
    tried('run folder', 2); // the read-only folder, and a folder inside it
  } finally {
    chmodSync(ro, 0o755);
    chmodSync(tmp, 0o700);
  }
});

test('missing levels are created one at a time; an empty folder is used and marked', () => {
  const deep = join(tmp, 'new', 'a', 'b');
  const run = openRunFolder(deep, { command: 'demo' });
  assert.ok(existsSync(join(deep, RUN_MARKER)) && existsSync(join(deep, RUN_LOCK)));
  run.release();
  const empty = join(tmp, 'empty');
  mkdirSync(empty);
  openRunFolder(empty, { command: 'transfer' }).release();
  assert.deepEqual(readdirSync(empty), [RUN_MARKER]);
});

test('every command that writes --out refuses a folder advx did not write, with one line', () => {
  const out = join(tmp, 'foreign');
  mkdirSync(out);
  writeFileSync(join(out, 'mine.txt'), 'mine');
  const before = snapshot(out);
  const commands = [
    ['robustness', '--model', 'models/mnist-cnn', '--attacks', 'fgsm', '--eps', '0.1', '--limit', '4'],
    ['transfer', '--models', 'models/mnist-cnn,models/mnist-robust', '--attack', 'fgsm', '--limit', '4'],
    ['text-attack', '--model', 'models/spam-word', '--limit', '1'],
    ['demo', '--limit', '4'],
    ['adapt', '--epochs', '1', '--limit', '200'],
    ['gan', 'train', '--steps', '1', '--limit', '200'],
  ];
  for (const args of commands) refused(advx([...args, '--out', out]), /--out .* holds files advx did not write: choose a new or empty folder/);
  assert.deepEqual(changedOutside(before, snapshot(out)), []);
  tried('run folder', commands.length);
});

test('gan sample --out names a file: not empty, not a folder, not under /proc', () => {
  const folder = join(tmp, 'a-folder');
  mkdirSync(folder);
  assert.throws(() => checkOutFile(''), /--out must name a file/);
  assert.throws(() => checkOutFile(folder), /is a folder: name the file to write/);
  const start = performance.now();
  if (existsSync('/proc/self')) assert.throws(() => checkOutFile('/proc/x/grid.png'), AdvxError);
  assert.ok(performance.now() - start < 1000);
  assert.equal(checkOutFile(join(folder, 'new', 'grid.png')), join(folder, 'new', 'grid.png'));
  refused(advx(['gan', 'sample', '--model', 'models/dcgan-mnist', '--n', '4', '--out', folder]), /is a folder/);
  assert.deepEqual(readdirSync(folder), ['new']);
  tried('run folder', existsSync('/proc/self') ? 3 : 2); // '', a folder, and a file under /proc
});

test("a killed run's half-written temporary files: a folder holding only them counts as empty, and opening a run folder removes them (and only them)", () => {
  const dead = deadPid();
  // Killed while writing its marker: nothing else in the folder yet.
  const fresh = join(tmp, 'temps-fresh');
  mkdirSync(fresh);
  writeFileSync(join(fresh, `.advx-run.${dead}.k2x9a1b0.tmp`), '{"advx": "ru');
  openRunFolder(fresh, { command: 'attack' }).release();
  assert.deepEqual(readdirSync(fresh).sort(), [RUN_MARKER]);
  tried('run folder');

  // Killed while writing an example inside a run folder of its own.
  const marked = join(tmp, 'temps-marked');
  openRunFolder(marked, { command: 'attack' }).release();
  mkdirSync(join(marked, 'examples'));
  const half = join(marked, 'examples', `.0000-original-7-100pct.png.${dead}.2rl8t1rf.tmp`);
  writeFileSync(half, 'half a png');
  // A user's file that only looks alike is not advx's.
  const lookalike = join(marked, 'examples', 'notes.1234.tmp');
  writeFileSync(lookalike, 'mine');
  const run = openRunFolder(marked, { command: 'attack' });
  run.release();
  assert.ok(!existsSync(half), 'the stale temporary file is still there');
  assert.ok(existsSync(lookalike), "a file not of advx's pattern was removed");
  tried('run folder');
});
