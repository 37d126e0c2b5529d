import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import jpeg from 'jpeg-js';
import { AdvxError } from '../../src/core/errors.ts';
import { centerCropBox, fitImage, resizeBilinear, toChannels } from '../../src/data/image-ops.ts';
import { decodeImage, isDataPath, loadUserData, scanUserData, userDataSha256, type DataTarget } from '../../src/node/datasets/image-folder.ts';
import { encodeNpy, readNpy } from '../../src/node/datasets/npy.ts';
import { encodePng } from '../../src/node/io/png.ts';

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'advx-data-'));

/** A w×h RGB PNG whose pixels are a function of (image seed, position). */
function writeRgbPng(file: string, w: number, h: number, seed: number): Uint8Array {
  const px = Uint8Array.from({ length: w * h * 3 }, (_, i) => (i * 7 + seed * 31) % 256);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, encodePng(px, w, h, 3));
  return px;
}

/** 3 classes × 4 images of 40×30 RGB, in class folders written out of order. */
function classFolder(): string {
  const dir = tmp();
  ['cat', 'ant', 'bee'].forEach((c, k) => {
    for (let i = 0; i < 4; i++) writeRgbPng(path.join(dir, c, `img${i}.png`), 40, 30, k * 4 + i);
  });
  return dir;
}

/** The first bytes.length values of `images` are bytes / 255 exactly (the first mismatch is reported, not 3600 values). */
function sameBytes(images: Float32Array, bytes: Uint8Array): void {
  const bad = bytes.findIndex((v, i) => images[i] !== Math.fround(v / 255));
  assert.equal(bad, -1, `value ${bad}: ${images[bad]} ≠ ${bytes[bad]}/255`);
}

const target = (over: Partial<DataTarget> = {}): DataTarget => ({ shape: [30, 40, 3], numClasses: 3, ...over });

/** The AdvxError message of `fn`, checked to be one line that names `name`. */
function oneLine(fn: () => unknown, name: string): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof AdvxError, `not an AdvxError: ${(err as Error).stack}`);
    assert.ok(!err.message.includes('\n'), `more than one line: ${err.message}`);
    assert.ok(err.message.includes(name), `${JSON.stringify(err.message)} does not name ${name}`);
    return err.message;
  }
  assert.fail('no error');
}

test('class folders: sorted class order (ImageFolder), labels, pixels exact at the same size', () => {
  const dir = classFolder();
  const { data, labeled } = loadUserData(dir, target());
  assert.equal(labeled, true);
  assert.deepEqual(data.classNames, ['ant', 'bee', 'cat']);
  assert.deepEqual([...data.labels], [0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2]);
  assert.deepEqual(data.shape, [30, 40, 3]);
  // ant/img0 is the first image; ant was written second (seed 4).
  const want = writeRgbPng(path.join(tmp(), 'x.png'), 40, 30, 4);
  sameBytes(data.images, want);
  assert.equal(loadUserData(dir, target(), 5).data.count, 5);
});

test('class folders map onto the model\'s class names; a folder the model lacks is refused', () => {
  const dir = classFolder();
  const { data } = loadUserData(dir, target({ numClasses: 4, classNames: ['dog', 'cat', 'bee', 'ant'] }));
  assert.deepEqual([...data.labels], [3, 3, 3, 3, 2, 2, 2, 2, 1, 1, 1, 1]);
  assert.deepEqual(data.classNames, ['dog', 'cat', 'bee', 'ant']);
  const msg = oneLine(() => loadUserData(dir, target({ classNames: ['ant', 'bee', 'dog'] })), dir);
  assert.match(msg, /class folders cat .* not among the model's classes/);
});

test('resize: bilinear with half-pixel centers, by hand', () => {
  // 1×4 → 1×2: each output pixel is the mean of two inputs.
  const row = { data: Float32Array.from([0, 0.2, 0.6, 1]), height: 1, width: 4, channels: 1 };
  assert.deepEqual([...resizeBilinear(row, 1, 2).data].map((v) => +v.toFixed(6)), [0.1, 0.8]);
  // 1×2 → 1×4: a, ¾a+¼b, ¼a+¾b, b.
  const two = { data: Float32Array.from([0.2, 1]), height: 1, width: 2, channels: 1 };
  assert.deepEqual([...resizeBilinear(two, 1, 4).data].map((v) => +v.toFixed(6)), [0.2, 0.4, 0.8, 1]);
  // Same size: unchanged, bit for bit.
  const img = { data: Float32Array.from({ length: 12 }, (_, i) => i / 11), height: 2, width: 2, channels: 3 };
  assert.deepEqual(resizeBilinear(img, 2, 2).data, img.data);
});

test('center crop to the model\'s aspect ratio, then resize', () => {
  assert.deepEqual(centerCropBox(30, 40, 20, 20), { top: 0, left: 5, h: 30, w: 30 });
  assert.deepEqual(centerCropBox(40, 30, 10, 10), { top: 5, left: 0, h: 30, w: 30 });
  // 1×4 to 1×1: the center 1×1 of [a b c d] starts at column 1 (floor of 1.5): b.
  const row = { data: Float32Array.from([0, 0.2, 0.6, 1]), height: 1, width: 4, channels: 1 };
  assert.deepEqual([...fitImage(row, 1, 1, 1)], [Math.fround(0.2)]);
  // 1×4 to 2×4... aspect 1:2: crop 1×2 at column 1 ([0.2, 0.6]), then 2×4 upsampled.
  const fit = [...fitImage(row, 2, 4, 1)].map((v) => +v.toFixed(6));
  assert.deepEqual(fit, [0.2, 0.3, 0.5, 0.6, 0.2, 0.3, 0.5, 0.6]);
});

test('channels: RGB to grey by luminance 0.299/0.587/0.114, grey to RGB by repetition', () => {
  const rgb = { data: Float32Array.from([1, 0, 0, 10 / 255, 20 / 255, 30 / 255, 0.5, 0.5, 0.5]), height: 1, width: 3, channels: 3 };
  const grey = toChannels(rgb, 1).data;
  assert.ok(Math.abs(grey[0] - 0.299) < 1e-6);
  assert.ok(Math.abs(grey[1] - (0.299 * 10 + 0.587 * 20 + 0.114 * 30) / 255) < 1e-6);
  assert.equal(grey[2], 0.5); // a grey pixel stays exactly itself
  const back = toChannels({ data: Float32Array.from([0.25, 0.75]), height: 1, width: 2, channels: 1 }, 3).data;
  assert.deepEqual([...back], [0.25, 0.25, 0.25, 0.75, 0.75, 0.75]);
  // Through a file: a 2×1 RGB PNG loaded for a 1-channel model.
  const dir = tmp();
  fs.mkdirSync(path.join(dir, 'a'));
  fs.writeFileSync(path.join(dir, 'a', 'p.png'), encodePng(Uint8Array.from([255, 0, 0, 0, 0, 255]), 2, 1, 3));
  const { data } = loadUserData(dir, { shape: [1, 2, 1], numClasses: 1 });
  assert.ok(Math.abs(data.images[0] - 0.299) < 1e-6 && Math.abs(data.images[1] - 0.114) < 1e-6);
});

test('JPEG and grey PNG decode; mixed sizes are each resized', () => {
  const dir = tmp();
  fs.mkdirSync(path.join(dir, 'k'));
  const rgba = new Uint8Array(16 * 8 * 4).fill(200);
  fs.writeFileSync(path.join(dir, 'k', 'a.jpg'), jpeg.encode({ data: rgba, width: 16, height: 8 }, 95).data);
  fs.writeFileSync(path.join(dir, 'k', 'b.png'), encodePng(new Uint8Array(5 * 7).fill(51), 5, 7, 1));
  assert.equal(decodeImage(path.join(dir, 'k', 'b.png')).channels, 1);
  const { data } = loadUserData(dir, { shape: [4, 4, 3], numClasses: 1 });
  assert.equal(data.count, 2);
  assert.ok(data.images.subarray(0, 48).every((v) => Math.abs(v - 200 / 255) < 3 / 255));
  assert.ok(data.images.subarray(48).every((v) => v === Math.fround(0.2)));
});

test('a flat folder of images has no labels', () => {
  const dir = tmp();
  for (let i = 0; i < 3; i++) writeRgbPng(path.join(dir, `${i}.png`), 8, 8, i);
  const { data, labeled } = loadUserData(dir, target({ shape: [8, 8, 3] }));
  assert.equal(labeled, false);
  assert.equal(data.count, 3);
  assert.equal(scanUserData(dir).kind, 'flat');
});

test('CSV: header optional, relative paths, labels as names or indices', () => {
  const dir = classFolder();
  const names = path.join(dir, 'names.csv');
  fs.writeFileSync(names, 'path,label\ncat/img0.png,cat\nant/img1.png,ant\n"bee/img2.png",bee\n');
  const byName = loadUserData(names, target({ classNames: ['ant', 'bee', 'cat'] })).data;
  assert.deepEqual([...byName.labels], [2, 0, 1]);
  const noModelNames = loadUserData(names, target()).data;
  assert.deepEqual(noModelNames.classNames, ['ant', 'bee', 'cat']);
  assert.deepEqual([...noModelNames.labels], [2, 0, 1]);
  const indices = path.join(dir, 'sub', 'indices.csv');
  fs.mkdirSync(path.dirname(indices));
  fs.writeFileSync(indices, '../cat/img0.png,2\r\n../ant/img1.png,0\r\n');
  const byIndex = loadUserData(indices, target()).data;
  assert.deepEqual([...byIndex.labels], [2, 0]);
  const want = writeRgbPng(path.join(tmp(), 'x.png'), 40, 30, 0); // cat/img0
  sameBytes(byIndex.images, want);
  assert.equal(isDataPath(indices), true);
  assert.equal(isDataPath('mnist'), false);
  assert.equal(isDataPath('my-data.csv'), true);
});

/** A .npy v1 header written out by hand, as numpy.save writes it. */
function npyByHand(descr: string, shape: string, body: Uint8Array): Buffer {
  const dict = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shape}, }`;
  const header = dict.padEnd(64 * Math.ceil((10 + dict.length + 1) / 64) - 10 - 1) + '\n';
  const head = Buffer.from([0x93, ...Buffer.from('NUMPY'), 1, 0, header.length & 255, header.length >> 8]);
  return Buffer.concat([head, Buffer.from(header, 'latin1'), body]);
}

test('.npy: exact round trip of uint8 and float32 images, int64 labels, versions 1-3', () => {
  const dir = tmp();
  const x = Uint8Array.from({ length: 3 * 2 * 2 }, (_, i) => i * 20);
  fs.writeFileSync(path.join(dir, 'x.npy'), npyByHand('|u1', '(3, 2, 2)', x));
  fs.writeFileSync(path.join(dir, 'y.npy'), npyByHand('<i8', '(3,)', new Uint8Array(BigInt64Array.from([2n, 0n, 1n]).buffer)));
  const { data, labeled } = loadUserData(dir, { shape: [2, 2, 1], numClasses: 3 });
  assert.equal(labeled, true);
  assert.deepEqual([...data.labels], [2, 0, 1]);
  assert.deepEqual([...data.images], [...x].map((v) => Math.fround(v / 255)));

  const f = Float32Array.from({ length: 2 * 2 * 3 * 3 }, (_, i) => (i % 7) / 7);
  for (const version of [1, 2, 3] as const) {
    const d = tmp();
    fs.writeFileSync(path.join(d, 'x.npy'), encodeNpy('<f4', [2, 2, 3, 3], new Uint8Array(f.buffer), version));
    fs.writeFileSync(path.join(d, 'y.npy'), encodeNpy('<i4', [2], new Uint8Array(Int32Array.from([1, 0]).buffer), version));
    assert.deepEqual(readNpy(path.join(d, 'x.npy')).shape, [2, 2, 3, 3]);
    const loaded = loadUserData(d, { shape: [2, 3, 3], numClasses: 2 }).data;
    assert.deepEqual(loaded.images, f);
    assert.deepEqual([...loaded.labels], [1, 0]);
  }
});

test('userDataSha256 changes with every file a run reads (and its class), not with files it skips, nor with where the data lies', () => {
  // A folder of class folders: an image's bytes and its class folder are read; a dot file and a text file are not.
  const dir = classFolder();
  const before = userDataSha256(dir);
  assert.match(before, /^[0-9a-f]{64}$/);
  fs.writeFileSync(path.join(dir, '.DS_Store'), 'x');
  fs.writeFileSync(path.join(dir, 'cat', 'notes.txt'), 'x');
  assert.equal(userDataSha256(dir), before, 'files no run reads');
  const moved = tmp();
  fs.cpSync(dir, moved, { recursive: true });
  assert.equal(userDataSha256(moved), before, 'the same files elsewhere');
  writeRgbPng(path.join(dir, 'bee', 'img2.png'), 40, 30, 99);
  const edited = userDataSha256(dir);
  assert.notEqual(edited, before, 'an image edited');
  fs.renameSync(path.join(dir, 'bee', 'img2.png'), path.join(dir, 'ant', 'img9.png'));
  assert.notEqual(userDataSha256(dir), edited, 'an image moved to another class');

  // A CSV: its rows (a label changed) and the images it names, which lie outside the CSV.
  const csv = path.join(dir, 'sub', 'list.csv');
  fs.mkdirSync(path.dirname(csv));
  fs.writeFileSync(csv, 'path,label\n../cat/img0.png,cat\n../ant/img1.png,ant\n');
  const rows = userDataSha256(csv);
  fs.writeFileSync(csv, 'path,label\n../cat/img0.png,ant\n../ant/img1.png,ant\n');
  assert.notEqual(userDataSha256(csv), rows, 'a label changed');
  const relabelled = userDataSha256(csv);
  writeRgbPng(path.join(dir, 'ant', 'img1.png'), 40, 30, 77);
  assert.notEqual(userDataSha256(csv), relabelled, 'an image the CSV names, edited');

  // x.npy and y.npy.
  const npy = tmp();
  fs.writeFileSync(path.join(npy, 'x.npy'), npyByHand('|u1', '(2, 2, 2)', new Uint8Array(8)));
  const unlabelled = userDataSha256(npy);
  fs.writeFileSync(path.join(npy, 'y.npy'), npyByHand('|u1', '(2,)', new Uint8Array(2)));
  const labelled = userDataSha256(npy);
  assert.notEqual(labelled, unlabelled, 'labels added');
  fs.writeFileSync(path.join(npy, 'y.npy'), npyByHand('|u1', '(2,)', Uint8Array.from([0, 1])));
  assert.notEqual(userDataSha256(npy), labelled, 'a label changed');
});

test('every bad input is one line naming the file', () => {
  const empty = tmp();
  oneLine(() => loadUserData(empty, target()), empty);
  oneLine(() => loadUserData(path.join(empty, 'nope'), target()), path.join(empty, 'nope'));

  const dir = classFolder();
  const corrupt = path.join(dir, 'bee', 'zz.png');
  fs.writeFileSync(corrupt, 'not a png');
  oneLine(() => loadUserData(dir, target()), corrupt);
  const badJpeg = path.join(dir, 'bee', 'zz.png').replace('.png', '.jpg');
  fs.rmSync(corrupt);
  fs.writeFileSync(badJpeg, Buffer.from([0xff, 0xd8, 0xff, 0x00, 1, 2, 3]));
  oneLine(() => loadUserData(dir, target()), badJpeg);
  fs.rmSync(badJpeg);

  const missing = path.join(dir, 'missing.csv');
  fs.writeFileSync(missing, 'cat/img0.png,cat\ncat/gone.png,cat\n');
  assert.match(oneLine(() => loadUserData(missing, target()), `${missing} row 2`), /gone\.png does not exist/);
  const unknown = path.join(dir, 'unknown.csv');
  fs.writeFileSync(unknown, 'path,label\ncat/img0.png,cat\ncat/img1.png,dog\n');
  assert.match(oneLine(() => loadUserData(unknown, target({ classNames: ['ant', 'bee', 'cat'] })), `${unknown} row 3`), /"dog"/);
  const past = path.join(dir, 'past.csv');
  fs.writeFileSync(past, 'cat/img0.png,7\n');
  oneLine(() => loadUserData(past, target()), `${past} row 1`);

  const npy = tmp();
  fs.writeFileSync(path.join(npy, 'x.npy'), npyByHand('<i2', '(1, 2, 2)', new Uint8Array(8)));
  assert.match(oneLine(() => loadUserData(npy, target()), path.join(npy, 'x.npy')), /dtype <i2/);
  fs.writeFileSync(path.join(npy, 'x.npy'), npyByHand('|u1', '(2, 2, 2)', new Uint8Array(8)));
  fs.writeFileSync(path.join(npy, 'y.npy'), npyByHand('|u1', '(3,)', new Uint8Array(3)));
  assert.match(oneLine(() => loadUserData(npy, target()), path.join(npy, 'y.npy')), /3 labels but x\.npy has 2 images/);
  fs.writeFileSync(path.join(npy, 'y.npy'), npyByHand('<f4', '(2,)', new Uint8Array(8)));
  oneLine(() => loadUserData(npy, target()), path.join(npy, 'y.npy'));
  fs.writeFileSync(path.join(npy, 'x.npy'), npyByHand('>f4', '(2, 2, 2)', new Uint8Array(32)));
  oneLine(() => loadUserData(npy, target()), path.join(npy, 'x.npy'));
  fs.writeFileSync(path.join(npy, 'x.npy'), npyByHand('|u1', '(2, 2, 2)', new Uint8Array(7)));
  oneLine(() => loadUserData(npy, target()), path.join(npy, 'x.npy'));
});
