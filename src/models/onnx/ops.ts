/**
 * ONNX operators as TF.js ops, one table entry per op type (opset 11–18 semantics). Values mean
 * ONNX's NCHW layout; TF.js's convolutions and pools are NHWC, so they are written NHWC and ops
 * that do not care about axis order say so (`nhwc`): the graph (layout.ts) then keeps images
 * NHWC between them and transposes only where an op reads axes by position.
 *
 * Integer values (shapes, axes, indices) stay on the JS side as HostArray, so PyTorch's
 * Shape → Gather → Unsqueeze → Concat → Reshape chains give Reshape plain numbers. An op with a
 * `host` implementation runs it when all its inputs are host values; otherwise it runs on tensors.
 */
import * as tf from '@tensorflow/tfjs-core';
import { AdvxError } from '../../core/errors.ts';
import { HostArray, type Attribute, type OnnxNode } from './proto.ts';

export type Value = tf.Tensor | HostArray;
type Inputs = Array<Value | undefined>;

export interface OpContext {
  node: OnnxNode;
  /** The model's opset for the default domain: some ops changed attributes into inputs. */
  opset: number;
  /** What the op's `prepare` made of its constant inputs at import, if it did. */
  prepared?: unknown;
}

interface Op {
  run(inputs: Inputs, ctx: OpContext): Value | Value[];
  /** Exact JS arithmetic on small integer values; undefined when the case is not covered. */
  host?(inputs: HostArray[], ctx: OpContext): HostArray | undefined;
  /**
   * The op on channels-last images: its `data` inputs (default [0]) arrive NHWC when of rank 4
   * (lower ranks broadcast to 4 as NCHW first) and a rank-4 result leaves NHWC. Without `run` the
   * op's own run serves (elementwise ops). `always`: take NHWC even from an NCHW input (convs and
   * pools, which would transpose anyway); otherwise only when a data input already is NHWC.
   */
  nhwc?: { run?(inputs: Inputs, ctx: OpContext): Value; data?: number[]; always?: boolean };
  /** Work on constant inputs (others undefined) done once at import; handed back as ctx.prepared. */
  prepare?(inputs: Inputs, ctx: OpContext): tf.TensorContainer;
}

/** An op (or a variant of one) the importer does not map: ONNX Runtime may still run the file. */
export class UnsupportedOnnxOp extends AdvxError {}

export function unsupported(node: OnnxNode, detail = ''): AdvxError {
  return new UnsupportedOnnxOp(`ONNX op "${node.opType}"${detail ? ` ${detail}` : ''} (node "${node.name}") is not supported by advx's ONNX importer yet`);
}

// ---- reading inputs and attributes ----

export function toTensor(v: Value): tf.Tensor {
  return v instanceof HostArray ? tf.tensor(v.data, v.shape, v.isInt ? 'int32' : 'float32') : v;
}

/** The numbers in a value: a host array's data; a tensor's (read back, for small constants). */
function numbers(v: Value): number[] {
  return v instanceof HostArray ? v.data : Array.from(v.dataSync());
}

export function shapeOf(v: Value): number[] {
  return v instanceof HostArray ? v.shape : v.shape;
}

function required(inputs: Inputs, i: number, ctx: OpContext): Value {
  const v = inputs[i];
  if (v === undefined) throw new AdvxError(`ONNX node "${ctx.node.name}" (${ctx.node.opType}) lacks its input ${i}`);
  return v;
}

const x0 = (inputs: Inputs, ctx: OpContext) => toTensor(required(inputs, 0, ctx));

type Widened<T> = T extends number ? number : T extends string ? string : T;

function attr<T extends Attribute>(ctx: OpContext, name: string, fallback: T): Widened<T> {
  return ((ctx.node.attributes.get(name) as T | undefined) ?? fallback) as Widened<T>;
}

/** A list that opset `since` moved from an attribute to input `index` (Unsqueeze axes, Pad pads…). */
function listArg(inputs: Inputs, ctx: OpContext, name: string, index: number, since: number): number[] | undefined {
  if (ctx.opset >= since) {
    const v = inputs[index];
    return v === undefined ? undefined : numbers(v);
  }
  return ctx.node.attributes.get(name) as number[] | undefined;
}

const axisOf = (axis: number, rank: number) => (axis < 0 ? axis + rank : axis);

// ---- convolution and pooling (2-D, NHWC) ----

/** A transpose, or a free reshape when it moves no data (the axes longer than 1 keep their order: 1-channel images, [N, C, 1, 1]). */
function permute(x: tf.Tensor, perm: number[]): tf.Tensor {
  const moved = perm.filter((p) => x.shape[p] !== 1);
  const shape = perm.map((p) => x.shape[p]);
  return moved.every((p, i) => i === 0 || moved[i - 1] < p) ? tf.reshape(x, shape) : tf.transpose(x, perm);
}

export const toNhwc = (x: tf.Tensor) => permute(x, [0, 2, 3, 1]);
export const toNchw = (x: tf.Tensor) => permute(x, [0, 3, 1, 2]);

/** An NHWC op on an NCHW input, for when the graph hands it one it could not keep NHWC. */
function viaNhwc(f: (inputs: Inputs, ctx: OpContext) => tf.Tensor) {
  return (inputs: Inputs, ctx: OpContext): tf.Tensor => {
    const x = x0(inputs, ctx);
    check2d(x, ctx);
    return toNchw(f([toNhwc(x), ...inputs.slice(1)], ctx));
  };
}

/** [[top, bottom], [left, right]] from pads or auto_pad, for an input of spatial size `size`. */
function spatialPads(ctx: OpContext, size: number[], kernel: number[], strides: number[], dilations: number[]): Array<[number, number]> {
  const autoPad = attr(ctx, 'auto_pad', 'NOTSET');
  return size.map((n, i) => {
    const k = (kernel[i] - 1) * dilations[i] + 1;
    if (autoPad === 'VALID') return [0, 0];
    if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') {
      const total = Math.max((Math.ceil(n / strides[i]) - 1) * strides[i] + k - n, 0);
      const small = Math.floor(total / 2);
      return autoPad === 'SAME_UPPER' ? [small, total - small] : [total - small, small];
    }
    const pads = attr(ctx, 'pads', [0, 0, 0, 0]);
    return [pads[i], pads[i + size.length]];
  });
}

function check2d(x: tf.Tensor, ctx: OpContext): void {
  if (x.rank !== 4) throw unsupported(ctx.node, `on ${x.rank - 2}-D input (only 2-D images)`);
}

/** Zero-pads (or pads with `value`) the spatial axes of an NHWC tensor. */
function padNhwc(x: tf.Tensor, pads: Array<[number, number]>, value = 0): tf.Tensor {
  if (pads.every(([a, b]) => a === 0 && b === 0)) return x;
  return tf.pad(x, [[0, 0], pads[0], pads[1], [0, 0]], value);
}

/**
 * A dilated filter written out densely, zeros between the taps: TF.js has no gradient for dilated
 * convolutions, and this way it needs none (at the cost of multiplying the zeros too).
 */
function dilateFilter(filter: tf.Tensor, dilations: number[]): tf.Tensor {
  let f = filter;
  dilations.forEach((d, axis) => {
    if (d === 1) return;
    const [k, ...rest] = (axis === 0 ? f.shape : [f.shape[1], f.shape[0], ...f.shape.slice(2)]) as number[];
    let g = axis === 0 ? f : tf.transpose(f, [1, 0, 2, 3]);
    g = tf.pad(tf.reshape(g, [k, 1, ...rest]), [[0, 0], [0, d - 1], ...rest.map(() => [0, 0] as [number, number])]);
    g = tf.slice(tf.reshape(g, [k * d, ...rest]), 0, (k - 1) * d + 1);
    f = axis === 0 ? g : tf.transpose(g, [1, 0, 2, 3]);
  });
  return f;
}

/** A Conv's weights in TF.js's layout: one [kh, kw, in, out] filter per group, or one depthwise [kh, kw, C, m]. */
type ConvFilters = {
  depthwise: boolean;
  filters: tf.Tensor4D[];
};

/** ConvFilters from ONNX's [out, in / group, kh, kw]; made at import for constant weights (most models). */
function convFilters(w: tf.Tensor, ctx: OpContext): ConvFilters {
  const [outChannels, perGroup, kh, kw] = w.shape;
  const group = attr(ctx, 'group', 1);
  const dilations = attr(ctx, 'dilations', [1, 1]);
  const dense = (weights: tf.Tensor) => dilateFilter(tf.transpose(weights, [2, 3, 1, 0]), dilations) as tf.Tensor4D;
  if (group === 1) return { depthwise: false, filters: [dense(w)] };
  // Depthwise (one input channel per group): output channel c·m + j reads input channel c, as TF.js's [kh, kw, C, m] filter.
  if (perGroup === 1) return { depthwise: true, filters: [dilateFilter(tf.transpose(tf.reshape(w, [group, outChannels / group, kh, kw]), [2, 3, 0, 1]), dilations) as tf.Tensor4D] };
  return { depthwise: false, filters: tf.split(w, group, 0).map(dense) };
}

function conv(inputs: Inputs, ctx: OpContext): tf.Tensor {
  const x = x0(inputs, ctx) as tf.Tensor4D;
  const w = required(inputs, 1, ctx);
  const [, , kh, kw] = shapeOf(w);
  const { depthwise, filters } = (ctx.prepared as ConvFilters | undefined) ?? convFilters(toTensor(w), ctx);
  const strides = attr(ctx, 'strides', [1, 1]) as [number, number];
  const [top, left] = spatialPads(ctx, x.shape.slice(1, 3), [kh, kw], strides, attr(ctx, 'dilations', [1, 1]));
  // Explicit padding rather than tf.pad: the kernels pad on the fly, sparing a copy of x (and of dy in the gradient).
  const pad: tf.backend_util.ExplicitPadding = [[0, 0], top, left, [0, 0]];
  const bias = inputs[2] === undefined ? undefined : toTensor(inputs[2]);
  // TF.js fuses the bias into a plain convolution (its fused depthwise takes no explicit pads).
  if (!depthwise && filters.length === 1) return tf.fused.conv2d({ x, filter: filters[0], strides, pad, bias });
  const y = depthwise
    ? tf.depthwiseConv2d(x, filters[0], strides, pad)
    : tf.concat(tf.split(x, filters.length, 3).map((xi, g) => tf.conv2d(xi as tf.Tensor4D, filters[g], strides, pad)), 3);
  return bias === undefined ? y : tf.add(y, bias);
}

function prepareConv(inputs: Inputs, ctx: OpContext): ConvFilters | undefined {
  const w = inputs[1];
  return w instanceof tf.Tensor && w.rank === 4 ? convFilters(w, ctx) : undefined;
}

/** The kernel, strides and padding of a pooling node; ceil_mode becomes extra padding at the end. */
function poolGeometry(x: tf.Tensor, ctx: OpContext) {
  check2d(x, ctx);
  if (attr(ctx, 'dilations', [1, 1]).some((d) => d !== 1)) throw unsupported(ctx.node, 'with dilations');
  const kernel = attr(ctx, 'kernel_shape', [1, 1]) as [number, number];
  const strides = attr(ctx, 'strides', [1, 1]) as [number, number];
  const size = x.shape.slice(1, 3);
  const pads = spatialPads(ctx, size, kernel, strides, [1, 1]);
  const extra = size.map((n, i) => {
    if (!attr(ctx, 'ceil_mode', 0)) return 0;
    const span = n + pads[i][0] + pads[i][1] - kernel[i];
    let out = Math.ceil(span / strides[i]) + 1;
    // As PyTorch and onnxruntime: the last window must start inside the input or its left padding.
    if ((out - 1) * strides[i] >= n + pads[i][0]) out--;
    return Math.max(0, (out - 1) * strides[i] + kernel[i] - (n + pads[i][0] + pads[i][1]));
  });
  return { kernel, strides, pads, extra };
}

function maxPool(inputs: Inputs, ctx: OpContext): tf.Tensor {
  if (ctx.node.outputs[1]) throw unsupported(ctx.node, 'with an Indices output');
  const x = x0(inputs, ctx);
  const { kernel, strides, pads, extra } = poolGeometry(x, ctx);
  const padded = padNhwc(x, pads.map(([a, b], i) => [a, b + extra[i]]), -Infinity);
  return tf.maxPool(padded as tf.Tensor4D, kernel, strides, 'valid');
}

/**
 * Average pooling as sum / count: the count is the same pooling of a mask that is 1 on the input,
 * 1 on explicit padding when count_include_pad, and 0 on ceil_mode's extra cells (as PyTorch).
 */
function averagePool(inputs: Inputs, ctx: OpContext): tf.Tensor {
  const x = x0(inputs, ctx);
  const { kernel, strides, pads, extra } = poolGeometry(x, ctx);
  const nhwc = x as tf.Tensor4D;
  const full = pads.map(([a, b], i) => [a, b + extra[i]] as [number, number]);
  const pool = (t: tf.Tensor) => tf.avgPool(t as tf.Tensor4D, kernel, strides, 'valid');
  if (full.every(([a, b]) => a === 0 && b === 0)) return pool(nhwc);
  const ones = tf.ones([1, ...nhwc.shape.slice(1, 3), 1]);
  const include = attr(ctx, 'count_include_pad', 0) ? 1 : 0;
  const mask = padNhwc(padNhwc(ones, pads, include), extra.map((e) => [0, e] as [number, number]), 0);
  return tf.div(pool(padNhwc(nhwc, full)), pool(mask));
}

/** Inference batch norm; the per-channel parameters broadcast on axis 1 (NCHW) or the last (NHWC). */
function batchNorm(inputs: Inputs, ctx: OpContext, channelsLast: boolean): tf.Tensor {
  if (attr(ctx, 'training_mode', 0)) throw unsupported(ctx.node, 'in training mode');
  const x = x0(inputs, ctx);
  const perChannel = (i: number) => tf.reshape(toTensor(required(inputs, i, ctx)), channelsLast ? [-1] : [-1, ...x.shape.slice(2).map(() => 1)]);
  const [scale, bias, mean, variance] = [1, 2, 3, 4].map(perChannel);
  const factor = tf.div(scale, tf.sqrt(tf.add(variance, attr(ctx, 'epsilon', 1e-5))));
  return tf.add(tf.mul(tf.sub(x, mean), factor), bias);
}

// ---- shapes ----

function reshapeTarget(shape: number[], target: number[], ctx: OpContext): number[] {
  const allowZero = attr(ctx, 'allowzero', 0);
  const dims = target.map((d, i) => (d === 0 && !allowZero ? shape[i] : d));
  const known = dims.filter((d) => d !== -1).reduce((a, b) => a * b, 1);
  const size = shape.reduce((a, b) => a * b, 1);
  return dims.map((d) => (d === -1 ? size / known : d));
}

/** The 2-D shape of Flatten at `axis`. */
function flattenShape(shape: number[], at: number): number[] {
  const axis = axisOf(at, shape.length);
  const prod = (s: number[]) => s.reduce((a, b) => a * b, 1);
  return [prod(shape.slice(0, axis)), prod(shape.slice(axis))];
}

function unsqueezeShape(shape: number[], axes: number[]): number[] {
  const rank = shape.length + axes.length;
  const at = new Set(axes.map((a) => axisOf(a, rank)));
  const rest = [...shape];
  return Array.from({ length: rank }, (_, i) => (at.has(i) ? 1 : (rest.shift() as number)));
}

function squeezeShape(shape: number[], axes: number[] | undefined): number[] {
  const at = new Set((axes ?? shape.flatMap((d, i) => (d === 1 ? [i] : []))).map((a) => axisOf(a, shape.length)));
  return shape.filter((_, i) => !at.has(i));
}

/** ONNX Slice's ranges, clamped (starts and ends may be ±int64 max), per axis of the input. */
function sliceRanges(shape: number[], inputs: Inputs, ctx: OpContext) {
  const starts = listArg(inputs, ctx, 'starts', 1, 10) ?? [];
  const ends = listArg(inputs, ctx, 'ends', 2, 10) ?? [];
  const axes = (listArg(inputs, ctx, 'axes', 3, 10) ?? starts.map((_, i) => i)).map((a) => axisOf(a, shape.length));
  const steps = (ctx.opset >= 10 && inputs[4] !== undefined ? numbers(inputs[4]) : undefined) ?? starts.map(() => 1);
  const ranges = shape.map((n) => ({ start: 0, end: n, step: 1 }));
  axes.forEach((axis, i) => {
    const n = shape[axis];
    const step = steps[i];
    const at = (v: number) => (v < 0 ? v + n : v);
    const clamp = (v: number, lo: number, hi: number) => Math.min(Math.max(v, lo), hi);
    ranges[axis] = step > 0 ? { start: clamp(at(starts[i]), 0, n), end: clamp(at(ends[i]), 0, n), step } : { start: clamp(at(starts[i]), 0, n - 1), end: clamp(at(ends[i]), -1, n - 1), step };
  });
  return ranges;
}

function slice(inputs: Inputs, ctx: OpContext): tf.Tensor {
  const x = x0(inputs, ctx);
  const ranges = sliceRanges(x.shape, inputs, ctx);
  // An end of -1 with a negative step means "through index 0": TF.js needs the end mask for that.
  const endMask = ranges.reduce((mask, r, i) => (r.step < 0 && r.end === -1 ? mask | (1 << i) : mask), 0);
  return tf.stridedSlice(x, ranges.map((r) => r.start), ranges.map((r) => r.end), ranges.map((r) => r.step), 0, endMask);
}

function hostSlice([x]: HostArray[], inputs: Inputs, ctx: OpContext): HostArray | undefined {
  if (x.shape.length !== 1) return undefined;
  const [{ start, end, step }] = sliceRanges(x.shape, inputs, ctx);
  const data: number[] = [];
  for (let i = start; step > 0 ? i < end : i > end; i += step) data.push(x.data[i]);
  return new HostArray([data.length], data, x.isInt);
}

/** Pad; on an NHWC image (`channelsLast`) the pads, given for NCHW, are permuted to match. */
function pad(inputs: Inputs, ctx: OpContext, channelsLast = false): tf.Tensor {
  const x = x0(inputs, ctx);
  const mode = attr(ctx, 'mode', 'constant');
  const given = listArg(inputs, ctx, 'pads', 1, 11) ?? [];
  const value = ctx.opset >= 11 ? (inputs[2] === undefined ? 0 : numbers(inputs[2])[0]) : attr(ctx, 'value', 0);
  const axes = (ctx.opset >= 18 && inputs[3] !== undefined ? numbers(inputs[3]) : x.shape.map((_, i) => i)).map((a) => axisOf(a, x.rank));
  const nchw = x.shape.map(() => [0, 0] as [number, number]);
  axes.forEach((axis, i) => (nchw[axis] = [given[i], given[i + axes.length]]));
  const pads = channelsLast ? [0, 2, 3, 1].map((a) => nchw[a]) : nchw;
  const grow = pads.map(([a, b]) => [Math.max(a, 0), Math.max(b, 0)] as [number, number]);
  let y: tf.Tensor;
  if (mode === 'constant') y = tf.pad(x, grow, value);
  else if (mode === 'reflect') y = tf.mirrorPad(x, grow, 'reflect');
  else throw unsupported(ctx.node, `with mode "${mode}"`);
  // Negative pads crop.
  if (pads.every(([a, b]) => a >= 0 && b >= 0)) return y;
  const begin = pads.map(([a]) => Math.max(-a, 0));
  return tf.slice(y, begin, y.shape.map((n, i) => n - begin[i] - Math.max(-pads[i][1], 0)));
}

// ---- arithmetic ----

/** numpy's matmul: 1-D operands are promoted and their axis dropped; batch axes broadcast. */
function matMul(a: tf.Tensor, b: tf.Tensor, transA = false, transB = false): tf.Tensor {
  const a2 = a.rank === 1 ? tf.reshape(a, [1, -1]) : a;
  const b2 = b.rank === 1 ? tf.reshape(b, [-1, 1]) : b;
  const batchA = a2.shape.slice(0, -2);
  const batchB = b2.shape.slice(0, -2);
  let y: tf.Tensor;
  if (batchA.length === 0 && batchB.length === 0) {
    y = tf.matMul(a2, b2, transA, transB);
  } else {
    const batch = tf.broadcast_util.assertAndGetBroadcastShape(batchA, batchB);
    y = tf.matMul(tf.broadcastTo(a2, [...batch, ...a2.shape.slice(-2)]), tf.broadcastTo(b2, [...batch, ...b2.shape.slice(-2)]), transA, transB);
  }
  if (a.rank === 1) y = tf.squeeze(y, [y.rank - 2]);
  if (b.rank === 1) y = tf.squeeze(y, [y.rank - 1]);
  return y;
}

function gemm(inputs: Inputs, ctx: OpContext): tf.Tensor {
  let y = tf.matMul(x0(inputs, ctx), toTensor(required(inputs, 1, ctx)), attr(ctx, 'transA', 0) === 1, attr(ctx, 'transB', 0) === 1);
  const alpha = attr(ctx, 'alpha', 1);
  const beta = attr(ctx, 'beta', 1);
  if (alpha !== 1) y = tf.mul(y, alpha);
  if (inputs[2] !== undefined) y = tf.add(y, beta === 1 ? toTensor(inputs[2]) : tf.mul(toTensor(inputs[2]), beta));
  return y;
}

/** Elementwise binary ops; the host version covers equal sizes and a scalar side (shape arithmetic). */
function binary(op: (a: tf.Tensor, b: tf.Tensor) => tf.Tensor, js: (a: number, b: number) => number): Op {
  return {
    run: (inputs, ctx) => op(x0(inputs, ctx), toTensor(required(inputs, 1, ctx))),
    nhwc: { data: [0, 1] },
    host: ([a, b]) => {
      const isInt = a.isInt && b.isInt;
      const f = isInt ? (p: number, q: number) => Math.trunc(js(p, q)) : js;
      if (a.data.length === b.data.length && a.shape.length === b.shape.length) return new HostArray(a.shape, a.data.map((v, i) => f(v, b.data[i])), isInt);
      if (b.data.length === 1 && b.shape.length === 0) return new HostArray(a.shape, a.data.map((v) => f(v, b.data[0])), isInt);
      if (a.data.length === 1 && a.shape.length === 0) return new HostArray(b.shape, b.data.map((v) => f(a.data[0], v)), isInt);
      return undefined;
    },
  };
}

/** Elementwise unary ops: any layout. */
function unary(op: (x: tf.Tensor) => tf.Tensor): Op {
  return { run: (inputs, ctx) => op(x0(inputs, ctx)), nhwc: {} };
}

/** Softmax and LogSoftmax: opset 13 works along one axis (default −1); before, on the input flattened to 2-D at `axis` (default 1). */
function softmaxLike(op: (logits: tf.Tensor) => tf.Tensor): Op {
  return {
    run: (inputs, ctx) => {
      const x = x0(inputs, ctx);
      if (ctx.opset < 13) return tf.reshape(op(tf.reshape(x, flattenShape(x.shape, attr(ctx, 'axis', 1)))), x.shape);
      const axis = axisOf(attr(ctx, 'axis', -1), x.rank);
      if (axis === x.rank - 1) return op(x);
      const perm = x.shape.map((_, i) => i);
      [perm[axis], perm[x.rank - 1]] = [perm[x.rank - 1], perm[axis]];
      return tf.transpose(op(tf.transpose(x, perm)), perm);
    },
  };
}

function reduce(op: (x: tf.Tensor, axes: number[], keepDims: boolean) => tf.Tensor, axesInputSince: number): Op {
  return {
    run: (inputs, ctx) => {
      const x = x0(inputs, ctx);
      const axes = listArg(inputs, ctx, 'axes', 1, axesInputSince);
      const all = axes === undefined || axes.length === 0;
      if (all && attr(ctx, 'noop_with_empty_axes', 0)) return x;
      return op(x, all ? x.shape.map((_, i) => i) : axes.map((a) => axisOf(a, x.rank)), attr(ctx, 'keepdims', 1) === 1);
    },
  };
}

const FLOAT_CASTS = new Set([1, 10, 11]);
const INT_CASTS = new Set([2, 3, 4, 5, 6, 7, 12, 13]);
const BOOL_CAST = 9;

function castTarget(ctx: OpContext): 'float' | 'int' | 'bool' {
  const to = attr(ctx, 'to', 1);
  if (FLOAT_CASTS.has(to)) return 'float';
  if (INT_CASTS.has(to)) return 'int';
  if (to === BOOL_CAST) return 'bool';
  throw unsupported(ctx.node, `to data type ${to}`);
}

const identity: Op = { run: (inputs, ctx) => required(inputs, 0, ctx), host: ([x]) => x, nhwc: {} };

/** Every mapped op type. */
export const OPS: Record<string, Op> = {
  Conv: { run: viaNhwc(conv), nhwc: { run: conv, always: true }, prepare: prepareConv },
  MaxPool: { run: viaNhwc(maxPool), nhwc: { run: maxPool, always: true } },
  AveragePool: { run: viaNhwc(averagePool), nhwc: { run: averagePool, always: true } },
  GlobalAveragePool: { ...unary((x) => tf.mean(x, x.shape.map((_, i) => i).slice(2), true)), nhwc: { run: (inputs, ctx) => tf.mean(x0(inputs, ctx), [1, 2], true) } },
  GlobalMaxPool: { ...unary((x) => tf.max(x, x.shape.map((_, i) => i).slice(2), true)), nhwc: { run: (inputs, ctx) => tf.max(x0(inputs, ctx), [1, 2], true) } },
  BatchNormalization: { run: (inputs, ctx) => batchNorm(inputs, ctx, false), nhwc: { run: (inputs, ctx) => batchNorm(inputs, ctx, true) } },
  Gemm: { run: gemm },
  MatMul: { run: (inputs, ctx) => matMul(x0(inputs, ctx), toTensor(required(inputs, 1, ctx))) },
  Add: binary(tf.add, (a, b) => a + b),
  Sub: binary(tf.sub, (a, b) => a - b),
  Mul: binary(tf.mul, (a, b) => a * b),
  Div: binary(tf.div, (a, b) => a / b),
  Pow: binary(tf.pow, (a, b) => a ** b),
  Relu: unary(tf.relu),
  LeakyRelu: { run: (inputs, ctx) => tf.leakyRelu(x0(inputs, ctx), attr(ctx, 'alpha', 0.01)), nhwc: {} },
  Sigmoid: unary(tf.sigmoid),
  Tanh: unary(tf.tanh),
  Abs: unary(tf.abs),
  Neg: unary(tf.neg),
  Exp: unary(tf.exp),
  Log: unary(tf.log),
  Sqrt: unary(tf.sqrt),
  Erf: unary(tf.erf),
  Reciprocal: unary(tf.reciprocal),
  Softmax: softmaxLike(tf.softmax),
  LogSoftmax: softmaxLike(tf.logSoftmax),
  Clip: {
    run: (inputs, ctx) => {
      const bound = (i: number, name: string, fallback: number) => (ctx.opset >= 11 ? (inputs[i] === undefined ? fallback : numbers(inputs[i])[0]) : attr(ctx, name, fallback));
      return tf.clipByValue(x0(inputs, ctx), bound(1, 'min', -Infinity), bound(2, 'max', Infinity));
    },
    nhwc: {},
  },
  ReduceMean: reduce(tf.mean, 18),
  ReduceSum: reduce(tf.sum, 13),
  ReduceMax: reduce(tf.max, 18),
  Flatten: {
    run: (inputs, ctx) => tf.reshape(x0(inputs, ctx), flattenShape(shapeOf(required(inputs, 0, ctx)), attr(ctx, 'axis', 1))),
    host: ([x], ctx) => new HostArray(flattenShape(x.shape, attr(ctx, 'axis', 1)), x.data, x.isInt),
  },
  Reshape: {
    run: (inputs, ctx) => tf.reshape(x0(inputs, ctx), reshapeTarget(shapeOf(required(inputs, 0, ctx)), numbers(required(inputs, 1, ctx)), ctx)),
    host: ([x, shape], ctx) => new HostArray(reshapeTarget(x.shape, shape.data, ctx), x.data, x.isInt),
  },
  Transpose: {
    run: (inputs, ctx) => {
      const x = x0(inputs, ctx);
      return tf.transpose(x, attr(ctx, 'perm', x.shape.map((_, i) => x.rank - 1 - i)));
    },
  },
  Concat: {
    run: (inputs, ctx) => {
      const xs = inputs.filter((v): v is Value => v !== undefined).map(toTensor);
      return tf.concat(xs, axisOf(attr(ctx, 'axis', 0), xs[0].rank));
    },
    host: (xs) => (xs.every((x) => x.shape.length === 1) ? new HostArray([xs.reduce((n, x) => n + x.data.length, 0)], xs.flatMap((x) => x.data), xs.every((x) => x.isInt)) : undefined),
  },
  Pad: { run: (inputs, ctx) => pad(inputs, ctx), nhwc: { run: (inputs, ctx) => pad(inputs, ctx, true) } },
  Shape: {
    run: (inputs, ctx) => {
      const shape = shapeOf(required(inputs, 0, ctx));
      const start = axisOf(attr(ctx, 'start', 0), shape.length);
      const end = axisOf(attr(ctx, 'end', shape.length), shape.length);
      const dims = shape.slice(Math.max(start, 0), Math.min(end, shape.length));
      return new HostArray([dims.length], dims, true);
    },
  },
  Gather: {
    run: (inputs, ctx) => {
      const data = x0(inputs, ctx);
      const indices = required(inputs, 1, ctx);
      const axis = axisOf(attr(ctx, 'axis', 0), data.rank);
      const positive = numbers(indices).map((i) => (i < 0 ? i + data.shape[axis] : i));
      return tf.gather(data, tf.tensor(positive, shapeOf(indices), 'int32'), axis);
    },
    host: ([data, indices]) => {
      if (data.shape.length !== 1) return undefined;
      const picked = indices.data.map((i) => data.data[i < 0 ? i + data.data.length : i]);
      return new HostArray(indices.shape, picked, data.isInt);
    },
  },
  Unsqueeze: {
    run: (inputs, ctx) => tf.reshape(x0(inputs, ctx), unsqueezeShape(shapeOf(required(inputs, 0, ctx)), listArg(inputs, ctx, 'axes', 1, 13) ?? [])),
    host: ([x, axes], ctx) => new HostArray(unsqueezeShape(x.shape, ctx.opset >= 13 ? axes.data : attr(ctx, 'axes', [])), x.data, x.isInt),
  },
  Squeeze: {
    run: (inputs, ctx) => tf.reshape(x0(inputs, ctx), squeezeShape(shapeOf(required(inputs, 0, ctx)), listArg(inputs, ctx, 'axes', 1, 13))),
    host: ([x, axes], ctx) => new HostArray(squeezeShape(x.shape, ctx.opset >= 13 ? axes?.data : (ctx.node.attributes.get('axes') as number[] | undefined)), x.data, x.isInt),
  },
  Slice: { run: slice, host: (xs, ctx) => hostSlice(xs, xs, ctx) },
  Identity: identity,
  Dropout: {
    // Inference: dropout passes its input through, and its mask (when asked for) keeps everything.
    run: (inputs, ctx) => {
      const x = required(inputs, 0, ctx);
      const training = ctx.opset >= 12 && inputs[2] !== undefined && numbers(inputs[2])[0] !== 0;
      const ratio = ctx.opset >= 12 ? (inputs[1] === undefined ? 0.5 : numbers(inputs[1])[0]) : attr(ctx, 'ratio', 0.5);
      if (training && ratio !== 0) throw unsupported(ctx.node, 'in training mode');
      return ctx.node.outputs[1] ? [x, tf.cast(tf.onesLike(toTensor(x)), 'bool')] : x;
    },
  },
  Cast: {
    run: (inputs, ctx) => {
      const target = castTarget(ctx);
      return tf.cast(x0(inputs, ctx), target === 'float' ? 'float32' : target === 'int' ? 'int32' : 'bool');
    },
    host: ([x], ctx) => {
      const target = castTarget(ctx);
      const data = target === 'float' ? x.data : x.data.map((v) => (target === 'bool' ? Number(v !== 0) : Math.trunc(v)));
      return new HostArray(x.shape, data, target !== 'float');
    },
  },
  Constant: {
    run: (_, ctx) => {
      const a = ctx.node.attributes;
      const v = a.get('value') ?? a.get('value_float') ?? a.get('value_floats') ?? a.get('value_int') ?? a.get('value_ints');
      if (v === undefined) throw unsupported(ctx.node, 'without a numeric value');
      if (v instanceof HostArray) return v;
      if (typeof v === 'object' && 'floats' in v) return tf.tensor(v.floats, v.shape, 'float32');
      const isInt = a.has('value_int') || a.has('value_ints');
      return Array.isArray(v) ? new HostArray([v.length], v as number[], isInt) : new HostArray([], [v as number], isInt);
    },
  },
};
