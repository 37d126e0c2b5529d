/**
 * A damaged file in a run folder (config.json, a checkpoint's state.json, its weights or optimizer
 * files, a GAN's metrics.jsonl) makes `--resume` stop with exit code 2 and one line on stderr that
 * names the file and what is wrong with it: no stack trace (which would also print ~39 KB of the
 * WASM backend's minified source).
 *
 * One small finished run per command is made once; each case copies it, damages one file and
 * resumes the copy.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { advx } from '../helpers/cli.ts';
import { tried } from '../helpers/tried.ts';

const tmp = mkdtempSync(join(tmpdir(), 'advx-corrupt-'));

const COMMANDS = {
  train: ['train', '--model', 'mlp', '--data', 'mnist', '--limit', '200', '--epochs', '1', '--seed', '2', '--quiet'],
  adapt: ['adapt', '--method', 'dann', '--epochs', '1', '--limit', '64', '--target-limit', '64', '--test-limit', '50', '--batch', '32', '--embed', '20', '--no-tsne', '--seed', '2', '--quiet'],
  gan: ['gan', 'train', '--steps', '3', '--width', '8', '--batch', '8', '--limit', '64', '--seed', '2', '--checkpoint-every', '3', '--sample-every', '3', '--quiet'],
} as const;
type Command = keyof typeof COMMANDS;

const base = (command: Command) => join(tmp, `${command}-base`);

before(() => {
  for (const command of Object.keys(COMMANDS) as Command[]) {
    const r = advx([...COMMANDS[command], '--out', base(command)]);
    assert.equal(r.status, 0, `${command}: ${r.stderr}`);
  }
});

/** Damages: replaces the file's text, or keeps only the first part of its bytes. */
const text = (content: string) => (file: string) => writeFileSync(file, content);
const truncate = (file: string) => {
  const b = readFileSync(file);
  writeFileSync(file, b.subarray(0, Math.floor(b.length / 2)));
};
const appendLine = (line: string) => (file: string) => writeFileSync(file, readFileSync(file, 'utf8') + line + '\n');
/**
 * A checkpoint holds the metrics rows it was taken with, and a resume rewrites metrics.jsonl from
 * them; one from before checkpoints held them (no `history`) makes the resume read metrics.jsonl.
 */
const inOldRun = (damage: (file: string) => void) => (file: string) => {
  const stateFile = join(dirname(file), 'checkpoint', 'state.json');
  const { history: _h, ...state } = JSON.parse(readFileSync(stateFile, 'utf8'));
  writeFileSync(stateFile, JSON.stringify(state));
  damage(file);
};

const CASES: Array<{ command: Command; file: string; damage: (file: string) => void; message: RegExp }> = [
  { command: 'train', file: 'config.json', damage: text('{"model": "mlp", '), message: /config\.json is not valid JSON: repair it or delete the run folder$/ },
  { command: 'train', file: 'config.json', damage: text('[1, 2, 3]'), message: /config\.json does not hold a run's options/ },
  { command: 'train', file: 'checkpoint/state.json', damage: text('{"epoch": 1, "hist'), message: /checkpoint\/state\.json is not valid JSON: delete the run folder or resume from a whole checkpoint$/ },
  { command: 'train', file: 'checkpoint/state.json', damage: text('{"history": []}'), message: /checkpoint\/state\.json holds no checkpoint state/ },
  { command: 'train', file: 'checkpoint/optimizer.json', damage: text('[{"name": "iter", "sh'), message: /checkpoint\/optimizer\.json is not valid JSON/ },
  { command: 'train', file: 'checkpoint/optimizer.json', damage: text('{"weights": 3}'), message: /checkpoint\/optimizer\.json is not a list of weights/ },
  { command: 'train', file: 'checkpoint/optimizer.bin', damage: truncate, message: /checkpoint\/optimizer\.bin holds \d+ bytes, expected \d+/ },
  { command: 'train', file: 'checkpoint/model/model.json', damage: text('{"modelTopology": '), message: /checkpoint\/model\/model\.json is not valid JSON/ },
  { command: 'train', file: 'checkpoint/model/weights.bin', damage: truncate, message: /checkpoint\/model\/weights\.bin holds \d+ bytes, expected \d+/ },
  { command: 'adapt', file: 'config.json', damage: text('{"method": '), message: /config\.json is not valid JSON/ },
  { command: 'adapt', file: 'checkpoint/weights.bin', damage: truncate, message: /checkpoint\/weights\.bin holds \d+ bytes, expected \d+: delete the run folder or resume from a whole checkpoint$/ },
  { command: 'adapt', file: 'checkpoint/weights.json', damage: text('[{"name": "w0", '), message: /checkpoint\/weights\.json is not valid JSON/ },
  { command: 'adapt', file: 'checkpoint/optimizer.bin', damage: truncate, message: /checkpoint\/optimizer\.bin holds \d+ bytes, expected \d+/ },
  { command: 'gan', file: 'metrics.jsonl', damage: inOldRun(appendLine('{"step": 4, "d_lo')), message: /metrics\.jsonl: line 4 is not valid JSON/ },
  { command: 'gan', file: 'metrics.jsonl', damage: inOldRun(appendLine('[]')), message: /metrics\.jsonl: line 4 is not a metrics row/ },
  { command: 'gan', file: 'config.json', damage: text('{"arch": "dcgan", '), message: /config\.json is not valid JSON/ },
  { command: 'gan', file: 'checkpoint/state.json', damage: text(''), message: /checkpoint\/state\.json is not valid JSON/ },
  { command: 'gan', file: 'checkpoint/optimizer.bin', damage: truncate, message: /checkpoint\/optimizer\.bin holds \d+ bytes, expected \d+/ },
];

CASES.forEach(({ command, file, damage, message }, i) => {
  test(`${command} --resume, damaged ${file}, says "${message.source.replace(/\\d\+/g, 'N').replace(/\\|\$$/g, '')}": exit 2, one line`, () => {
    const dir = join(tmp, `${command}-${i}`);
    cpSync(base(command), dir, { recursive: true });
    damage(join(dir, file));
    const r = advx([...COMMANDS[command], '--out', dir, '--resume']);
    assert.equal(r.status, 2, r.stderr.slice(0, 2000));
    const lines = r.stderr.replace(/\x1b\[[0-9;]*m/g, '').trim().split('\n');
    assert.equal(lines.length, 1, r.stderr.slice(0, 2000));
    assert.ok(lines[0].includes(join(dir, file)), `names ${join(dir, file)}: ${lines[0]}`);
    assert.match(lines[0], message);
    assert.doesNotMatch(r.stderr, /\bat .*:\d+:\d+|Error:/, 'no stack trace');
    tried('damaged file');
  });
});

test('a damaged metrics.jsonl beside a checkpoint that holds its rows is rewritten from them on --resume', () => {
  for (const command of ['train', 'gan'] as const) {
    const dir = join(tmp, `${command}-metrics-repaired`);
    cpSync(base(command), dir, { recursive: true });
    appendLine('{"step": 4, "d_lo')(join(dir, 'metrics.jsonl'));
    const r = advx([...COMMANDS[command], '--out', dir, '--resume']);
    assert.equal(r.status, 0, r.stderr.slice(0, 2000));
    assert.equal(readFileSync(join(dir, 'metrics.jsonl'), 'utf8'), readFileSync(join(base(command), 'metrics.jsonl'), 'utf8'));
    tried('damaged file');
  }
});
