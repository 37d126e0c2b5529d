/**
 * An ONNX graph run as TF.js ops, node by node in topological order, so gradients flow from the
 * logits back to the input like through any TF.js model. Isomorphic: bytes in, no file access.
 */
import * as tf from '@tensorflow/tfjs-core';
import { AdvxError } from '../../core/errors.ts';
import { decodeModel, HostArray, type ConstantValue, type OnnxNode, type ValueInfo } from './proto.ts';
import { OPS, toTensor, unsupported, type Value } from './ops.ts';

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
  /** Runs the graph on named inputs; returns the graph's outputs in order. Call inside tf.tidy. */
  run(feeds: Record<string, Value>): Value[];
  /** The output at index `output` (default the first) for a single input, in the file's layout; tidy. */
  forward(x: tf.Tensor, output?: number): tf.Tensor;
  /** Frees the weights (initializers and constants). */
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

function execute(node: OnnxNode, inputs: Array<Value | undefined>, opset: number): Value[] {
  const op = OPS[node.opType];
  const ctx = { node, opset };
  const given = inputs.filter((v): v is Value => v !== undefined);
  try {
    const host = op.host && given.length > 0 && given.every((v) => v instanceof HostArray) ? op.host(given as HostArray[], ctx) : undefined;
    const out = host ?? op.run(inputs, ctx);
    return Array.isArray(out) ? out : [out];
  } catch (e) {
    if (e instanceof AdvxError) throw e;
    const first = String((e as Error).message).split('\n')[0];
    throw new AdvxError(`ONNX node "${node.name}" (${node.opType}) failed on inputs of shapes ${given.map((v) => `[${v.shape}]`).join(', ')}: ${first}`);
  }
}

/** Imports an .onnx file's bytes; `where` names the file in errors. */
export function importOnnx(bytes: Uint8Array, where = 'the ONNX model'): OnnxModel {
  const graph = decodeModel(bytes, where);
  for (const node of graph.nodes) if (!Object.hasOwn(OPS, node.opType)) throw unsupported(node);
  const kept = new Map<string, Value>();
  for (const [name, c] of graph.initializers) kept.set(name, keep(c));
  const order = topologicalOrder(graph.nodes, new Set([...kept.keys(), ...graph.inputs.map((i) => i.name)]), where);
  // Constants are evaluated once, here, and kept with the weights.
  const dispose = () => kept.forEach((v) => v instanceof HostArray || v.dispose());
  try {
    for (const node of order.filter((n) => n.opType === 'Constant')) kept.set(node.outputs[0], execute(node, [], graph.opset)[0]);
  } catch (e) {
    dispose();
    throw e;
  }
  const steps = order.filter((n) => n.opType !== 'Constant');

  function run(feeds: Record<string, Value>): Value[] {
    const values = new Map<string, Value>(kept);
    for (const input of graph.inputs) {
      const fed = feeds[input.name];
      if (fed === undefined) throw new AdvxError(`${where}: no value for the input "${input.name}"`);
      values.set(input.name, fed);
    }
    for (const node of steps) {
      const outs = execute(node, node.inputs.map((name) => (name === '' ? undefined : values.get(name))), graph.opset);
      node.outputs.forEach((name, i) => outs[i] !== undefined && values.set(name, outs[i]));
    }
    return graph.outputs.map((o) => values.get(o.name) as Value);
  }

  return {
    inputs: graph.inputs,
    outputs: graph.outputs,
    opset: graph.opset,
    nodes: graph.nodes,
    parameters: [...graph.initializers.values()].reduce((n, c) => n + (c instanceof HostArray ? 0 : c.floats.length), 0),
    run,
    forward: (x, output = 0) => {
      if (graph.inputs.length !== 1) throw new AdvxError(`${where} has ${graph.inputs.length} inputs; advx's classifiers take one`);
      return tf.tidy(() => toTensor(run({ [graph.inputs[0].name]: x })[output]));
    },
    dispose,
  };
}
