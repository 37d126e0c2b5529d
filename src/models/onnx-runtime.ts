/**
 * An ONNX file run by ONNX Runtime as a black box (ScoreModel and DecisionModel): a fast forward
 * pass on any op ONNX Runtime runs, those advx's importer lacks included, and no gradients. One
 * implementation for onnxruntime-node (node/io/onnx-runtime.ts, the CLI) and onnxruntime-web (the
 * lab): both hand over their `ort` module and a session source, and the model feeds and reads the
 * file as the importer would (onnx.ts): NHWC images transposed to the file's NCHW, advx.json's
 * bounds and preprocessing, the output named by `outputName`, logits or probabilities from the
 * graph's last op, as the caller's `decide` says.
 *
 * `queries` counts the images it answered, as a served model's (models/remote.ts) do.
 */
import * as tf from '@tensorflow/tfjs-core';
import { AdvxError } from '../core/errors.ts';
import type { BlackBoxModel } from './black-box.ts';
import { headLogits, preprocess, type ClassifierInfo } from './classifier.ts';
import { fixedOutputShape, onnxInputShape, toFileLayout, type OnnxGraphInfo } from './onnx.ts';

/**
 * What advx uses of an ONNX Runtime package (onnxruntime-node or onnxruntime-web, the same API),
 * written out so that advx compiles without either (both are optional, loaded on first use).
 */
export interface OrtTensor {
  readonly dims: readonly number[];
  readonly type: string;
  readonly data: unknown;
}
export interface OrtSession {
  readonly inputMetadata: ReadonlyArray<{ name: string; isTensor: boolean; type?: string }>;
  run(feeds: Record<string, OrtTensor>, fetches?: readonly string[]): Promise<Record<string, OrtTensor>>;
  release(): Promise<void>;
}
export interface Ort {
  Tensor: new (type: 'float32', data: Float32Array, dims: readonly number[]) => OrtTensor;
  InferenceSession: { create(source: string | Uint8Array, options?: Record<string, unknown>): Promise<OrtSession> };
}

export const firstLine = (e: unknown): string => String((e as Error)?.message ?? e).split('\n')[0];

/** The shape of output `index` from one forward pass on zeros, when the file leaves it free. */
export type ProbedShape = (index: number) => readonly number[] | undefined;

export interface OnnxSessionOptions {
  /** The input shape (without batch) when the caller overrides the file's (advx.json, an override). */
  inputShape?: number[];
  /** Most images per session run, to bound memory (default 256). */
  maxBatch?: number;
  /** Passed to InferenceSession.create (threads, execution providers). */
  session?: Record<string, unknown>;
}

export class OnnxSessionModel implements BlackBoxModel {
  readonly access = 'score';
  info: ClassifierInfo;
  /** Images answered (attacks, clean predictions and re-checks alike). */
  queries = 0;

  constructor(
    /** Names the file in errors. */
    readonly where: string,
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

  /**
   * A session over `source` (a path for onnxruntime-node, the bytes for either) of the decoded
   * `graph`, whose classifier info `decide` gives (onnxInfo with the caller's advx.json), after
   * one forward pass on zeros where the file leaves an output's shape free (not a query).
   */
  static async load<M extends OnnxSessionModel>(
    this: new (...args: ConstructorParameters<typeof OnnxSessionModel>) => M,
    ort: Ort,
    source: string | Uint8Array,
    graph: OnnxGraphInfo,
    where: string,
    decide: (probed: ProbedShape) => ClassifierInfo,
    options: OnnxSessionOptions = {},
  ): Promise<M> {
    let session: OrtSession;
    try {
      session = await ort.InferenceSession.create(source, options.session ?? {});
    } catch (e) {
      throw new AdvxError(`ONNX Runtime cannot load ${where}: ${firstLine(e)}`);
    }
    try {
      const input = graph.inputs[0];
      const meta = session.inputMetadata.find((m) => m.name === input?.name);
      if (meta?.type !== undefined && meta.type !== 'float32') throw new AdvxError(`${where}: the input "${input.name}" is ${meta.type}; advx feeds float32 images`);
      const inputShape = options.inputShape ?? onnxInputShape(graph);
      const probe = graph.inputs.length === 1 && graph.outputs.some((o) => !fixedOutputShape(o.shape)) && inputShape.every((d) => d >= 1);
      const batch = input?.shape[0];
      const model = new this(where, inputShape, session, ort, input?.name ?? '', options.maxBatch ?? 256, batch !== undefined && batch > 0 ? batch : undefined);
      let probed: Awaited<ReturnType<OnnxSessionModel['run']>> | undefined;
      if (probe) {
        const zeros = tf.zeros([1, ...inputShape]);
        probed = await model.run(zeros).finally(() => zeros.dispose());
      }
      model.info = decide((i) => probed?.[graph.outputs[i].name]?.dims);
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
      if (!out) throw new AdvxError(`${this.where}: the output "${name}" is not a float32 class vector`);
      this.queries += x.shape[0];
      return tf.tidy(() => headLogits(tf.tensor(out.data, out.dims), this.info));
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
        throw new AdvxError(`ONNX Runtime failed on ${this.where} with inputs of shape [${shape}]: ${firstLine(e)}`);
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
