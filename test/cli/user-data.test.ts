/** `--data PATH`: the user's own images through the CLI. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadDataset } from '../../src/node/datasets/index.ts';
import { encodePng } from '../../src/node/io/png.ts';
import { advx, lastJson } from '../helpers/cli.ts';

const tmp = mkdtempSync(join(tmpdir(), 'advx-user-data-'));
const MODEL = 'models/mnist-cnn';
const N = 20;

/** The first N MNIST test images as 28×28 grey PNGs: in class folders, and flat. PNG keeps uint8 exactly. */
function mnistFolders(): { classes: string; flat: string } {
  const test = loadDataset('mnist', { limit: { train: 0, test: N } }).test;
  const classes = join(tmp, 'classes');
  const flat = join(tmp, 'flat');
  mkdirSync(flat, { recursive: true });
  for (let i = 0; i < N; i++) {
    const bytes = Uint8Array.from(test.images.subarray(i * 784, (i + 1) * 784), (v) => Math.round(v * 255));
    const png = encodePng(bytes, 28, 28, 1);
    mkdirSync(join(classes, String(test.labels[i])), { recursive: true });
    writeFileSync(join(classes, String(test.labels[i]), `${String(i).padStart(3, '0')}.png`), png);
    writeFileSync(join(flat, `${String(i).padStart(3, '0')}.png`), png);
  }
  return { classes, flat };
}

const { classes, flat } = mnistFolders();

test('advx attack --data <class folders of MNIST PNGs>: the built-in mnist\'s clean accuracy, most flipped', () => {
  const args = ['attack', '--model', MODEL, '--attack', 'pgd', '--eps', '0.3', '--limit', String(N), '--json'];
  const mine = advx([...args, '--data', classes]);
  assert.equal(mine.status, 0, mine.stderr);
  const builtIn = advx([...args, '--data', 'mnist']);
  assert.equal(builtIn.status, 0, builtIn.stderr);
  const [a, b] = [lastJson(mine.stdout), lastJson(builtIn.stdout)];
  assert.equal(a.count, N);
  assert.equal(a.clean_accuracy, b.clean_accuracy);
  assert.equal(a.labels, undefined);
  assert.ok((a.success_rate as number) > 0.5, `success ${a.success_rate}`);
});

test('advx evaluate --data <flat folder>: labelled by the model, said on stderr and in the JSON', () => {
  const r = advx(['evaluate', '--model', MODEL, '--data', flat, '--json']);
  assert.equal(r.status, 0, r.stderr);
  const out = lastJson(r.stdout);
  assert.equal(out.labels, 'model predictions');
  assert.equal(out.accuracy, 1);
  assert.equal(out.count, N);
  assert.match(r.stderr, /no labels .* model's own predictions/);
});

test('a finished shard on --data PATH is kept while its files are the same, and run again once an image is edited', () => {
  const data = join(tmp, 'editable');
  cpSync(classes, data, { recursive: true });
  const out = join(tmp, 'shard');
  const args = ['robustness', '--model', MODEL, '--data', data, '--attacks', 'fgsm', '--eps', '0.1', '--limit', String(N), '--batch', '5', '--shard', '0/2', '--out', out, '--json'];
  const config = () => JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')) as Record<string, unknown>;
  const first = advx(args);
  assert.equal(first.status, 0, first.stderr);
  const hash = config().dataSha256;
  assert.match(String(hash), /^[0-9a-f]{64}$/);
  const again = advx(args);
  assert.equal(again.status, 0, again.stderr);
  assert.match(again.stderr, /has already finished with the same options, model and data: kept/);
  // Another image of the same class in place of the first (same name, other pixels): another run.
  const [cls, name] = [String(loadDataset('mnist', { limit: { train: 0, test: N } }).test.labels[0]), '000.png'];
  const other = readFileSync(join(flat, '001.png'));
  writeFileSync(join(data, cls, name), other);
  const edited = advx(args);
  assert.equal(edited.status, 0, edited.stderr);
  assert.doesNotMatch(edited.stderr, /already finished/);
  assert.notEqual(config().dataSha256, hash);
});

test('advx attack --data <bad input>: one line, exit code 2, before any work', () => {
  const empty = join(tmp, 'empty');
  mkdirSync(empty);
  const csv = join(tmp, 'bad.csv');
  writeFileSync(csv, 'path,label\nclasses/7/000.png,7\nclasses/7/zzz.png,7\n');
  const letters = join(tmp, 'letters');
  mkdirSync(join(letters, 'A'), { recursive: true });
  writeFileSync(join(letters, 'A', 'a.png'), encodePng(new Uint8Array(4), 2, 2, 1));
  for (const [data, pattern] of [
    [empty, /no images found in .*empty/],
    [csv, /bad\.csv row 3: image .*zzz\.png does not exist/],
    [letters, /class folders A of .*letters are not among the model's classes/],
    [join(tmp, 'nowhere'), /nowhere does not exist/],
  ] as const) {
    const r = advx(['attack', '--model', MODEL, '--data', data, '--limit', '2', '--out', join(tmp, 'run')]);
    assert.equal(r.status, 2, r.stderr);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, pattern);
  }
  assert.equal(existsSync(join(tmp, 'run')), false, 'refused before the run folder was made');
});
