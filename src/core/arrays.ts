/** Plain typed-array helpers (isomorphic, no TF.js). */

/** The parts one after the other in one array (e.g. rows of a matrix read back batch by batch). */
export function concatFloat32(parts: readonly Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
