/** WASM backend set-up: advx's gradient kernels, registered before the backend is first used. */
import type { BackendOptions } from './index.ts';
import '@tensorflow/tfjs-backend-wasm';
import { registerWasmGradientKernels } from './kernels/index.ts';

let installed = false;

export async function installWasm(_options: BackendOptions): Promise<void> {
  if (installed) return;
  installed = true;
  registerWasmGradientKernels();
  // Kernels and threading are added here (src/backend/kernels, src/backend/wasm-threads.ts).
}
