/**
 * Relaxed SIMD (f32x4.relaxed_madd: a fused multiply-add on x86 and ARM) for advx's native
 * kernels: whether this engine has it, and whether advx may use it.
 *
 * Chrome ≥ 114 and Node ≥ 22 have it on by default; Node 20 only with
 * --experimental-wasm-relaxed-simd (the CLI turns that flag on itself, see
 * src/node/relaxed-simd.ts; a script on Node 20 gets the plain SIMD kernels unless it starts node
 * with the flag). ADVX_RELAXED_SIMD=0 in the environment forces the plain kernels.
 */

/** (v128, v128, v128) → v128 = f32x4.relaxed_madd (0xfd 0x105): valid only where relaxed SIMD is. */
const PROBE = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
  0x01, 0x08, 0x01, 0x60, 0x03, 0x7b, 0x7b, 0x7b, 0x01, 0x7b, // type: (v128 v128 v128) → v128
  0x03, 0x02, 0x01, 0x00, // function 0 of type 0
  0x0a, 0x0d, 0x01, 0x0b, 0x00, 0x20, 0x00, 0x20, 0x01, 0x20, 0x02, 0xfd, 0x85, 0x02, 0x0b, // local.get 0 1 2, relaxed_madd
]);

/** Whether this engine validates relaxed SIMD now (asked each time: a V8 flag can turn it on). */
export function relaxedSimdAvailable(): boolean {
  try {
    return typeof WebAssembly !== 'undefined' && WebAssembly.validate(PROBE);
  } catch {
    return false;
  }
}

/** False where ADVX_RELAXED_SIMD=0 (or off / false) is set: then advx uses the plain SIMD kernels. */
export function relaxedSimdAllowed(): boolean {
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env;
  const v = env?.ADVX_RELAXED_SIMD?.trim().toLowerCase();
  return !(v === '0' || v === 'off' || v === 'false' || v === 'no');
}
