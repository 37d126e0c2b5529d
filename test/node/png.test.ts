import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, test } from 'node:test';
import { PNG } from 'pngjs';
import { AdvxError } from '../../src/core/errors.ts';
import { writeFileAtomic } from '../../src/node/io/files.ts';
import { encodePng, imageGrid } from '../../src/node/io/png.ts';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'advx-png-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));

describe('encodePng', () => {
  test('grayscale, RGB and RGBA bytes round trip', () => {
    const w = 5;
    const h = 3;
    for (const channels of [1, 3, 4] as const) {
      const pixels = Uint8Array.from({ length: w * h * channels }, (_, i) => (i * 37) % 256);
      const png = PNG.sync.read(encodePng(pixels, w, h, channels));
      assert.equal(png.width, w);
      assert.equal(png.height, h);
      for (let p = 0; p < w * h; p++) {
        const rgba = Array.from(png.data.subarray(4 * p, 4 * p + 4));
        const src = Array.from(pixels.subarray(p * channels, (p + 1) * channels));
        const want = channels === 1 ? [src[0], src[0], src[0], 255] : channels === 3 ? [...src, 255] : src;
        assert.deepEqual(rgba, want, `channels ${channels}, pixel ${p}`);
      }
    }
  });

  test('floats are scaled, rounded and clamped', () => {
    const pixels = Float32Array.from([0, 1, 0.5, -0.2, 1.7, NaN, 1 / 255, 0.999]);
    const png = PNG.sync.read(encodePng(pixels, 4, 2, 1));
    const gray = Array.from({ length: 8 }, (_, p) => png.data[4 * p]);
    assert.deepEqual(gray, [0, 255, 128, 0, 255, 0, 1, 255]);
  });

  test('size mismatch is an AdvxError', () => {
    assert.throws(() => encodePng(new Uint8Array(10), 2, 2, 3), AdvxError);
    assert.throws(() => encodePng(new Uint8Array(0), 0, 0, 1), AdvxError);
  });
});

describe('imageGrid', () => {
  test('layout and padding', () => {
    // 5 images of 2×3×1, image k filled with k/10, in 3 columns with pad 1 of value 1.
    const images = new Float32Array(5 * 6);
    for (let k = 0; k < 5; k++) images.fill(k / 10, k * 6, (k + 1) * 6);
    images[6] = 0.55; // image 1, row 0, col 0
    const g = imageGrid(images, 5, 2, 3, 1, 3);
    assert.equal(g.width, 3 * 4 + 1);
    assert.equal(g.height, 2 * 3 + 1);
    assert.equal(g.channels, 1);
    const at = (x: number, y: number) => g.pixels[y * g.width + x];
    assert.equal(at(0, 0), 1);
    assert.equal(at(1, 1), 0);
    assert.equal(at(5, 1), Math.fround(0.55));
    assert.equal(at(6, 2), Math.fround(0.1));
    assert.equal(at(4, 1), 1, 'padding between columns');
    assert.equal(at(1, 4), Math.fround(0.3), 'second row, first column is image 3');
    assert.equal(at(9, 5), 1, 'empty last cell keeps the pad value');
    assert.equal(at(1, 3), 1, 'padding between rows');
    // Fewer images than columns: the grid narrows.
    assert.equal(imageGrid(images, 2, 2, 3, 1, 8, 0).width, 6);
    const rgb = imageGrid(new Float32Array(4 * 4 * 3).fill(0.25), 4, 2, 2, 3, 2, 2, 0);
    assert.equal(rgb.pixels.length, rgb.width * rgb.height * 3);
    assert.equal(rgb.width, 2 * 4 + 2);
    const png = PNG.sync.read(encodePng(rgb.pixels, rgb.width, rgb.height, 3));
    assert.equal(png.width, 10);
    assert.throws(() => imageGrid(images, 6, 2, 3, 1, 3), AdvxError);
  });
});

describe('writeFileAtomic', () => {
  test('creates folders, writes, overwrites, leaves no temporary file', () => {
    const dir = path.join(root, 'a', 'b');
    const file = path.join(dir, 'out.json');
    writeFileAtomic(file, '{"v":1}');
    assert.equal(fs.readFileSync(file, 'utf8'), '{"v":1}');
    const bytes = encodePng(new Uint8Array([0, 128, 255, 64]), 2, 2, 1);
    writeFileAtomic(file, bytes);
    assert.deepEqual(fs.readFileSync(file), bytes);
    assert.deepEqual(fs.readdirSync(dir), ['out.json']);
  });

  test('a failed rename removes the temporary file', () => {
    const dir = path.join(root, 'c');
    fs.mkdirSync(path.join(dir, 'taken'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'taken', 'x'), 'x');
    assert.throws(() => writeFileAtomic(path.join(dir, 'taken'), 'data'));
    assert.deepEqual(fs.readdirSync(dir), ['taken']);
  });
});
