import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { AdvxError } from '../../src/core/errors.ts';
import { gridOfGaussians, ringOfGaussians, rotate, twoMoons, type Toy2d } from '../../src/data/toy2d.ts';

/** Per-mode mean distance to the centre along each axis, and the pooled std around the centres. */
function modeStats(d: Toy2d): { counts: number[]; std: number; maxMeanOffset: number } {
  const centers = d.centers!;
  const modes = centers.length / 2;
  const counts = new Array<number>(modes).fill(0);
  const sum = new Float64Array(modes * 2);
  let sq = 0;
  const n = d.labels.length;
  for (let i = 0; i < n; i++) {
    const m = d.labels[i];
    const dx = d.points[2 * i] - centers[2 * m];
    const dy = d.points[2 * i + 1] - centers[2 * m + 1];
    counts[m]++;
    sum[2 * m] += dx;
    sum[2 * m + 1] += dy;
    sq += dx * dx + dy * dy;
  }
  let maxMeanOffset = 0;
  for (let m = 0; m < modes; m++) {
    maxMeanOffset = Math.max(maxMeanOffset, Math.abs(sum[2 * m] / counts[m]), Math.abs(sum[2 * m + 1] / counts[m]));
  }
  return { counts, std: Math.sqrt(sq / (2 * n)), maxMeanOffset };
}

describe('toy 2-D data', () => {
  test('same seed, same data; other seed, other data', () => {
    for (const make of [
      (seed: number) => twoMoons(500, { noise: 0.1, seed }),
      (seed: number) => ringOfGaussians(500, { seed }),
      (seed: number) => gridOfGaussians(500, { seed }),
    ]) {
      const a = make(1);
      const b = make(1);
      const c = make(2);
      assert.deepEqual(a.points, b.points);
      assert.deepEqual(a.labels, b.labels);
      assert.notDeepEqual(a.points, c.points);
      assert.equal(a.points.length, 1000);
      assert.equal(a.labels.length, 500);
    }
  });

  test('two moons: balanced labels, shapes of the moons', () => {
    const d = twoMoons(1001, { noise: 0, seed: 3 });
    assert.equal(d.points.length, 2002);
    assert.equal(d.centers, undefined);
    const ones = d.labels.reduce((a, b) => a + b, 0);
    assert.equal(ones, 500);
    for (let i = 0; i < 1001; i++) {
      const x = d.points[2 * i];
      const y = d.points[2 * i + 1];
      // Moon 0 lies on the unit circle (upper half); moon 1 on the circle of centre (1, 0.5) (lower half).
      const [cx, cy] = d.labels[i] === 0 ? [0, 0] : [1, 0.5];
      assert.ok(Math.abs(Math.hypot(x - cx, y - cy) - 1) < 1e-5);
      assert.ok(d.labels[i] === 0 ? y >= -1e-6 : y <= 0.5 + 1e-6);
    }
    const noisy = twoMoons(4000, { noise: 0.1, seed: 3 });
    let sq = 0;
    for (let i = 0; i < 4000; i++) {
      const [cx, cy] = noisy.labels[i] === 0 ? [0, 0] : [1, 0.5];
      sq += (Math.hypot(noisy.points[2 * i] - cx, noisy.points[2 * i + 1] - cy) - 1) ** 2;
    }
    const radialStd = Math.sqrt(sq / 4000);
    assert.ok(radialStd > 0.085 && radialStd < 0.115, `radial std ${radialStd}`);
  });

  test('ring of 8 Gaussians: radius 2, std 0.02, modes drawn evenly', () => {
    const d = ringOfGaussians(40000, { seed: 0 });
    const centers = d.centers!;
    assert.equal(centers.length, 16);
    for (let k = 0; k < 8; k++) {
      assert.ok(Math.abs(Math.hypot(centers[2 * k], centers[2 * k + 1]) - 2) < 1e-6);
      const angle = Math.atan2(centers[2 * k + 1], centers[2 * k]);
      assert.ok(Math.abs(Math.cos(angle - (2 * Math.PI * k) / 8) - 1) < 1e-6);
    }
    const s = modeStats(d);
    assert.ok(Math.abs(s.std - 0.02) < 0.0005, `std ${s.std}`);
    assert.ok(s.maxMeanOffset < 0.002, `mean offset ${s.maxMeanOffset}`);
    for (const c of s.counts) assert.ok(c > 4600 && c < 5400, `mode counts ${s.counts}`);
    const six = ringOfGaussians(100, { modes: 6, radius: 1, std: 0, seed: 0 });
    assert.equal(six.centers!.length, 12);
    for (let i = 0; i < 100; i++) assert.ok(Math.abs(Math.hypot(six.points[2 * i], six.points[2 * i + 1]) - 1) < 1e-6);
  });

  test('grid of 5×5 Gaussians at {-4,-2,0,2,4}², std 0.02', () => {
    const d = gridOfGaussians(50000, { seed: 0 });
    const centers = d.centers!;
    assert.equal(centers.length, 50);
    const xs = new Set<number>();
    const pairs = new Set<string>();
    for (let k = 0; k < 25; k++) {
      xs.add(centers[2 * k]);
      pairs.add(`${centers[2 * k]},${centers[2 * k + 1]}`);
    }
    assert.deepEqual([...xs].sort((a, b) => a - b), [-4, -2, 0, 2, 4]);
    assert.equal(pairs.size, 25);
    const s = modeStats(d);
    assert.ok(Math.abs(s.std - 0.02) < 0.0005, `std ${s.std}`);
    assert.ok(s.maxMeanOffset < 0.002, `mean offset ${s.maxMeanOffset}`);
    for (const c of s.counts) assert.ok(c > 1700 && c < 2300, `mode counts ${s.counts}`);
  });

  test('rotate', () => {
    const p = Float32Array.from([1, 0, 0, 2, -3, 1]);
    const r = rotate(p, Math.PI / 2);
    const expected = [0, 1, -2, 0, -1, -3];
    r.forEach((v, i) => assert.ok(Math.abs(v - expected[i]) < 1e-6, `${r}`));
    assert.deepEqual(p, Float32Array.from([1, 0, 0, 2, -3, 1]), 'input unchanged');
    const about = rotate(Float32Array.from([2, 1]), Math.PI, [1, 1]);
    assert.ok(Math.abs(about[0] - 0) < 1e-6 && Math.abs(about[1] - 1) < 1e-6);
    assert.throws(() => rotate(Float32Array.from([1, 2, 3]), 1), AdvxError);
  });

  test('bad options are AdvxErrors', () => {
    assert.throws(() => twoMoons(0), AdvxError);
    assert.throws(() => twoMoons(10, { noise: -1 }), AdvxError);
    assert.throws(() => ringOfGaussians(10, { modes: 0 }), AdvxError);
    assert.throws(() => gridOfGaussians(10.5), AdvxError);
  });
});
