/**
 * An ONNX file run by onnxruntime-node (an optional peer dependency) as a black box, for
 * `--runtime onnxruntime`: the shared session model (models/onnx-runtime.ts, which the lab runs on
 * onnxruntime-web) over a file on disk, its classifier info decided as the importer decides it
 * (onnxFileInfo: net.advx.json beside the file, under the caller's override).
 */
import { AdvxError } from '../../core/errors.ts';
import type { ClassifierInfo } from '../../models/classifier.ts';
import { firstLine, OnnxSessionModel, type Ort } from '../../models/onnx-runtime.ts';
import { decodeModel } from '../../models/onnx/proto.ts';
import { onnxFileInfo, readOnnxFile } from './load-model.ts';

const NOT_INSTALLED = 'onnxruntime-node is not installed: npm install onnxruntime-node';

/** onnxruntime-node, imported on first use. */
async function loadOrt(): Promise<Ort> {
  try {
    return (await import('onnxruntime-node' as string)) as Ort;
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'ERR_MODULE_NOT_FOUND' && /'onnxruntime-node'/.test(err.message)) throw new AdvxError(NOT_INSTALLED);
    // Installed but unusable (a native library for another platform, say): the user's machine, not advx.
    throw new AdvxError(`onnxruntime-node could not be loaded: ${firstLine(err)}`);
  }
}

export interface OnnxRuntimeOptions {
  /** Overrides advx.json, as loadClassifier's override does (outputName: which output is the class vector). */
  override?: Partial<ClassifierInfo>;
  /** Most images per session run, to bound memory (default 256). */
  maxBatch?: number;
  /** Threads of ONNX Runtime's intra-op pool (default: its own choice). */
  threads?: number;
}

export class OnnxRuntimeModel extends OnnxSessionModel {
  /** The file on disk (ONNX Runtime opens the path itself, so external weight files are found). */
  get path(): string {
    return this.where;
  }

  static async open(path: string, options: OnnxRuntimeOptions = {}): Promise<OnnxRuntimeModel> {
    const ort = await loadOrt();
    const graph = decodeModel(readOnnxFile(path), path);
    const override = options.override ?? {};
    return OnnxRuntimeModel.load(ort, path, graph, path, (probed) => onnxFileInfo(path, graph, override, (i) => probed(i) as number[] | undefined).info, {
      inputShape: override.inputShape,
      maxBatch: options.maxBatch,
      session: options.threads === undefined ? {} : { intraOpNumThreads: options.threads },
    });
  }
}

/** Refuses, before any work, a run that needs onnxruntime-node where it is not installed. */
export async function requireOnnxRuntime(): Promise<void> {
  await loadOrt();
}
