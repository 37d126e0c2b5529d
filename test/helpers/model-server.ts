/**
 * Real HTTP servers on 127.0.0.1 around a local Classifier, speaking TF Serving's REST API (predict,
 * and metadata when asked) and KServe v2, for the served-model tests. Nothing talks to any other host.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as tf from '@tensorflow/tfjs-core';
import type { Classifier } from '../../src/models/classifier.ts';

export type Handler = (req: IncomingMessage, body: string, res: ServerResponse) => void;

export interface Served {
  base: string;
  /** Images per predict request, in the order they came. */
  batches: number[];
  stop(): void;
}

const open: Array<() => void> = [];

/** Stops every server started here (call in `after`). */
export function stopAll(): void {
  open.forEach((stop) => stop());
}

/** An HTTP server on 127.0.0.1 at `port` (default: a free one). */
export async function serve(handler: Handler, port = 0): Promise<Served> {
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => handler(req, body, res));
  });
  await new Promise<void>((r, fail) => server.once('error', fail).listen(port, '127.0.0.1', r));
  const stop = () => {
    server.close();
    server.closeAllConnections();
  };
  open.push(stop);
  return { base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, batches: [], stop };
}

export const json = (res: ServerResponse, status: number, value: unknown): void => {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(typeof value === 'string' ? value : JSON.stringify(value));
};

/** The model's answer for a batch of flat images: probabilities, or logits. */
export function forward(classifier: Classifier, flat: number[], n: number, logits: boolean): number[] {
  return tf.tidy(() => {
    const t = tf.tensor(flat, [n, ...classifier.info.inputShape]);
    return Array.from((logits ? classifier.logits(t) : classifier.probabilities(t)).dataSync());
  });
}

/** TF Serving's signature metadata of a model of `shape` images and `k` classes, input named `name`. */
export function signature(shape: number[], k: number, name = 'x'): unknown {
  const dim = (sizes: number[]) => ({ dim: sizes.map((s) => ({ size: String(s), name: '' })), unknown_rank: false });
  return {
    model_spec: { name: 'mnist', signature_name: '', version: '1' },
    metadata: {
      signature_def: {
        signature_def: {
          __saved_model_init_op: { inputs: {}, outputs: { __saved_model_init_op: { dtype: 'DT_INVALID', tensor_shape: dim([]), name: 'NoOp' } }, method_name: '' },
          serving_default: {
            inputs: { [name]: { dtype: 'DT_FLOAT', tensor_shape: dim([-1, ...shape]), name: `serving_default_${name}:0` } },
            outputs: { output_0: { dtype: 'DT_FLOAT', tensor_shape: dim([-1, k]), name: 'StatefulPartitionedCall:0' } },
            method_name: 'tensorflow/serving/predict',
          },
        },
      },
    },
  };
}

/**
 * TF Serving's REST API around `classifier` as model `model` (default "mnist"): predict, and with
 * `metadata` the signature (input "x"; rows then come as {"x": image}), else 404 for it as older
 * servers answer.
 */
export function tfserving(classifier: Classifier, batches: number[], options: { logits?: boolean; metadata?: boolean; model?: string } = {}): Handler {
  const model = options.model ?? 'mnist';
  return (req, body, res) => {
    if (options.metadata && req.method === 'GET' && req.url === `/v1/models/${model}/metadata`) return json(res, 200, signature(classifier.info.inputShape, classifier.info.numClasses));
    if (req.method !== 'POST' || req.url !== `/v1/models/${model}:predict`) return json(res, 404, { error: `no ${req.url}` });
    const rows = JSON.parse(body).instances as unknown[];
    const images = rows.map((r) => (options.metadata ? (r as { x: unknown }).x : r));
    if (images.some((r) => r === undefined)) return json(res, 400, { error: 'instances must name input "x"' });
    batches.push(rows.length);
    const k = classifier.info.numClasses;
    const out = forward(classifier, (images as number[]).flat(3) as number[], rows.length, options.logits ?? false);
    json(res, 200, { predictions: rows.map((_, i) => out.slice(i * k, (i + 1) * k)) });
  };
}

/** KServe v2 around `classifier` as model "mnist": metadata and infer, answering logits. */
export function kserve(classifier: Classifier, batches: number[]): Handler {
  return (req, body, res) => {
    if (req.method === 'GET' && req.url === '/v2/models/mnist') {
      return json(res, 200, { name: 'mnist', platform: 'tfjs', inputs: [{ name: 'image', datatype: 'FP32', shape: [-1, ...classifier.info.inputShape] }], outputs: [{ name: 'logits', datatype: 'FP32', shape: [-1, classifier.info.numClasses] }] });
    }
    if (req.method !== 'POST' || req.url !== '/v2/models/mnist/infer') return json(res, 404, { error: `no ${req.url}` });
    const input = JSON.parse(body).inputs[0];
    if (input.name !== 'image' || input.datatype !== 'FP32') return json(res, 400, { error: 'bad input' });
    batches.push(input.shape[0]);
    json(res, 200, { model_name: 'mnist', outputs: [{ name: 'logits', datatype: 'FP32', shape: [input.shape[0], classifier.info.numClasses], data: forward(classifier, input.data, input.shape[0], true) }] });
  };
}
