/**
 * An ONNX file run by ONNX Runtime (onnxruntime-node, an optional peer dependency): a fast
 * forward pass for evaluation and score- or decision-based attacks, on any op ONNX Runtime runs,
 * those advx's importer lacks included. It gives no gradients, so it is a black box (ScoreModel and
 * DecisionModel). What it takes and answers is decided as the importer decides it (onnxFileInfo):
 * NHWC images transposed to the file's NCHW, advx.json's bounds and preprocessing, the output named
 * by `outputName`, logits or probabilities from the graph's last op.
 *
 * `queries` counts the images it answered, as a served model's (models/remote.ts) do.
 */
import * as tf from '@tensorflow/tfjs-core';
import { AdvxError } from '../core/errors.ts';
import type { BlackBoxModel } from '../attacks/index.ts';
import { headLogits, preprocess, type ClassifierInfo } from '../models/classifier.ts';
import { fixedOutputShape, onnxInputShape, toFileLayout } from '../models/onnx.ts';
import { decodeModel } from '../models/onnx/proto.ts';
import { onnxFileInfo, readOnnxFile } from './load-model.ts';

/**
 * What advx uses of onnxruntime-node, written out so that advx compiles without it (it is an
 * optional peer dependency, loaded only when `--runtime onnxruntime` asks for it).
 */
interface OrtTensor {
  readonly dims: readonly number[];
  readonly type: string;
  readonly data: unknown;
}
interface OrtSession {
  readonly inputMetadata: ReadonlyArray<{ name: string; isTensor: boolean; type?: string }>;
  run(feeds: Record<string, OrtTensor>, fetches?: readonly string[]): Promise<Record<string, OrtTensor>>;
  release(): Promise<void>;
}
interface Ort {
  Tensor: new (type: 'float32', data: Float32Array, dims: readonly number[]) => OrtTensor;
  InferenceSession: { create(path: string, options?: { intraOpNumThreads?: number }): Promise<OrtSession> };
}

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

const firstLine = (e: unknown): string => String((e as Error)?.message ?? e).split('\n')[0];

export interface OnnxRuntimeOptions {
  /** Overrides advx.json, as loadClassifier's override does (outputName: which output is the class vector). */
  override?: Partial<ClassifierInfo>;
  /** Most images per session run, to bound memory (default 256). */
  maxBatch?: number;
  /** Threads of ONNX Runtime's intra-op pool (default: its own choice). */
  threads?: number;
}

export class OnnxRuntimeModel implements BlackBoxModel {
  readonly access = 'score';
  info: ClassifierInfo;
  /** Images answered (attacks, clean predictions and re-checks alike). */
  queries = 0;

  private constructor(
    readonly path: string,
    inputShape: number[],
    private readonly session: OrtSession,
    private readonly ort: Ort,
    private readonly inputName: string,
    private readonly maxBatch: number,
    /** The file's batch dimension, when fixed. */
    private readonly fixedBatch: number | undefined,
  ) {
    this.info = { inputShape, numClasses: 0, bounds: [0, 1] };
  }

  static async open(path: string, options: OnnxRuntimeOptions = {}): Promise<OnnxRuntimeModel> {
    const ort = await loadOrt();
    const graph = decodeModel(readOnnxFile(path), path);
    let session: OrtSession;
    try {
      session = await ort.InferenceSession.create(path, options.threads === undefined ? {} : { intraOpNumThreads: options.threads });
    } catch (e) {
      throw new AdvxError(`ONNX Runtime cannot load ${path}: ${firstLine(e)}`);
    }
    try {
      const input = graph.inputs[0];
      const meta = session.inputMetadata.find((m) => m.name === input?.name);
      if (meta?.type !== undefined && meta.type !== 'float32') throw new AdvxError(`${path}: the input "${input.name}" is ${meta.type}; advx feeds float32 images`);
      const override = options.override ?? {};
      const inputShape = override.inputShape ?? onnxInputShape(graph);
      // As the importer, an output shape the file leaves free is read from one forward pass on zeros (not a query).
      const probe = graph.inputs.length === 1 && graph.outputs.some((o) => !fixedOutputShape(o.shape)) && inputShape.every((d) => d >= 1);
      const batch = input?.shape[0];
      const model = new OnnxRuntimeModel(path, inputShape, session, ort, input?.name ?? '', options.maxBatch ?? 256, batch !== undefined && batch > 0 ? batch : undefined);
      let probed: Awaited<ReturnType<OnnxRuntimeModel['run']>> | undefined;
      if (probe) {
        const zeros = tf.zeros([1, ...inputShape]);
        probed = await model.run(zeros).finally(() => zeros.dispose());
      }
      model.info = onnxFileInfo(path, graph, override, (i) => probed?.[graph.outputs[i].name]?.dims).info;
      return model;
    } catch (e) {
      await session.release();
      throw e;
    }
  }

  /** Logits [batch, numClasses] as Classifier.logits gives them, computed by ONNX Runtime (no tape: no gradients). */
  async logits(x: tf.Tensor): Promise<tf.Tensor2D> {
    const want = this.info.inputShape;
    if (x.shape.length !== want.length + 1 || x.shape.slice(1).some((d, i) => want[i] !== -1 && d !== want[i])) {
      throw new AdvxError(`input shape [${x.shape}] does not match the model's input [batch, ${want}]`);
    }
    const fed = tf.tidy(() => preprocess(x, this.info.preprocessing));
    try {
      const name = this.info.outputName!;
      const out = (await this.run(fed, [name]))[name];
      if (!out) throw new AdvxError(`${this.path}: the output "${name}" is not a float32 class vector`);
      this.queries += x.shape[0];
      return tf.tidy(() => headLogits(tf.tensor(out.data as Float32Array, [...out.dims]), this.info));
    } finally {
      if (fed !== x) fed.dispose();
    }
  }

  async scores(x: tf.Tensor): Promise<tf.Tensor2D> {
    const z = await this.logits(x);
    const p = tf.softmax(z);
    z.dispose();
    return p;
  }

  async label(x: tf.Tensor): Promise<Int32Array> {
    const z = await this.logits(x);
    const labels = tf.argMax(z, 1);
    const values = Int32Array.from(await labels.data());
    tf.dispose([z, labels]);
    return values;
  }

  /** Top-1 labels, as Classifier.predict (labelling a folder of images without labels: queries too). */
  predict(x: tf.Tensor): Promise<Int32Array> {
    return this.label(x);
  }

  dispose(): Promise<void> {
    return this.session.release();
  }

  /**
   * The float32 outputs `names` (default: all) for an NHWC batch, rows joined. It runs at most
   * maxBatch images at a time; a file whose batch dimension is fixed (an export without dynamic
   * axes) gets runs of exactly that size, the last one padded with zeros whose rows are dropped.
   */
  private async run(x: tf.Tensor, names?: string[]): Promise<Record<string, { data: Float32Array; dims: number[] }>> {
    const fileLayout = tf.tidy(() => toFileLayout(x));
    const [n, ...rest] = fileLayout.shape;
    const data = (await fileLayout.data()) as Float32Array;
    if (fileLayout !== x) fileLayout.dispose();
    const size = rest.reduce((a, b) => a * b, 1);
    const step = this.fixedBatch ?? this.maxBatch;
    const parts: Array<{ rows: number; outputs: Record<string, OrtTensor> }> = [];
    for (let r = 0; r < n; r += step) {
      const rows = Math.min(step, n - r);
      let values = data.subarray(r * size, (r + rows) * size);
      if (this.fixedBatch !== undefined && rows < this.fixedBatch) {
        values = new Float32Array(this.fixedBatch * size);
        values.set(data.subarray(r * size, (r + rows) * size));
      }
      const shape = [this.fixedBatch ?? rows, ...rest];
      try {
        parts.push({ rows, outputs: await this.session.run({ [this.inputName]: new this.ort.Tensor('float32', values, shape) }, names) });
      } catch (e) {
        throw new AdvxError(`ONNX Runtime failed on ${this.path} with inputs of shape [${shape}]: ${firstLine(e)}`);
      }
    }
    const joined: Record<string, { data: Float32Array; dims: number[] }> = {};
    for (const name of Object.keys(parts[0]?.outputs ?? {})) {
      const pieces = parts.map(({ rows, outputs }) => ({ rows, tensor: outputs[name] }));
      if (pieces.some((p) => p.tensor.type !== 'float32')) continue; // an integer output (argmax labels, say) is no class vector
      const width = pieces[0].tensor.dims.slice(1).reduce((a, b) => a * b, 1);
      const out = new Float32Array(n * width);
      let at = 0;
      for (const { rows, tensor } of pieces) {
        out.set((tensor.data as Float32Array).subarray(0, rows * width), at);
        at += rows * width;
      }
      joined[name] = { data: out, dims: [n, ...pieces[0].tensor.dims.slice(1)] };
    }
    return joined;
  }
}

/** Refuses, before any work, a run that needs onnxruntime-node where it is not installed. */
export async function requireOnnxRuntime(): Promise<void> {
  await loadOrt();
}
