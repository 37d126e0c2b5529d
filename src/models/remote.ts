/**
 * A model served behind HTTP, seen as a black box: TensorFlow Serving's REST predict API or the
 * KServe v2 (Triton) inference protocol. Isomorphic: only the global `fetch`, so the lab can attack
 * an endpoint too. It is a ScoreModel and a DecisionModel (attacks/blackbox.ts); with `labelsOnly`
 * only its top-1 labels may be used, and the registry refuses score-based attacks on it.
 *
 * `queries` counts the images the server answered (a retried request is not counted twice: the
 * model saw the image, but the attack got one answer); `requests` counts HTTP requests, retries too.
 */
import * as tf from '@tensorflow/tfjs-core';
import { AdvxError } from '../core/errors.ts';
import type { BlackBoxInfo, DecisionModel, ScoreModel } from '../attacks/blackbox.ts';

export type RemoteProtocol = 'tfserving' | 'kserve';
export const REMOTE_PROTOCOLS: readonly RemoteProtocol[] = ['tfserving', 'kserve'];

/** What the server's answers are; `auto` decides on the first answer (rows summing to 1 are probabilities). */
export type RemoteOutputs = 'auto' | 'logits' | 'probabilities';

export interface RemoteOptions {
  protocol: RemoteProtocol;
  /** Input shape without batch; TF Serving's predict API does not say it, KServe's metadata does. */
  inputShape?: number[];
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

export class RemoteModel implements ScoreModel, DecisionModel {
  info: BlackBoxInfo;
  queries = 0;
  requests = 0;
  readonly access: 'score' | 'decision';
  private logits: boolean | undefined;
  private inFlight = 0;
  private readonly waiting: Array<() => void> = [];
  private readonly options: Required<Omit<RemoteOptions, 'inputShape' | 'outputName'>> & Pick<RemoteOptions, 'outputName'>;
  private inputName = 'input';

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
   * Connects: KServe's metadata gives the input's name and shape and the class count; TF Serving
   * needs `inputShape`, and its class count is read from the answer to one probe image (one query).
   */
  static async connect(url: string, options: RemoteOptions): Promise<RemoteModel> {
    if (!REMOTE_PROTOCOLS.includes(options.protocol)) throw new AdvxError(`--protocol must be one of ${REMOTE_PROTOCOLS.join(', ')}, got "${options.protocol}"`);
    const model = new RemoteModel(url.replace(/(:predict|\/infer)\/?$/, '').replace(/\/+$/, ''), options);
    if (options.protocol === 'kserve') await model.readKserveMetadata(options.inputShape);
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
      : { instances: nest(flat, [rows, ...this.info.inputShape]) };
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
        if (!(e instanceof Transient) || attempt >= this.options.retries) throw e instanceof Transient ? new AdvxError(e.message) : e;
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

  /** GET …/v2/models/NAME: the first input's name and shape, the class count when the output's shape fixes it. */
  private async readKserveMetadata(given: number[] | undefined): Promise<void> {
    const json = (await this.withRetries(this.url, { method: 'GET' })) as { inputs?: Array<{ name?: string; shape?: number[] }>; outputs?: Array<{ name?: string; shape?: number[] }> };
    const input = json?.inputs?.[0];
    if (!input || typeof input.name !== 'string' || !Array.isArray(input.shape)) throw this.garbage(`the metadata at ${this.url} lists no input with a name and a shape`);
    this.inputName = input.name;
    // The metadata's shape has the batch first, -1 when free; a free image dimension takes the given one.
    const declared = input.shape.slice(1);
    const shape = declared.map((d, i) => (d > 0 ? d : given?.[i] ?? -1));
    if (given && given.join('×') !== shape.join('×')) throw new AdvxError(`${this.url} expects inputs of shape ${declared.join('×')}, but the images are ${given.join('×')}`);
    const output = (this.options.outputName === undefined ? json.outputs?.[0] : json.outputs?.find((o) => o.name === this.options.outputName));
    const k = output?.shape?.at(-1);
    this.info = { ...this.info, inputShape: shape, numClasses: typeof k === 'number' && k > 0 && (output?.shape?.length ?? 0) >= 2 ? k : 0 };
  }
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
