/**
 * WebGL, TF.js's GPU backend in browsers, from `@tensorflow/tfjs-backend-webgl`: an optional peer
 * the app installs and imports itself. A literal import here would make every bundler fail on apps
 * without it (Vite: "failed to resolve import"), so advx only looks for the registered backend,
 * and otherwise tries an import that bundlers leave alone (it works in pages served unbundled, with
 * an import map).
 */
import * as tf from '@tensorflow/tfjs-core';
import { AdvxError } from '../core/errors.ts';
import { unbundledImport } from './node-only.ts';

export const WEBGL_PACKAGE = '@tensorflow/tfjs-backend-webgl';

export async function installWebGl(): Promise<void> {
  if (tf.findBackendFactory('webgl')) return;
  await unbundledImport(WEBGL_PACKAGE).catch(() => undefined);
  if (tf.findBackendFactory('webgl')) return;
  throw new AdvxError(`backend "webgl" needs the package ${WEBGL_PACKAGE}: install it (npm install ${WEBGL_PACKAGE}@${tf.version_core}) and import it once in your app (import '${WEBGL_PACKAGE}') before useBackend('webgl')`);
}
