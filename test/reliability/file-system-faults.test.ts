/**
 * File-system faults in the middle of a run: a disk that fills up while a checkpoint, a report or
 * a result is written. Each command stops with one line naming the file and the cause (exit code
 * 1: the input was fine, the machine was not), leaves no half-written or temporary file, keeps
 * the last whole checkpoint, and a resumed or repeated run then finishes. The full disk is
 * simulated by test/helpers/disk-full.mjs, preloaded into the CLI's process.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BIN } from '../helpers/cli.ts';
import { tried } from '../helpers/tried.ts';
import { hasCheckpoint } from '../../src/node/io/checkpoint.ts';

const tmp = mkdtempSync(join(tmpdir(), 'advx-fs-faults-'));
const DISK_FULL = fileURLToPath(new URL('../helpers/disk-full.mjs', import.meta.url));

/** Runs the CLI with writes to paths matching `full` failing with ENOSPC (none when undefined). */
function advxOnDisk(args: string[], full?: string) {
  const r = spawnSync(process.execPath, ['--import', DISK_FULL, BIN, ...args], {
    encoding: 'utf8',
    timeout: 300_000,
    env: { ...process.env, ADVX_TEST_DISK_FULL: full ?? '$^' },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function filesUnder(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) {
        out.push(relative(dir, p) + '/');
        walk(p);
      } else out.push(relative(dir, p));
    }
  };
  if (existsSync(dir)) walk(dir);
  return out;
}

interface Case {
  label: string;
  args: string[];
  /** The file whose write fails: a regular expression over its path, OUT standing for the run folder. */
  full: string;
  /** What the one line must name. */
  names: RegExp;
  resume: boolean;
  /** Whether a checkpoint must survive the failure. */
  keepsCheckpoint?: boolean;
}

const TRAIN = ['train', '--model', 'mlp', '--data', 'mnist', '--limit', '200', '--epochs', '2', '--batch', '32', '--seed', '1', '--quiet'];
const CASES: Case[] = [
  { label: 'train: the marker of a new run folder', args: TRAIN, full: 'OUT/\\.advx-run$', names: /\.advx-run/, resume: true },
  { label: 'train: its config', args: TRAIN, full: 'config\\.json', names: /config\.json/, resume: true },
  { label: 'train: a checkpoint', args: TRAIN, full: 'checkpoint\\.tmp', names: /checkpoint\.tmp/, resume: true },
  { label: 'train: the metrics after the first checkpoint', args: TRAIN, full: 'metrics\\.jsonl', names: /metrics\.jsonl/, resume: true, keepsCheckpoint: true },
  { label: 'train: the model', args: TRAIN, full: 'OUT/model/weights\\.bin$', names: /model\/weights\.bin/, resume: true },
  { label: 'train: the report', args: TRAIN, full: 'report\\.html', names: /report\.html/, resume: true },
  {
    label: 'adapt: a checkpoint',
    args: ['adapt', '--method', 'dann', '--epochs', '2', '--limit', '64', '--target-limit', '64', '--test-limit', '50', '--batch', '16', '--embed', '20', '--no-tsne', '--seed', '1', '--quiet'],
    full: 'checkpoint\\.tmp', names: /checkpoint\.tmp/, resume: true,
  },
  {
    label: 'gan train: a sample grid',
    args: ['gan', 'train', '--steps', '4', '--width', '8', '--batch', '16', '--limit', '100', '--seed', '1', '--sample-every', '2', '--quiet'],
    full: '\\.png', names: /\.png/, resume: true,
  },
  { label: 'attack: an example image', args: ['attack', '--model', 'models/mnist-cnn', '--attack', 'fgsm', '--limit', '8', '--images', '2'], full: 'examples/', names: /examples\//, resume: false },
  { label: 'attack: its results', args: ['attack', '--model', 'models/mnist-cnn', '--attack', 'fgsm', '--limit', '8', '--images', '2'], full: 'results\\.json', names: /results\.json/, resume: false },
  { label: 'robustness: its curve', args: ['robustness', '--model', 'models/mnist-cnn', '--attacks', 'fgsm', '--eps', '0.1', '--limit', '8'], full: 'curve\\.svg', names: /curve\.svg/, resume: false },
];

CASES.forEach((c, i) => {
  test(`a full disk while ${c.label} is written: one line, nothing half-written, and the run then finishes`, () => {
    const out = join(tmp, `case-${i}`);
    const failed = advxOnDisk([...c.args, '--out', out], c.full.replace('OUT', out.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
    assert.equal(failed.status, 1, `exit code ${failed.status}: ${failed.stderr}`);
    // Progress lines may come before; the error is one line, the last, with no stack trace.
    const lines = failed.stderr.trim().split('\n');
    assert.equal(lines.filter((l) => l.includes('advx:')).length, 1, failed.stderr);
    assert.ok(!/^\s+at /m.test(failed.stderr), failed.stderr);
    assert.match(lines.at(-1)!, /no space left on the device \(ENOSPC\)/);
    assert.match(lines.at(-1)!, c.names);
    const left = filesUnder(out);
    assert.deepEqual(left.filter((f) => /\.tmp(\/|$)/.test(f)), [], `temporary files left: ${left.join(', ')}`);
    if (c.keepsCheckpoint) assert.ok(hasCheckpoint(out), `the last checkpoint is gone: ${left.join(', ')}`);
    const again = advxOnDisk([...c.args, '--out', out, ...(c.resume ? ['--resume'] : [])]);
    assert.equal(again.status, 0, again.stderr);
    tried('full disk');
  });
});
