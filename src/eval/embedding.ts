/**
 * 2-D embeddings of feature vectors, to draw source vs target features before and after domain
 * adaptation: PCA and exact t-SNE (van der Maaten & Hinton 2008) on plain typed arrays, so the
 * lab and the CLI draw the same picture without TF.js. Features are row-major n×dim; outputs are
 * n×2 (x0, y0, x1, y1, ...). Exact t-SNE costs O(n²) per iteration: fine up to ~1500 points.
 */
import { AdvxError } from '../core/errors.ts';
import { symmetricEigen } from '../core/linalg.ts';
import { Rng } from '../core/rng.ts';

function checkFeatures(features: Float32Array, n: number, dim: number, what: string): void {
  if (!Number.isInteger(n) || n < 2) throw new AdvxError(`${what} needs at least 2 points, got n=${n}`);
  if (!Number.isInteger(dim) || dim < 1) throw new AdvxError(`${what}: feature dimension must be a positive integer, got ${dim}`);
  if (features.length !== n * dim) {
    throw new AdvxError(`${what}: features hold ${features.length} values, expected n·dim = ${n}·${dim} = ${n * dim}`);
  }
  for (let i = 0; i < features.length; i++) {
    if (!Number.isFinite(features[i])) {
      throw new AdvxError(`${what}: features contain ${features[i]} at point ${Math.floor(i / dim)}, dimension ${i % dim}`);
    }
  }
}

/** a·v for a symmetric m×m matrix (row-major), read in order. */
function times(a: Float64Array, m: number, v: Float64Array): Float64Array {
  const out = new Float64Array(m);
  for (let r = 0; r < m; r++) {
    const vr = v[r];
    if (vr === 0) continue;
    for (let c = 0; c < m; c++) out[c] += vr * a[r * m + c];
  }
  return out;
}

function dot(x: Float64Array, y: Float64Array): number {
  let d = 0;
  for (let c = 0; c < x.length; c++) d += x[c] * y[c];
  return d;
}

/** Makes v a unit vector orthogonal to the basis (Gram–Schmidt, twice for accuracy); false when v lies in its span. */
function orthogonalize(v: Float64Array, basis: Float64Array[]): boolean {
  const before = Math.sqrt(dot(v, v));
  if (before === 0) return false;
  for (let pass = 0; pass < 2; pass++) {
    for (const b of basis) {
      const d = dot(v, b);
      for (let c = 0; c < v.length; c++) v[c] -= d * b[c];
    }
  }
  const after = Math.sqrt(dot(v, v));
  if (after <= 1e-9 * before) return false;
  for (let c = 0; c < v.length; c++) v[c] /= after;
  return true;
}

/**
 * Top-k eigenpairs of a symmetric m×m matrix by restarted block Krylov (block Lanczos) iteration:
 * a block of k + 5 vectors and its powers a·V, a²·V, ... span a basis, Rayleigh–Ritz on it gives
 * the next block. This is power iteration that keeps its history, so close eigenvalues (isotropic
 * features) converge in tens of products rather than hundreds. The start block is a fixed
 * pseudo-random one: deterministic. Returns the eigenvalues and the eigenvectors as rows.
 */
function topEigen(a: Float64Array, m: number, k: number, rounds: number, tol: number): { values: Float64Array; vectors: Float64Array[] } {
  const p = Math.min(m, k + 5);
  const depth = Math.max(2, Math.floor(64 / p));
  const rng = new Rng(0x2d1f);
  let block: Float64Array[] = Array.from({ length: p }, () => Float64Array.from({ length: m }, () => rng.normal()));
  let ritz: Float64Array[] = [];
  let values = new Float64Array(k);
  for (let round = 0; round < rounds; round++) {
    const q: Float64Array[] = [];
    const aq: Float64Array[] = [];
    for (let d = 0; d < depth && block.length > 0; d++) {
      const next: Float64Array[] = [];
      for (const v of block) {
        if (!orthogonalize(v, q)) continue;
        q.push(v);
        const av = times(a, m, v);
        aq.push(av);
        next.push(Float64Array.from(av));
      }
      block = next;
    }
    const s = q.length;
    const h = new Float64Array(s * s);
    for (let i = 0; i < s; i++) {
      for (let j = i; j < s; j++) h[i * s + j] = h[j * s + i] = (dot(aq[i], q[j]) + dot(aq[j], q[i])) / 2;
    }
    const eig = symmetricEigen(h, s, { tolerance: 1e-30, zeroRotated: false });
    const order = Array.from({ length: s }, (_, i) => i).sort((x, y) => eig.values[y] - eig.values[x]).slice(0, p);
    const combine = (rows: Float64Array[], col: number) => {
      const out = new Float64Array(m);
      rows.forEach((row, j) => {
        const e = eig.vectors[j * s + col];
        for (let c = 0; c < m; c++) out[c] += e * row[c];
      });
      return out;
    };
    ritz = order.map((col) => combine(q, col));
    const aritz = order.map((col) => combine(aq, col));
    values = Float64Array.from({ length: k }, (_, i) => (i < order.length ? eig.values[order[i]] : 0));
    // Converged when each wanted pair has a small residual |a·v − λv| relative to λ₁. Vectors in a
    // cluster of near-equal eigenvalues may still turn, but their projections then carry the
    // same variance, which is all a picture needs.
    let residual = 0;
    for (let i = 0; i < Math.min(k, ritz.length); i++) {
      let r = 0;
      for (let c = 0; c < m; c++) r += (aritz[i][c] - values[i] * ritz[i][c]) ** 2;
      residual = Math.max(residual, Math.sqrt(r));
    }
    if (residual <= tol * Math.abs(values[0])) break;
    block = ritz.map((v) => Float64Array.from(v));
  }
  while (ritz.length < k) ritz.push(new Float64Array(m)); // rank-deficient: the missing axes carry no variance
  return { values, vectors: ritz.slice(0, k) };
}

/**
 * Projections (n×k) of the centred points on their top-k principal axes. The eigenproblem is
 * solved on the smaller of the scatter matrix XᵀX (dim×dim) and the Gram matrix XXᵀ (n×n): both
 * give the same projections, Xv = √λ·u. Each axis's sign makes its largest projection positive.
 */
function project(features: Float32Array, n: number, dim: number, k: number, rounds: number, tol: number): Float64Array {
  const x = new Float64Array(features);
  for (let c = 0; c < dim; c++) {
    let mean = 0;
    for (let i = 0; i < n; i++) mean += x[i * dim + c];
    mean /= n;
    for (let i = 0; i < n; i++) x[i * dim + c] -= mean;
  }
  const gram = n < dim;
  const m = gram ? n : dim;
  const kk = Math.min(k, m);
  const a = new Float64Array(m * m);
  if (gram) {
    for (let r = 0; r < m; r++) {
      for (let c = r; c < m; c++) {
        let d = 0;
        for (let j = 0; j < dim; j++) d += x[r * dim + j] * x[c * dim + j];
        a[r * m + c] = d;
      }
    }
  } else {
    // Row by row (outer products), so memory is read in order.
    for (let i = 0; i < n; i++) {
      const xi = x.subarray(i * dim, (i + 1) * dim);
      for (let r = 0; r < m; r++) {
        const xr = xi[r];
        if (xr === 0) continue;
        for (let c = r; c < m; c++) a[r * m + c] += xr * xi[c];
      }
    }
  }
  for (let r = 0; r < m; r++) for (let c = r + 1; c < m; c++) a[c * m + r] = a[r * m + c];
  const { values, vectors } = topEigen(a, m, kk, rounds, tol);
  const out = new Float64Array(n * k);
  for (let j = 0; j < kk; j++) {
    const vj = vectors[j];
    const scale = Math.sqrt(Math.max(values[j], 0));
    for (let i = 0; i < n; i++) {
      let d = 0;
      if (gram) d = vj[i] * scale;
      else for (let c = 0; c < dim; c++) d += x[i * dim + c] * vj[c];
      out[i * k + j] = d;
    }
    let big = 0;
    for (let i = 0; i < n; i++) if (Math.abs(out[i * k + j]) > Math.abs(big)) big = out[i * k + j];
    if (big < 0) for (let i = 0; i < n; i++) out[i * k + j] = 0 - out[i * k + j]; // 0 − v: no −0
  }
  return out;
}

/** The n points projected on their first two principal axes (n×2); deterministic. */
export function pca2(features: Float32Array, n: number, dim: number): Float32Array {
  checkFeatures(features, n, dim, 'PCA');
  return Float32Array.from(project(features, n, dim, 2, 50, 1e-7));
}

export interface TsneOptions {
  seed: number;
  /** Effective number of neighbours; n must be at least 3·perplexity + 1. Default 30. */
  perplexity?: number;
  /** Gradient steps; the first half (at most 250) use early exaggeration. Default 500. */
  iterations?: number;
  /** Default max(n / exaggeration / 4, 50), as scikit-learn's 'auto' (Belkina et al. 2019). */
  learningRate?: number;
  /** Factor on P during the early phase, which lets clusters form before they settle. Default 12. */
  exaggeration?: number;
}

/** Symmetric input affinities P (n×n), each row's bandwidth set by binary search to match the perplexity. */
function affinities(x: Float64Array, n: number, dim: number, perplexity: number): Float64Array {
  const dist = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      let d = 0;
      for (let c = 0; c < dim; c++) d += (x[i * dim + c] - x[j * dim + c]) ** 2;
      dist[i * n + j] = d;
      dist[j * n + i] = d;
    }
  }
  const target = Math.log(perplexity);
  const cond = new Float64Array(n * n);
  const row = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    // Distances shifted by the row's minimum: the same P and entropy, without exp underflow.
    let min = Infinity;
    let mean = 0;
    for (let j = 0; j < n; j++) {
      if (j === i) continue;
      min = Math.min(min, dist[i * n + j]);
      mean += dist[i * n + j];
    }
    mean = mean / (n - 1) - min;
    let beta = mean > 0 ? 1 / mean : 1;
    let lo = 0;
    let hi = Infinity;
    let sum = 0;
    for (let tries = 0; tries < 100; tries++) {
      sum = 0;
      let weighted = 0;
      for (let j = 0; j < n; j++) {
        const d = j === i ? 0 : dist[i * n + j] - min;
        row[j] = j === i ? 0 : Math.exp(-beta * d);
        sum += row[j];
        weighted += d * row[j];
      }
      const entropy = Math.log(sum) + (beta * weighted) / sum;
      const diff = entropy - target;
      if (Math.abs(diff) < 1e-5) break;
      if (diff > 0) {
        lo = beta;
        beta = hi === Infinity ? beta * 2 : (beta + hi) / 2;
      } else {
        hi = beta;
        beta = (beta + lo) / 2;
      }
    }
    for (let j = 0; j < n; j++) cond[i * n + j] = row[j] / sum;
  }
  const p = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) if (i !== j) p[i * n + j] = Math.max((cond[i * n + j] + cond[j * n + i]) / (2 * n), 1e-12);
  }
  return p;
}

/**
 * Exact t-SNE to 2-D (n×2). Features wider than 50 are first reduced to their top 50 principal
 * components, as is customary, which also makes the O(n²·dim) distances cheap. The optimisation
 * is the reference one: early exaggeration, momentum 0.5 then 0.8, per-coordinate gains.
 * The same seed gives the same embedding.
 */
export function tsne2(features: Float32Array, n: number, dim: number, options: TsneOptions): Float32Array {
  checkFeatures(features, n, dim, 't-SNE');
  const { seed, perplexity = 30, iterations = 500, exaggeration = 12 } = options;
  if (!Number.isFinite(seed)) throw new AdvxError(`t-SNE needs a numeric seed, got ${seed}`);
  if (!(perplexity > 0) || !Number.isFinite(perplexity)) throw new AdvxError(`t-SNE perplexity must be a positive number, got ${perplexity}`);
  if (n - 1 < 3 * perplexity) {
    throw new AdvxError(`t-SNE with perplexity ${perplexity} needs at least 3·perplexity + 1 = ${Math.ceil(3 * perplexity + 1)} points, got n=${n}: lower the perplexity`);
  }
  if (!Number.isInteger(iterations) || iterations < 1) throw new AdvxError(`t-SNE iterations must be a positive integer, got ${iterations}`);
  if (!(exaggeration >= 1) || !Number.isFinite(exaggeration)) throw new AdvxError(`t-SNE exaggeration must be a number ≥ 1, got ${exaggeration}`);
  const eta = options.learningRate ?? Math.max(n / exaggeration / 4, 50);
  if (!(eta > 0) || !Number.isFinite(eta)) throw new AdvxError(`t-SNE learning rate must be a positive number, got ${eta}`);

  const reduced = dim > 50 ? 50 : dim;
  const x = dim > 50 ? project(features, n, dim, reduced, 5, 1e-3) : new Float64Array(features);
  const p = affinities(x, n, reduced, perplexity);

  const rng = new Rng(seed);
  const y = new Float64Array(2 * n).map(() => 1e-4 * rng.normal());
  const update = new Float64Array(2 * n);
  const gains = new Float64Array(2 * n).fill(1);
  const grad = new Float64Array(2 * n);
  const attract = new Float64Array(2 * n);
  const repel = new Float64Array(2 * n);
  const early = Math.min(250, Math.floor(iterations / 2));
  for (let it = 0; it < iterations; it++) {
    const ex = it < early ? exaggeration : 1;
    const momentum = it < early ? 0.5 : 0.8;
    // One pass over the pairs: with q = 1/(1+|yi−yj|²) and Z = Σq, the gradient is
    // 4·Σ (ex·p·q − q²/Z)(yi − yj), so sum the attractive and repulsive parts apart and divide at the end.
    attract.fill(0);
    repel.fill(0);
    let sumQ = 0;
    for (let i = 0; i < n; i++) {
      const xi = y[2 * i];
      const yi = y[2 * i + 1];
      let ax = 0;
      let ay = 0;
      let rx = 0;
      let ry = 0;
      for (let j = i + 1; j < n; j++) {
        const dx = xi - y[2 * j];
        const dy = yi - y[2 * j + 1];
        const q = 1 / (1 + dx * dx + dy * dy);
        sumQ += 2 * q;
        const a = ex * p[i * n + j] * q;
        const r = q * q;
        ax += a * dx;
        ay += a * dy;
        rx += r * dx;
        ry += r * dy;
        attract[2 * j] -= a * dx;
        attract[2 * j + 1] -= a * dy;
        repel[2 * j] -= r * dx;
        repel[2 * j + 1] -= r * dy;
      }
      attract[2 * i] += ax;
      attract[2 * i + 1] += ay;
      repel[2 * i] += rx;
      repel[2 * i + 1] += ry;
    }
    for (let k = 0; k < 2 * n; k++) grad[k] = 4 * (attract[k] - repel[k] / sumQ);
    let mx = 0;
    let my = 0;
    for (let k = 0; k < 2 * n; k++) {
      gains[k] = grad[k] > 0 !== update[k] > 0 ? gains[k] + 0.2 : Math.max(gains[k] * 0.8, 0.01);
      update[k] = momentum * update[k] - eta * gains[k] * grad[k];
      y[k] += update[k];
      if (k % 2 === 0) mx += y[k];
      else my += y[k];
    }
    for (let i = 0; i < n; i++) {
      y[2 * i] -= mx / n;
      y[2 * i + 1] -= my / n;
    }
  }
  return Float32Array.from(y);
}
