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
import wasm from 'onnxruntime-web/ort-wasm-simd-threaded.wasm?url';
import type { SavedInfo } from '../../src/models/advx-info.ts';
import { onnxInfo } from '../../src/models/load.ts';
import { OnnxSessionModel, type Ort } from '../../src/models/onnx-runtime.ts';
import { decodeModel } from '../../src/models/onnx/proto.ts';

ort.env.wasm.wasmPaths = { wasm };
ort.env.wasm.numThreads = 1;
ort.env.wasm.proxy = false;

/** The ONNX file's bytes in an ONNX Runtime Web session, its info from `saved` (its advx.json) as the importer decides it. */
export function openOnnxWeb(bytes: Uint8Array, saved: SavedInfo, where: string, infoPath: string): Promise<OnnxSessionModel> {
  const graph = decodeModel(bytes, where);
  return OnnxSessionModel.load(ort as unknown as Ort, bytes, graph, where, (probed) => onnxInfo(where, graph, saved, {}, (i) => probed(i) as number[] | undefined, infoPath).info, {
    inputShape: saved.inputShape,
    session: { executionProviders: ['wasm'], graphOptimizationLevel: 'all' },
  });
}
