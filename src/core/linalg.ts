/**
 * Small dense linear algebra in float64 on plain typed arrays (isomorphic, no TF.js): used where
 * matrices are small (d ≲ a few hundred) and accuracy matters more than speed, e.g. FID's matrix
 * square root (src/gan/metrics.ts) and PCA's Rayleigh–Ritz step (src/eval/embedding.ts).
 */

export interface SymmetricEigenOptions {
  /**
   * Stop when the squared off-diagonal mass is at most this fraction of the squared Frobenius
   * norm; default 1e-22.
   */
  tolerance?: number;
  /** At most this many sweeps; default 100. */
  maxSweeps?: number;
  /**
   * Set each rotated pair a_pq, a_qp to exactly 0 (default true) rather than to the rounding
   * residue the rotation leaves there. Either converges; false is how src/eval/embedding.ts
   * always ran, and keeps its PCA and t-SNE output bit-for-bit as before.
   */
  zeroRotated?: boolean;
}

/**
 * Eigen-decomposition of a symmetric matrix a [d, d] (row-major, not modified) by cyclic Jacobi
 * rotations: a = V diag(λ) Vᵀ, the eigenvectors in V's columns (row-major d×d), eigenvalues in no
 * particular order. Converges quadratically; stops when the off-diagonal mass is below
 * `tolerance` of the total (or after `maxSweeps` sweeps).
 */
export function symmetricEigen(a: Float64Array, d: number, options: SymmetricEigenOptions = {}): { values: Float64Array; vectors: Float64Array } {
  const { tolerance = 1e-22, maxSweeps = 100, zeroRotated = true } = options;
  const m = Float64Array.from(a);
  const v = new Float64Array(d * d);
  for (let i = 0; i < d; i++) v[i * d + i] = 1;
  let total = 0;
  for (let i = 0; i < d * d; i++) total += m[i] * m[i];
  for (let sweep = 0; sweep < maxSweeps; sweep++) {
    let off = 0;
    for (let p = 0; p < d; p++) for (let q = p + 1; q < d; q++) off += m[p * d + q] * m[p * d + q];
    if (off <= tolerance * total || off === 0) break;
    for (let p = 0; p < d - 1; p++) {
      for (let q = p + 1; q < d; q++) {
        const apq = m[p * d + q];
        if (apq === 0) continue;
        const app = m[p * d + p];
        const aqq = m[q * d + q];
        const theta = (aqq - app) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        // A ← Jᵀ A J on rows/columns p and q.
        for (let k = 0; k < d; k++) {
          const akp = m[k * d + p];
          const akq = m[k * d + q];
          m[k * d + p] = c * akp - s * akq;
          m[k * d + q] = s * akp + c * akq;
        }
        for (let k = 0; k < d; k++) {
          const apk = m[p * d + k];
          const aqk = m[q * d + k];
          m[p * d + k] = c * apk - s * aqk;
          m[q * d + k] = s * apk + c * aqk;
        }
        if (zeroRotated) {
          m[p * d + q] = 0;
          m[q * d + p] = 0;
        }
        for (let k = 0; k < d; k++) {
          const vkp = v[k * d + p];
          const vkq = v[k * d + q];
          v[k * d + p] = c * vkp - s * vkq;
          v[k * d + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  const values = new Float64Array(d);
  for (let i = 0; i < d; i++) values[i] = m[i * d + i];
  return { values, vectors: v };
}
