/**
 * Turns on relaxed SIMD for the CLI's own process where the engine has it behind a flag (Node 20:
 * --experimental-wasm-relaxed-simd), so that the native kernels load their fused multiply-add
 * build. V8 reads the flag when it validates a module, so setting it at run time works as long as
 * it comes before the kernels are first compiled (the backend starts later, in a command); no
 * re-exec of node is needed. ADVX_RELAXED_SIMD=0 leaves it off (the plain SIMD kernels).
 */
import { setFlagsFromString } from 'node:v8';
import { relaxedSimdAllowed, relaxedSimdAvailable } from '../backend/relaxed-simd.ts';

export function enableRelaxedSimd(): void {
  if (!relaxedSimdAllowed() || relaxedSimdAvailable()) return;
  try {
    setFlagsFromString('--experimental-wasm-relaxed-simd');
  } catch {
    // an engine without the flag: the plain kernels
  }
}
