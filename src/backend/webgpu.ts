/**
 * WebGPU in Node through Dawn (the `webgpu` npm package). In a browser, TF.js finds navigator.gpu itself.
 */
import { AdvxError } from '../core/errors.ts';
import { nodeOnly } from './node-only.ts';

export async function installWebGpu(): Promise<void> {
  const g = globalThis as { navigator?: { gpu?: unknown } };
  if (!g.navigator?.gpu) {
    let dawn: { create: (flags: string[]) => unknown; globals: object };
    try {
      dawn = (await nodeOnly('webgpu')) as typeof dawn;
    } catch (e) {
      throw new AdvxError(`backend "webgpu" needs the optional "webgpu" package (Dawn): ${(e as Error).message}`);
    }
    Object.assign(globalThis, dawn.globals);
    Object.defineProperty(globalThis, 'navigator', { value: { gpu: dawn.create([]) }, configurable: true, writable: true });
  }
  const gpu = (globalThis as unknown as { navigator: { gpu: { requestAdapter(): Promise<unknown> } } }).navigator.gpu;
  const adapter = await gpu.requestAdapter().catch(() => null);
  if (!adapter) throw new AdvxError('backend "webgpu": no GPU adapter found on this machine (use --backend wasm or cpu)');
  await import('@tensorflow/tfjs-backend-webgpu');
}
