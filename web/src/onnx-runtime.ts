/**
 * An uploaded ONNX file run by ONNX Runtime Web as a black box: any op ONNX Runtime runs, those
 * advx's importer lacks included; scores and labels only, so score- and decision-based attacks.
 * The model is the CLI's `--runtime onnxruntime` one (src/models/onnx-runtime.ts) with its info
 * decided by the same onnxInfo as the importer's, so the page's predictions are the CLI's.
 *
 * This module is loaded by a dynamic import (models.ts) when a file needs it, so ONNX Runtime's
 * script and its 15 MB .wasm cost nothing to a lab that never runs it. The .wasm is bundled into
 * web/dist and served by the lab itself (no CDN: the CSP allows only 'self'); the single-threaded
 * build runs without cross-origin isolation and without workers, as the TF.js wasm backend does.
 */
import * as ort from 'onnxruntime-web/wasm';
import type { SavedInfo } from '../../src/models/advx-info.ts';
import { onnxInfo } from '../../src/models/load.ts';
import { OnnxSessionModel, type Ort } from '../../src/models/onnx-runtime.ts';
import { decodeModel } from '../../src/models/onnx/proto.ts';

// The .wasm is not bundled (15 MB in every installed advx): `advx lab` serves it from the installed
// onnxruntime-web, of the version whose JavaScript is bundled here.
const WASM_URL = new URL(`vendor/onnxruntime-web/ort-wasm-simd-threaded.wasm?v=${ort.env.versions.web}`, document.baseURI).href;
ort.env.wasm.wasmPaths = { wasm: WASM_URL };
ort.env.wasm.numThreads = 1;
ort.env.wasm.proxy = false;

/** The ONNX file's bytes in an ONNX Runtime Web session, its info from `saved` (its advx.json) as the importer decides it. */
export async function openOnnxWeb(bytes: Uint8Array, saved: SavedInfo, where: string, infoPath: string): Promise<OnnxSessionModel> {
  await checkWasm();
  const graph = decodeModel(bytes, where);
  return OnnxSessionModel.load(ort as unknown as Ort, bytes, graph, where, (probed) => onnxInfo(where, graph, saved, {}, (i) => probed(i) as number[] | undefined, infoPath).info, {
    inputShape: saved.inputShape,
    session: { executionProviders: ['wasm'], graphOptimizationLevel: 'all' },
  });
}

let wasmChecked: Promise<void> | undefined;

/** The server's reason, when it cannot serve the .wasm (onnxruntime-web missing, or another version), instead of ONNX Runtime's own "failed to load". */
function checkWasm(): Promise<void> {
  wasmChecked ??= fetch(WASM_URL, { method: 'HEAD' }).then(async (r) => {
    if (r.ok) return;
    wasmChecked = undefined;
    const reason = await fetch(WASM_URL)
      .then((g) => g.json() as Promise<{ error?: string }>)
      .then((j) => j.error)
      .catch(() => undefined);
    throw new Error(reason ?? `ONNX Runtime Web's .wasm file is missing (${WASM_URL}: HTTP ${r.status})`);
  });
  return wasmChecked;
}
