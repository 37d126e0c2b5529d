/**
 * An ONNX graph run as TF.js ops, node by node in topological order, so gradients flow from the
 * logits back to the input like through any TF.js model. Isomorphic: bytes in, no file access.
 */
import * as tf from '@tensorflow/tfjs-core';
import { AdvxError } from '../../core/errors.ts';
import { decodeModel, HostArray, type ConstantValue, type OnnxNode, type ValueInfo } from './proto.ts';
import { OPS, toTensor, unsupported, type OpContext, type Value } from './ops.ts';
import { Values } from './layout.ts';

export type { Value };
export { HostArray };

export interface OnnxModel {
  /** The inputs the caller feeds, with their shapes as in the file (NCHW for images; -1 = free). */
  inputs: ValueInfo[];
  outputs: ValueInfo[];
  opset: number;
  /** The graph's nodes, as in the file (op types, names, inputs and outputs). */
  nodes: OnnxNode[];
  /** The number of values in the float initializers (the weights). */
  parameters: number;
  /**
   * Runs the graph on named inputs; returns the graph's outputs in order (NCHW). The fed images
   * named in `nhwc` come NHWC instead, which saves a transpose when the graph starts with a
   * convolution. Call inside tf.tidy.
   */
  run(feeds: Record<string, Value>, nhwc?: ReadonlySet<string>): Value[];
  /**
   * The output at index `output` (default the first) for a single input, in the file's layout;
   * `nhwc`: a rank-4 `x` comes NHWC rather than in the file's NCHW. Tidy.
   */
  forward(x: tf.Tensor, output?: number, nhwc?: boolean): tf.Tensor;
  /** Frees the weights (initializers, constants and the filters made from them). */
  dispose(): void;
}

/** Orders nodes so each comes after the producers of its inputs (files are usually sorted already). */
function topologicalOrder(nodes: OnnxNode[], available: Set<string>, where: string): OnnxNode[] {
  const done = new Set(available).add('');
  const order: OnnxNode[] = [];
  let pending = nodes;
  while (pending.length > 0) {
    const ready = pending.filter((n) => n.inputs.every((i) => done.has(i)));
    if (ready.length === 0) {
      const stuck = pending[0];
      throw new AdvxError(`${where}: node "${stuck.name}" needs "${stuck.inputs.find((i) => !done.has(i))}", which no node or input produces`);
    }
    for (const n of ready) {
      order.push(n);
      n.outputs.forEach((o) => done.add(o));
    }
    pending = pending.filter((n) => !ready.includes(n));
  }
  return order;
}

function keep(c: ConstantValue): Value {
  return c instanceof HostArray ? c : tf.tensor(c.floats, c.shape, 'float32');
}

/** Whether `node` runs on NHWC images: see `nhwc` in ops.ts. */
function channelsLast(node: OnnxNode, values: Values): boolean {
  const spec = OPS[node.opType].nhwc;
  if (spec === undefined) return false;
  const data = (spec.data ?? [0]).filter((i) => i < node.inputs.length);
  const ranks = data.map((i) => values.rank(node.inputs[i]));
  if (!ranks.every((r) => r !== undefined && r <= 4)) return false;
  return spec.always ? ranks[0] === 4 : data.some((i) => values.isNhwc(node.inputs[i]));
}

/** Runs one node on `values` and stores its outputs there. */
function execute(node: OnnxNode, values: Values, opset: number, prepared?: unknown): void {
  const op = OPS[node.opType];
  const ctx: OpContext = { node, opset, prepared };
  const nhwc = channelsLast(node, values);
  const data = new Set(op.nhwc?.data ?? [0]);
  const inputs = node.inputs.map((name, i) => (name === '' ? undefined : nhwc && data.has(i) ? values.nhwc(name) : values.nchw(name)));
  const given = inputs.filter((v): v is Value => v !== undefined);
  try {
    const host = op.host && given.length > 0 && given.every((v) => v instanceof HostArray) ? op.host(given as HostArray[], ctx) : undefined;
    const out = host ?? (nhwc ? (op.nhwc?.run ?? op.run)(inputs, ctx) : op.run(inputs, ctx));
    const outs = Array.isArray(out) ? out : [out];
    node.outputs.forEach((name, i) => outs[i] !== undefined && values.set(name, outs[i], nhwc));
  } catch (e) {
    if (e instanceof AdvxError) throw e;
    const first = String((e as Error).message).split('\n')[0];
    const shapes = node.inputs.flatMap((name) => (name === '' ? [] : [`[${values.shape(name)}]`]));
    throw new AdvxError(`ONNX node "${node.name}" (${node.opType}) failed on inputs of shapes ${shapes.join(', ')}: ${first}`);
  }
}

/** Imports an .onnx file's bytes; `where` names the file in errors. */
export function importOnnx(bytes: Uint8Array, where = 'the ONNX model'): OnnxModel {
  const graph = decodeModel(bytes, where);
  for (const node of graph.nodes) if (!Object.hasOwn(OPS, node.opType)) throw unsupported(node);
  const kept = new Map<string, Value>();
  for (const [name, c] of graph.initializers) kept.set(name, keep(c));
  const order = topologicalOrder(graph.nodes, new Set([...kept.keys(), ...graph.inputs.map((i) => i.name)]), where);
  // Constants are evaluated once, here, and kept with the weights; so is what ops make of them
  // (Conv's filters in TF.js's layout), unless a feed may replace them (an input's default value).
  const prepared = new Map<OnnxNode, tf.TensorContainer>();
  const dispose = () => {
    kept.forEach((v) => v instanceof HostArray || v.dispose());
    prepared.forEach((p) => tf.dispose(p));
  };
  const fed = new Set(graph.inputs.map((i) => i.name));
  try {
    const constants = new Values(kept);
    for (const node of order.filter((n) => n.opType === 'Constant')) {
      execute(node, constants, graph.opset);
      kept.set(node.outputs[0], constants.nchw(node.outputs[0]) as Value);
    }
    for (const node of order) {
      const prepare = OPS[node.opType].prepare;
      const inputs = node.inputs.map((name) => (fed.has(name) ? undefined : kept.get(name)));
      let made: tf.TensorContainer;
      try {
        made = prepare && tf.tidy(() => prepare(inputs, { node, opset: graph.opset }));
      } catch (e) {
        if (e instanceof AdvxError) throw e;
        throw new AdvxError(`${where}: ONNX node "${node.name}" (${node.opType}) failed on its weights: ${String((e as Error).message).split('\n')[0]}`);
      }
      if (made !== undefined) prepared.set(node, made);
    }
  } catch (e) {
    dispose();
    throw e;
  }
  const steps = order.filter((n) => n.opType !== 'Constant');

  function run(feeds: Record<string, Value>, nhwc: ReadonlySet<string> = new Set()): Value[] {
    const values = new Values(kept);
    for (const input of graph.inputs) {
      const value = feeds[input.name];
      if (value === undefined) throw new AdvxError(`${where}: no value for the input "${input.name}"`);
      values.set(input.name, value, nhwc.has(input.name));
    }
    for (const node of steps) execute(node, values, graph.opset, prepared.get(node));
    return graph.outputs.map((o) => values.nchw(o.name) as Value);
  }

  return {
    inputs: graph.inputs,
    outputs: graph.outputs,
    opset: graph.opset,
    nodes: graph.nodes,
    parameters: [...graph.initializers.values()].reduce((n, c) => n + (c instanceof HostArray ? 0 : c.floats.length), 0),
    run,
    forward: (x, output = 0, nhwc = false) => {
      if (graph.inputs.length !== 1) throw new AdvxError(`${where} has ${graph.inputs.length} inputs; advx's classifiers take one`);
      const name = graph.inputs[0].name;
      return tf.tidy(() => toTensor(run({ [name]: x }, new Set(nhwc ? [name] : []))[output]));
    },
    dispose,
  };
}
