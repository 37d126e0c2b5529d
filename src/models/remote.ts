/**
 * A model served behind HTTP, seen as a black box: TensorFlow Serving's REST predict API or the
 * KServe v2 (Triton) inference protocol. Isomorphic: only the global `fetch`, so the lab can attack
 * an endpoint too. It is a ScoreModel and a DecisionModel (attacks/blackbox.ts); with `labelsOnly`
 * only its top-1 labels may be used, and the registry refuses score-based attacks on it.
 *
 * The input's name and shape and the class count come from the server's metadata where it has some
 * (TF Serving's …/metadata signature, KServe's model metadata), else from what the caller gives.
 * A server that stops answering (after every retry) is a ServiceError: a fault, not bad input.
 *
 * `queries` counts the images the server answered (a retried request is not counted twice: the
 * model saw the image, but the attack got one answer); `requests` counts HTTP requests, retries too.
 */
import * as tf from '@tensorflow/tfjs-core';
import { AdvxError, ServiceError } from '../core/errors.ts';
import type { BlackBoxInfo, DecisionModel, ScoreModel } from './black-box.ts';

export type RemoteProtocol = 'tfserving' | 'kserve';
export const REMOTE_PROTOCOLS: readonly RemoteProtocol[] = ['tfserving', 'kserve'];

/** What the server's answers are; `auto` decides on the first answer (rows summing to 1 are probabilities). */
export type RemoteOutputs = 'auto' | 'logits' | 'probabilities';

export interface RemoteOptions {
  protocol: RemoteProtocol;
  /** Input shape without batch, which the server's metadata must agree with (a built-in dataset's images). */
  inputShape?: number[];
  /** Input shape where the server's metadata does not fix one (the user's own images' size). */
  fallbackShape?: number[];
  bounds?: [number, number];
  outputs?: RemoteOutputs;
  labelsOnly?: boolean;
  /** Most images per request (default 64). */
  maxBatch?: number;
  /** Requests in flight at once, over all calls (default 4). */
  concurrency?: number;
  /** Per request, in ms (default 30 000). */
  timeoutMs?: number;
  /** Retries of a request after a network error, a timeout, HTTP 429 or 5xx (default 3), waiting backoffMs·2^k. */
  retries?: number;
  backoffMs?: number;
  /** The output used as the class vector when the server answers several (default: the only or first one). */
  outputName?: string;
}

/** Rows within this of summing to 1 (and in [0, 1]) are read as probabilities by `auto`. */
const PROBABILITY_TOLERANCE = 1e-3;

const PROTOCOL_NAMES: Record<RemoteProtocol, string> = { tfserving: "TF Serving's predict", kserve: "KServe v2's infer" };

/** Whether a --model value is an endpoint rather than a path. */
export function isRemoteModel(model: string): boolean {
  return /^https?:\/\//i.test(model);
}

/** A failure worth retrying (the server is down or overloaded), as opposed to a refusal. */
class Transient extends Error {}

/** TF Serving's signature dims: sizes as strings (int64 in JSON) or numbers, -1 when free. */
interface TensorInfo {
  tensor_shape?: { dim?: Array<{ size?: string | number }>; unknown_rank?: boolean };
}

export class RemoteModel implements ScoreModel, DecisionModel {
  info: BlackBoxInfo;
  queries = 0;
  requests = 0;
  readonly access: 'score' | 'decision';
  private logits: boolean | undefined;
  private inFlight = 0;
  private readonly waiting: Array<() => void> = [];
  private readonly options: Required<Omit<RemoteOptions, 'inputShape' | 'fallbackShape' | 'outputName'>> & Pick<RemoteOptions, 'outputName'>;
  /** KServe's input name; TF Serving's when its metadata names one (rows are then {name: image}). */
  private inputName: string | undefined;

  private constructor(
    /** The model's base URL: …/v1/models/NAME or …/v2/models/NAME. */
    readonly url: string,
    options: RemoteOptions,
  ) {
    this.options = { bounds: [0, 1], outputs: 'auto', labelsOnly: false, maxBatch: 64, concurrency: 4, timeoutMs: 30_000, retries: 3, backoffMs: 200, ...options };
    this.access = this.options.labelsOnly ? 'decision' : 'score';
    this.logits = this.options.outputs === 'auto' ? undefined : this.options.outputs === 'logits';
    this.info = { inputShape: options.inputShape ?? [], numClasses: 0, bounds: this.options.bounds };
  }

  /**
   * Connects: the metadata (KServe's, which must exist; TF Serving's, used when the server has it)
   * gives the input's name and shape and the class count; where it gives no class count, that is
   * read from the answer to one probe image (one query).
   */
  static async connect(url: string, options: RemoteOptions): Promise<RemoteModel> {
    if (!REMOTE_PROTOCOLS.includes(options.protocol)) throw new AdvxError(`--protocol must be one of ${REMOTE_PROTOCOLS.join(', ')}, got "${options.protocol}"`);
    const model = new RemoteModel(url.replace(/(:predict|\/infer|\/metadata)\/?$/, '').replace(/\/+$/, ''), options);
    const declared = options.protocol === 'kserve' ? await model.readKserveMetadata() : await model.readTfservingMetadata();
    model.fixShape(declared, options.inputShape, options.fallbackShape);
    const shape = model.info.inputShape;
    if (shape.length === 0 || shape.some((d) => !(Number.isInteger(d) && d > 0))) throw new AdvxError(`the input shape of ${model.url} is unknown or not fixed ([${shape}]): give it (e.g. the dataset's)`);
    if (model.info.numClasses === 0) {
      const [lo, hi] = model.info.bounds;
      const probe = tf.fill([1, ...shape], (lo + hi) / 2);
      try {
        const rows = await model.answer(probe);
        model.info = { ...model.info, numClasses: rows[0].length };
      } finally {
        probe.dispose();
      }
    }
    if (model.info.numClasses < 2) throw new AdvxError(`${model.url} answers ${model.info.numClasses} score(s) per image: a classifier needs at least 2 classes`);
    return model;
  }

  async scores(x: tf.Tensor): Promise<tf.Tensor2D> {
    if (this.access !== 'score') throw new AdvxError(`${this.url} is used through its labels only (--labels-only): its scores may not be read`);
    const rows = await this.answer(x);
    const k = this.info.numClasses;
    const out = new Float32Array(rows.length * k);
    rows.forEach((row, i) => out.set(this.probabilities(row), i * k));
    return tf.tensor2d(out, [rows.length, k]);
  }

  async label(x: tf.Tensor): Promise<Int32Array> {
    const rows = await this.answer(x);
    return Int32Array.from(rows, (row) => row.reduce((best, v, j) => (v > row[best] ? j : best), 0));
  }

  /** A row as probabilities: as answered, or softmaxed when the server answers logits. */
  private probabilities(row: number[]): number[] {
    if (this.logits === undefined) this.logits = !looksLikeProbabilities(row);
    if (!this.logits) return row;
    const max = Math.max(...row);
    const e = row.map((v) => Math.exp(v - max));
    const sum = e.reduce((a, b) => a + b, 0);
    return e.map((v) => v / sum);
  }

  /** The server's raw rows for a batch, in requests of at most maxBatch images, concurrently. */
  private async answer(x: tf.Tensor): Promise<number[][]> {
    const shape = this.info.inputShape;
    if (x.shape.slice(1).join('×') !== shape.join('×')) throw new AdvxError(`input shape [${x.shape}] does not match ${this.url}'s input [batch, ${shape}]`);
    const n = x.shape[0];
    const size = shape.reduce((a, b) => a * b, 1);
    const data = (await x.data()) as Float32Array;
    const parts: Promise<number[][]>[] = [];
    for (let r = 0; r < n; r += this.options.maxBatch) {
      const rows = Math.min(this.options.maxBatch, n - r);
      parts.push(this.limited(() => this.request(data.subarray(r * size, (r + rows) * size), rows)));
    }
    return (await Promise.all(parts)).flat();
  }

  /** Runs `task` when fewer than `concurrency` requests are in flight. */
  private async limited<T>(task: () => Promise<T>): Promise<T> {
    while (this.inFlight >= this.options.concurrency) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.inFlight++;
    try {
      return await task();
    } finally {
      this.inFlight--;
      this.waiting.shift()?.();
    }
  }

  /** One batch to the server, retried with exponential backoff on transient failures; its rows, checked. */
  private async request(flat: Float32Array, rows: number): Promise<number[][]> {
    const kserve = this.options.protocol === 'kserve';
    const target = kserve ? `${this.url}/infer` : `${this.url}:predict`;
    const body = kserve
      ? { inputs: [{ name: this.inputName, shape: [rows, ...this.info.inputShape], datatype: 'FP32', data: Array.from(flat) }] }
      : { instances: nest(flat, [rows, ...this.info.inputShape]).map((row) => (this.inputName === undefined ? row : { [this.inputName]: row })) };
    const json = await this.withRetries(target, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const answer = kserve ? this.kserveRows(json, rows) : this.tfservingRows(json);
    if (answer.length !== rows) throw new AdvxError(`${target} answered ${answer.length} predictions for ${rows} images`);
    const k = this.info.numClasses || answer[0].length;
    const bad = answer.findIndex((row) => row.length !== k || row.some((v) => typeof v !== 'number' || !Number.isFinite(v)));
    if (bad >= 0) throw new AdvxError(`${target} answered a prediction of ${answer[bad].length} values (${JSON.stringify(answer[bad]).slice(0, 80)}) where ${k} finite scores were expected`);
    this.queries += rows;
    return answer;
  }

  private async withRetries(target: string, init: RequestInit): Promise<unknown> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.fetchJson(target, init);
      } catch (e) {
        if (!(e instanceof Transient) || attempt >= this.options.retries) throw e instanceof Transient ? new ServiceError(e.message) : e;
        await new Promise((r) => setTimeout(r, this.options.backoffMs * 2 ** attempt));
      }
    }
  }

  /** One HTTP request with a timeout; Transient for what a retry may cure, AdvxError for the rest. */
  private async fetchJson(target: string, init: RequestInit): Promise<unknown> {
    this.requests++;
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), this.options.timeoutMs);
    let text: string;
    let status: number;
    try {
      const response = await fetch(target, { ...init, signal: abort.signal });
      status = response.status;
      text = await response.text();
    } catch (e) {
      if (abort.signal.aborted) throw new Transient(`${target} did not answer within ${this.options.timeoutMs / 1000} s`);
      const cause = (e as { cause?: { code?: string; message?: string } }).cause;
      throw new Transient(`cannot reach ${target} (${cause?.code ?? cause?.message ?? (e as Error).message})`);
    } finally {
      clearTimeout(timer);
    }
    if (status < 200 || status >= 300) {
      const line = `${target} answered HTTP ${status}: ${text.slice(0, 200).replace(/\s+/g, ' ').trim()}`;
      throw status === 429 || status >= 500 ? new Transient(line) : new AdvxError(line);
    }
    try {
      return JSON.parse(text);
    } catch {
      throw this.garbage(`not JSON: ${JSON.stringify(text.slice(0, 80))}`);
    }
  }

  private garbage(why: string): AdvxError {
    return new AdvxError(`the server's answer is not ${PROTOCOL_NAMES[this.options.protocol]} format: ${why}`);
  }

  /** `{"predictions": [[…], …]}`, or rows of named outputs `[{"name": […]}, …]`. */
  private tfservingRows(json: unknown): number[][] {
    const predictions = (json as { predictions?: unknown })?.predictions;
    if (!Array.isArray(predictions)) throw this.garbage(`no "predictions" list in ${JSON.stringify(json).slice(0, 80)}`);
    return predictions.map((row) => {
      if (Array.isArray(row)) return row.flat(Infinity) as number[];
      if (row && typeof row === 'object') return this.namedOutput(row as Record<string, unknown>);
      throw this.garbage(`a prediction is ${JSON.stringify(row)}, not a list of scores`);
    });
  }

  private namedOutput(row: Record<string, unknown>): number[] {
    const names = Object.keys(row);
    const name = this.options.outputName ?? names[0];
    if (!Array.isArray(row[name])) throw this.garbage(`no output "${name}" in a prediction (its outputs: ${names.join(', ')})`);
    return (row[name] as unknown[]).flat(Infinity) as number[];
  }

  /** `{"outputs": [{"name", "shape": [N, K], "datatype", "data": [flat…]}]}`. */
  private kserveRows(json: unknown, rows: number): number[][] {
    const outputs = (json as { outputs?: unknown })?.outputs;
    if (!Array.isArray(outputs) || outputs.length === 0) throw this.garbage(`no "outputs" list in ${JSON.stringify(json).slice(0, 80)}`);
    const wanted = this.options.outputName;
    const output = (wanted === undefined ? outputs[0] : outputs.find((o) => o?.name === wanted)) as { shape?: unknown; data?: unknown } | undefined;
    if (!output) throw this.garbage(`no output "${wanted}" (its outputs: ${outputs.map((o) => o?.name).join(', ')})`);
    if (!Array.isArray(output.data) || !Array.isArray(output.shape)) throw this.garbage(`an output without "shape" and "data" lists: ${JSON.stringify(output).slice(0, 80)}`);
    const data = output.data.flat(Infinity) as number[];
    const k = rows > 0 ? data.length / rows : 0;
    if (output.shape[0] !== rows || !Number.isInteger(k)) throw this.garbage(`output of shape [${output.shape}] with ${data.length} values for ${rows} images`);
    return Array.from({ length: rows }, (_, i) => data.slice(i * k, (i + 1) * k));
  }

  /**
   * The input shape: the metadata's (batch dimension dropped), each free dimension (-1) taken from
   * `given` or else `fallback`; a `given` shape that disagrees with the metadata is refused.
   */
  private fixShape(declared: number[] | undefined, given: number[] | undefined, fallback: number[] | undefined): void {
    if (!declared) {
      this.info = { ...this.info, inputShape: given ?? fallback ?? [] };
      return;
    }
    const fill = given ?? (fallback && fallback.length === declared.length ? fallback : undefined);
    const shape = declared.map((d, i) => (d > 0 ? d : fill?.[i] ?? -1));
    if (given && given.join('×') !== shape.join('×')) throw new AdvxError(`${this.url} expects inputs of shape ${declared.join('×')}, but the images are ${given.join('×')}`);
    this.info = { ...this.info, inputShape: shape };
  }

  /** The class count when an output's shape fixes it: [batch, K] with K ≥ 2. */
  private classesOf(shape: number[] | undefined): void {
    const k = shape?.at(-1);
    if (shape && shape.length === 2 && typeof k === 'number' && k >= 2) this.info = { ...this.info, numClasses: k };
  }

  /** GET …/v2/models/NAME: the first input's name and declared shape (batch dropped); the class count when the output fixes it. */
  private async readKserveMetadata(): Promise<number[]> {
    const json = (await this.withRetries(this.url, { method: 'GET' })) as { inputs?: Array<{ name?: string; shape?: number[] }>; outputs?: Array<{ name?: string; shape?: number[] }> };
    const input = json?.inputs?.[0];
    if (!input || typeof input.name !== 'string' || !Array.isArray(input.shape)) throw this.garbage(`the metadata at ${this.url} lists no input with a name and a shape`);
    this.inputName = input.name;
    const output = this.options.outputName === undefined ? json.outputs?.[0] : json.outputs?.find((o) => o.name === this.options.outputName);
    this.classesOf(output?.shape);
    return input.shape.slice(1);
  }

  /**
   * GET …/v1/models/NAME/metadata: the serving signature's input (its name and shape) and output
   * (the class count). Optional: a server without it (an older TF Serving, a proxy, a mock) or with
   * an answer advx cannot read leaves the shape to the caller, as before; it is asked once, without
   * retries, since the predict request that follows reports a dead server anyway.
   */
  private async readTfservingMetadata(): Promise<number[] | undefined> {
    type Signature = { inputs?: Record<string, TensorInfo>; outputs?: Record<string, TensorInfo> };
    let json: { metadata?: { signature_def?: { signature_def?: Record<string, Signature> } } };
    try {
      json = (await this.fetchJson(`${this.url}/metadata`, { method: 'GET' })) as typeof json;
    } catch {
      return undefined;
    }
    const signatures = json?.metadata?.signature_def?.signature_def;
    if (!signatures || typeof signatures !== 'object') return undefined;
    const signature = signatures.serving_default ?? Object.entries(signatures).find(([name]) => !name.startsWith('__'))?.[1];
    const inputs = Object.entries(signature?.inputs ?? {});
    if (inputs.length !== 1) {
      if (inputs.length > 1) throw new AdvxError(`${this.url}'s serving signature takes ${inputs.length} inputs (${inputs.map(([n]) => n).join(', ')}): advx sends one batch of images`);
      return undefined;
    }
    const shape = dims(inputs[0][1]);
    if (!shape) return undefined;
    this.inputName = inputs[0][0];
    const outputs = Object.entries(signature?.outputs ?? {});
    // Several outputs: the named one, else the first that is a [batch, K] class vector.
    const wanted = this.options.outputName;
    const output = wanted !== undefined ? outputs.find(([n]) => n === wanted) : outputs.length === 1 ? outputs[0] : outputs.find(([, o]) => (dims(o)?.length ?? 0) === 2 && (dims(o)!.at(-1) ?? 0) >= 2);
    if (output) {
      if (outputs.length > 1) this.options.outputName = output[0];
      this.classesOf(dims(output[1]));
    }
    return shape.slice(1);
  }
}

/** A TF Serving tensor's dims as numbers (-1 when free), or undefined when its rank is unknown. */
function dims(t: TensorInfo | undefined): number[] | undefined {
  const d = t?.tensor_shape?.dim;
  if (!Array.isArray(d) || t?.tensor_shape?.unknown_rank) return undefined;
  const sizes = d.map((x) => Number(x?.size ?? -1));
  return sizes.every((v) => Number.isInteger(v)) ? sizes : undefined;
}

/** Whether a row reads as probabilities: values in [0, 1] summing to 1. */
function looksLikeProbabilities(row: number[]): boolean {
  const sum = row.reduce((a, b) => a + b, 0);
  return row.every((v) => v >= 0 && v <= 1) && Math.abs(sum - 1) <= PROBABILITY_TOLERANCE;
}

/** A flat row-major array as nested lists of `shape` (TF Serving's row format). */
function nest(flat: Float32Array, shape: number[]): unknown[] {
  if (shape.length === 1) return Array.from(flat);
  const step = flat.length / shape[0];
  return Array.from({ length: shape[0] }, (_, i) => nest(flat.subarray(i * step, (i + 1) * step), shape.slice(1)));
}
