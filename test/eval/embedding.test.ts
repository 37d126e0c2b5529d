import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { PNG } from 'pngjs';
import { setup, tensorCounts } from '../helpers/backend.ts';
import { AdvxError } from '../../src/core/errors.ts';
import { Rng } from '../../src/core/rng.ts';
import { twoMoons } from '../../src/data/toy2d.ts';
import { decisionGrid } from '../../src/eval/decision-grid.ts';
import { pca2, tsne2 } from '../../src/eval/embedding.ts';
import { Classifier } from '../../src/models/classifier.ts';
import { svgToPng } from '../../src/node/io/svg-png.ts';
import { points as seriesPoints, size } from '../report/chart-svg.ts';
import { decisionBoundarySvg, scatterSvg } from '../../src/report/scatter.ts';

before(() => setup());

function isAdvxError(message: RegExp) {
  return (err: unknown) => err instanceof AdvxError && message.test(err.message);
}

function centred(x: Float32Array, n: number, dim: number): Float64Array {
  const out = new Float64Array(x);
  for (let c = 0; c < dim; c++) {
    let mean = 0;
    for (let i = 0; i < n; i++) mean += out[i * dim + c] / n;
    for (let i = 0; i < n; i++) out[i * dim + c] -= mean;
  }
  return out;
}

/** The oracle: all eigenvectors of a small symmetric matrix by plain Jacobi rotations (columns of v), largest first. */
function eigen(a0: Float64Array, m: number): { values: number[]; vectors: number[][] } {
  const a = Float64Array.from(a0);
  const v = new Float64Array(m * m).map((_, i) => (i % (m + 1) === 0 ? 1 : 0));
  for (let sweep = 0; sweep < 60; sweep++) {
    let off = 0;
    for (let p = 0; p < m; p++) for (let q = p + 1; q < m; q++) off = Math.max(off, Math.abs(a[p * m + q]));
    if (off < 1e-13 * Math.abs(a[0])) break;
    for (let p = 0; p < m; p++) {
      for (let q = p + 1; q < m; q++) {
        if (Math.abs(a[p * m + q]) < 1e-300) continue;
        const phi = 0.5 * Math.atan2(2 * a[p * m + q], a[q * m + q] - a[p * m + p]);
        const [c, s] = [Math.cos(phi), Math.sin(phi)];
        for (const [mat, rows] of [[a, true], [a, false], [v, false]] as const) {
          for (let k = 0; k < m; k++) {
            const [i, j] = rows ? [p * m + k, q * m + k] : [k * m + p, k * m + q];
            const [x, y] = [mat[i], mat[j]];
            mat[i] = c * x - s * y;
            mat[j] = s * x + c * y;
          }
        }
      }
    }
  }
  const order = Array.from({ length: m }, (_, i) => i).sort((i, j) => a[j * m + j] - a[i * m + i]);
  return { values: order.map((i) => a[i * m + i]), vectors: order.map((j) => Array.from({ length: m }, (_, k) => v[k * m + j])) };
}

/** Projections on the oracle's top two eigenvectors of the scatter matrix, signs aligned to `like`. */
function directPca(x: Float32Array, n: number, dim: number, like: Float32Array): Float64Array {
  const xc = centred(x, n, dim);
  const s = new Float64Array(dim * dim);
  for (let r = 0; r < dim; r++) for (let c = 0; c < dim; c++) for (let i = 0; i < n; i++) s[r * dim + c] += xc[i * dim + r] * xc[i * dim + c];
  const { vectors } = eigen(s, dim);
  const out = new Float64Array(2 * n);
  for (let j = 0; j < 2; j++) {
    for (let i = 0; i < n; i++) for (let c = 0; c < dim; c++) out[2 * i + j] += xc[i * dim + c] * vectors[j][c];
    let dot = 0;
    for (let i = 0; i < n; i++) dot += out[2 * i + j] * like[2 * i + j];
    if (dot < 0) for (let i = 0; i < n; i++) out[2 * i + j] *= -1;
  }
  return out;
}

function gaussian(rng: Rng, n: number, dim: number, scale = 1): Float32Array {
  return Float32Array.from({ length: n * dim }, () => scale * rng.normal());
}

test('PCA recovers the long axis of an anisotropic Gaussian', () => {
  const [n, dim] = [2000, 6];
  const rng = new Rng(1);
  const axis = [1, -2, 0.5, 3, 0, -1];
  const len = Math.hypot(...axis);
  const x = gaussian(rng, n, dim);
  for (let i = 0; i < n; i++) {
    const z = 5 * rng.normal();
    for (let c = 0; c < dim; c++) x[i * dim + c] += 10 + (z * axis[c]) / len; // an offset, to check the centring
  }
  const y = pca2(x, n, dim);
  assert.equal(y.length, 2 * n);
  // The first axis is Xcᵀ·y₀ normalised, since Xcᵀ·Xc·v = λv.
  const xc = centred(x, n, dim);
  const v = new Float64Array(dim);
  for (let i = 0; i < n; i++) for (let c = 0; c < dim; c++) v[c] += xc[i * dim + c] * y[2 * i];
  const cos = Math.abs(v.reduce((a, vc, c) => a + vc * axis[c], 0)) / Math.hypot(...v) / len;
  assert.ok(cos > 0.995, `|cos| between the first axis and the true one: ${cos}`);
  let [var0, var1, cov] = [0, 0, 0];
  for (let i = 0; i < n; i++) [var0, var1, cov] = [var0 + y[2 * i] ** 2 / n, var1 + y[2 * i + 1] ** 2 / n, cov + (y[2 * i] * y[2 * i + 1]) / n];
  assert.ok(Math.abs(var0 - 26) < 3 && Math.abs(var1 - 1) < 0.2, `variances ${var0}, ${var1}`);
  assert.ok(Math.abs(cov) < 1e-3 * var0, 'uncorrelated components');
});

test('PCA matches a direct eigen decomposition, through XᵀX (n ≥ dim) and XXᵀ (n < dim)', () => {
  const rng = new Rng(2);
  // Small cases are solved in one Krylov basis; the larger ones need restarts.
  for (const [n, dim] of [[40, 5], [9, 14], [200, 80], [70, 90]]) {
    const x = gaussian(rng, n, dim);
    for (let i = 0; i < n * dim; i++) x[i] *= 1 + (i % dim); // distinct variances per dimension
    const y = pca2(x, n, dim);
    const want = directPca(x, n, dim, y);
    const scale = Math.max(...want.map(Math.abs));
    const err = Math.max(...Array.from(y, (v, i) => Math.abs(v - want[i])));
    assert.ok(err < 1e-4 * scale, `n=${n}, dim=${dim}: max difference ${err} (scale ${scale})`);
    assert.deepEqual(pca2(x, n, dim), y, 'deterministic');
  }
  // A single dimension: the second component is zero.
  assert.deepEqual(Array.from(pca2(new Float32Array([3, 2, 1]), 3, 1)), [1, 0, 0, 0, -1, 0]);
});

/** Three Gaussian blobs, centres far apart, labels 0, 1, 2 in turn. */
function blobs(n: number, dim: number, seed: number): { x: Float32Array; labels: number[] } {
  const rng = new Rng(seed);
  const centres = gaussian(rng, 3, dim, 4);
  const x = gaussian(rng, n, dim);
  const labels = Array.from({ length: n }, (_, i) => i % 3);
  for (let i = 0; i < n; i++) for (let c = 0; c < dim; c++) x[i * dim + c] += centres[labels[i] * dim + c];
  return { x, labels };
}

/** Share of points whose nearest neighbour in the 2-D embedding has the same label. */
function neighbourAgreement(y: Float32Array, labels: number[]): number {
  let same = 0;
  for (let i = 0; i < labels.length; i++) {
    let [best, arg] = [Infinity, -1];
    for (let j = 0; j < labels.length; j++) {
      const d = (y[2 * i] - y[2 * j]) ** 2 + (y[2 * i + 1] - y[2 * j + 1]) ** 2;
      if (j !== i && d < best) [best, arg] = [d, j];
    }
    if (labels[arg] === labels[i]) same++;
  }
  return same / labels.length;
}

test('t-SNE separates three blobs in 20-D, and is deterministic per seed', () => {
  const { x, labels } = blobs(150, 20, 3);
  const y = tsne2(x, 150, 20, { seed: 1 });
  assert.equal(y.length, 300);
  assert.ok(y.every(Number.isFinite));
  const agree = neighbourAgreement(y, labels);
  assert.ok(agree >= 0.95, `nearest-neighbour label agreement ${agree}`);
  assert.deepEqual(tsne2(x, 150, 20, { seed: 1 }), y, 'same seed, same embedding');
  assert.notDeepEqual(tsne2(x, 150, 20, { seed: 2, iterations: 50 }), tsne2(x, 150, 20, { seed: 1, iterations: 50 }));
});

test('t-SNE of wide features (reduced by PCA first, through XXᵀ since n < dim) still separates the blobs', () => {
  const { x, labels } = blobs(120, 300, 4);
  const y = tsne2(x, 120, 300, { seed: 0, perplexity: 20, iterations: 300 });
  assert.ok(neighbourAgreement(y, labels) >= 0.95);
});

/** Every element opened is closed, in order (a cheap well-formedness check beside resvg's parser). */
function balanced(svg: string): boolean {
  const stack: string[] = [];
  for (const [, close, name, self] of svg.matchAll(/<(\/?)([a-zA-Z][\w-]*)[^>]*?(\/?)>/g)) {
    if (self) continue;
    if (!close) stack.push(name);
    else if (stack.pop() !== name) return false;
  }
  return stack.length === 0;
}

function render(svg: string): PNG {
  return PNG.sync.read(svgToPng(svg, 1));
}

test('scatterSvg: well-formed SVG with a legend, escaped text, one path per group', () => {
  const rng = new Rng(5);
  const points = gaussian(rng, 60, 2);
  const groups = [
    { label: 'source <MNIST> & co', color: '#1f77b4', indices: Array.from({ length: 30 }, (_, i) => i) },
    { label: "target 'M'", color: '#d62728', indices: Int32Array.from({ length: 30 }, (_, i) => 30 + i), marker: 'cross' as const },
  ];
  const svg = scatterSvg(points, groups, { title: 'features <before> DANN', width: 500, height: 400 });
  // The 19-character label needs more than the usual 150 px legend column: the picture widens.
  const [width, height] = size(svg);
  assert.equal(height, 400);
  assert.ok(width > 500 && width < 560, `width ${width}`);
  assert.ok(scatterSvg(points, groups.map((g) => ({ ...g, label: 'short' })), { title: 't', width: 500 }).includes('width="500"'));
  assert.ok(balanced(svg));
  assert.ok(svg.includes('source &lt;MNIST&gt; &amp; co') && svg.includes('target &#39;M&#39;') && svg.includes('features &lt;before&gt; DANN'));
  assert.ok(!svg.includes('<MNIST>') && !svg.includes('<before>'));
  assert.deepEqual(seriesPoints(svg), [30, 30], '30 circles and 30 crosses');
  assert.equal(svg.match(/d="M-1 -1L1 1M1 -1L-1 1"/g)?.length, 30, "the target group drawn as crosses");
  const png = render(svg);
  assert.deepEqual([png.width, png.height], [width, 400]);
  assert.throws(() => scatterSvg(points, [{ label: 'x', color: 'red', indices: [60] }], { title: 't' }), isAdvxError(/index 60 is out of range for 60 points/));
  assert.throws(() => scatterSvg(new Float32Array(3), groups, { title: 't' }), isAdvxError(/x, y pairs/));
  assert.throws(() => scatterSvg(new Float32Array([0, NaN]), [{ label: 'x', color: 'red', indices: [0] }], { title: 't' }), isAdvxError(/non-finite/));
});

test('decisionBoundarySvg: shading on the right sides (y up), a contour at 0.5, points on top', () => {
  const xs = Float32Array.from({ length: 41 }, (_, i) => -2 + i * 0.1);
  const ys = Float32Array.from({ length: 31 }, (_, i) => -1.5 + i * 0.1);
  // P(class 1) = 1 in the upper half (y > 0), 0 below.
  const prob = Float32Array.from({ length: 31 * 41 }, (_, k) => 1 / (1 + Math.exp(-20 * ys[Math.floor(k / 41)])));
  const points = new Float32Array([-1, 1, 1, -1]);
  const groups = [{ label: 'source & target', color: 'black', indices: [0, 1] }];
  const svg = decisionBoundarySvg({ xs, ys, prob }, points, groups, { title: 'moons', width: 500, height: 400, classNames: ['upper <0>', 'lower'] });
  assert.ok(balanced(svg));
  assert.ok(svg.includes('source &amp; target') && svg.includes('upper &lt;0&gt;') && svg.includes('P = 0.5'));
  assert.ok(/<path d="(M[\d.]+ [\d.]+L[\d.]+ [\d.]+)+" fill="none" pointer-events="visible" stroke="#222"/.test(svg), 'a contour path');
  const png = render(svg);
  const pixel = (x: number, y: number) => Array.from(png.data.subarray(4 * (y * png.width + x), 4 * (y * png.width + x) + 3));
  // Plot area: x 64..350, y 40..348; y = 0 is its vertical middle.
  const [r1, , b1] = pixel(120, 60);
  const [r0, , b0] = pixel(120, 330);
  assert.ok(r1 > b1 + 60, `upper half red: ${pixel(120, 60)}`);
  assert.ok(b0 > r0 + 60, `lower half blue: ${pixel(120, 330)}`);
  // Rows of one shade meet without a seam (cells ~9.9 px high: fractional edges, anti-aliased, let the background through).
  const column = Array.from({ length: 110 }, (_, i) => pixel(120, 45 + i).join(','));
  assert.deepEqual([...new Set(column)], [column[0]], 'one colour down the top rows');
  assert.throws(() => decisionBoundarySvg({ xs, ys, prob: prob.subarray(1) }, points, groups, { title: 't' }), isAdvxError(/ny·nx/));
  assert.throws(() => decisionBoundarySvg({ xs: xs.slice().reverse(), ys, prob }, points, groups, { title: 't' }), isAdvxError(/increasing/));
  assert.throws(() => decisionBoundarySvg({ xs, ys, prob: prob.map(() => NaN) }, points, groups, { title: 't' }), isAdvxError(/probability/));
});

/** A logistic classifier of 2-D points fed as [batch, 1, 1, 2]: P(class 1) = σ(2x − y + 0.5). */
function logistic(): Classifier {
  const forward = (x: tf.Tensor) =>
    tf.tidy(() => {
      const z = tf.add(tf.matMul(tf.reshape(x, [-1, 2]), tf.tensor2d([[2], [-1]])), 0.5);
      return tf.concat([tf.zerosLike(z), z], 1);
    });
  return new Classifier(forward, { inputShape: [1, 1, 2], numClasses: 2, bounds: [-5, 5] });
}

test('decisionGrid: P(class 1) on the grid, row by row, with no tensor leak', async () => {
  const classifier = logistic();
  const counts = await tensorCounts(async () => {
    await decisionGrid(classifier, [-1, 2, 0, 1], [7, 5], { batchSize: 8 });
  });
  assert.equal(new Set(counts).size, 1, `tensor counts ${counts}`);
  const grid = await decisionGrid(classifier, [-1, 2, 0, 1], [7, 5], { batchSize: 8 });
  assert.deepEqual([grid.xs.length, grid.ys.length, grid.prob.length], [7, 5, 35]);
  assert.deepEqual([grid.xs[0], grid.xs[6], grid.ys[0], grid.ys[4]], [-1, 2, 0, 1]);
  for (let iy = 0; iy < 5; iy++) {
    for (let ix = 0; ix < 7; ix++) {
      const want = 1 / (1 + Math.exp(-(2 * grid.xs[ix] - grid.ys[iy] + 0.5)));
      assert.ok(Math.abs(grid.prob[iy * 7 + ix] - want) < 1e-5, `(${ix}, ${iy})`);
    }
  }
  // The moons picture end to end.
  const moons = twoMoons(100, { seed: 0 });
  const square = await decisionGrid(classifier, [-1.5, 2.5, -1, 1.5], 60);
  const idx = (label: number) => Array.from(moons.labels.keys()).filter((i) => moons.labels[i] === label);
  const svg = decisionBoundarySvg(square, moons.points, [
    { label: 'upper', color: '#1f77b4', indices: idx(0) },
    { label: 'lower', color: '#d62728', indices: idx(1), marker: 'cross' },
  ], { title: 'logistic on moons' });
  assert.ok(balanced(svg) && render(svg).width === 640);
});

test('decisionGrid and the embeddings: bad inputs are AdvxErrors', async () => {
  const classifier = logistic();
  const start = tf.memory().numTensors;
  await assert.rejects(decisionGrid(classifier, [1, -1, 0, 1], 10), isAdvxError(/bounds/));
  await assert.rejects(decisionGrid(classifier, [-1, 1, 0, 1], 1), isAdvxError(/steps/));
  await assert.rejects(decisionGrid(classifier, [-1, 1, 0, 1], 10, { classIndex: 2 }), isAdvxError(/classIndex/));
  const wide = new Classifier((x) => tf.slice(tf.reshape(x, [-1, 3]), [0, 0], [-1, 2]), { inputShape: [3], numClasses: 2, bounds: [0, 1] });
  await assert.rejects(decisionGrid(wide, [-1, 1, 0, 1], 10), isAdvxError(/2-D points/));
  assert.equal(tf.memory().numTensors, start);

  const x = new Float32Array(40 * 4);
  assert.throws(() => pca2(x, 40, 3), isAdvxError(/160 values, expected n·dim = 40·3 = 120/));
  assert.throws(() => pca2(new Float32Array(4), 1, 4), isAdvxError(/at least 2 points/));
  x[7] = NaN;
  assert.throws(() => pca2(x, 40, 4), isAdvxError(/NaN at point 1, dimension 3/));
  assert.throws(() => tsne2(x, 40, 4, { seed: 0 }), isAdvxError(/NaN/));
  x[7] = 0;
  assert.throws(() => tsne2(x, 40, 4, { seed: 0 }), isAdvxError(/perplexity 30 needs at least 3·perplexity \+ 1 = 91 points, got n=40/));
  assert.throws(() => tsne2(x, 40, 4, { seed: 0, perplexity: 5, iterations: 0 }), isAdvxError(/iterations/));
  assert.throws(() => tsne2(x, 40, 4, { seed: 0, perplexity: -1 }), isAdvxError(/perplexity/));
});
