/**
 * WebGPU in Node through Dawn (the `webgpu` npm package). In a browser, TF.js finds navigator.gpu itself.
 * TF.js's backend, `@tensorflow/tfjs-backend-webgpu`, is an optional peer, found as webgl.ts finds
 * its own: registered by the app, else imported by a specifier bundlers leave alone.
 */
import * as tf from '@tensorflow/tfjs-core';
import { AdvxError } from '../core/errors.ts';
import { unbundledImport } from './node-only.ts';

export async function installWebGpu(): Promise<void> {
  const g = globalThis as { navigator?: { gpu?: unknown } };
  if (!g.navigator?.gpu) {
    let dawn: { create: (flags: string[]) => unknown; globals: object };
    try {
      dawn = (await unbundledImport('webgpu')) as typeof dawn;
    } catch (e) {
      throw new AdvxError(`backend "webgpu" in Node needs the package "webgpu" (Dawn): npm install webgpu (${(e as Error).message})`);
    }
    Object.assign(globalThis, dawn.globals);
    Object.defineProperty(globalThis, 'navigator', { value: { gpu: dawn.create([]) }, configurable: true, writable: true });
  }
  const gpu = (globalThis as unknown as { navigator: { gpu: { requestAdapter(): Promise<unknown> } } }).navigator.gpu;
  const adapter = await gpu.requestAdapter().catch(() => null);
  if (!adapter) throw new AdvxError('backend "webgpu": no GPU adapter found on this machine (use --backend wasm or cpu)');
  if (tf.findBackendFactory('webgpu')) return;
  await unbundledImport(WEBGPU_PACKAGE).catch(() => undefined);
  if (!tf.findBackendFactory('webgpu')) throw new AdvxError(`backend "webgpu" needs the package ${WEBGPU_PACKAGE}: npm install ${WEBGPU_PACKAGE}@${tf.version_core}`);
}

export const WEBGPU_PACKAGE = '@tensorflow/tfjs-backend-webgpu';
