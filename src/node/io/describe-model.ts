/**
 * What advx sees of a loaded model, for `advx inspect`: its format, inputs and outputs (and the
 * layout advx uses), the classifier's settings and where each came from, its size, the op types a
 * graph uses (with whether TF.js has their gradients), and one forward pass's time.
 */
import * as tf from '@tensorflow/tfjs-core';
import { isBinaryHead, type OutputKind } from '../../models/classifier.ts';
import { graphNodes, type InfoKey, type InfoSource, type LoadedModel } from './load-model.ts';
import { readModelArtifacts } from './model-files.ts';
import { median } from '../../core/arrays.ts';
import { kernelInfo, type KernelInfo } from '../../backend/index.ts';
import { relaxedSimdAllowed } from '../../backend/relaxed-simd.ts';

export type Availability = 'yes' | 'no' | 'unknown' | 'n/a';

export interface OpCount {
  op: string;
  count: number;
  /** The TF.js kernel the op runs as, when it could be told (graph models). */
  kernel?: string;
  /** Whether TF.js can take the gradient through it: n/a for ops that carry no float values (graph models). */
  gradient?: Availability;
  /** Whether the wasm backend has a kernel for it. */
  wasm?: Availability;
}

export interface ModelDescription {
  model: string;
  format: 'layers' | 'graph' | 'onnx';
  /** In words: "TF.js layers", "TF.js graph", "ONNX opset 13". */
  formatName: string;
  opset?: number;
  inputs: Array<{ name: string; shape: number[] }>;
  /** The input as advx feeds it, without batch. */
  inputShape: number[];
  /** The layout: "NCHW in the file, NHWC to advx", "NHWC", "flat vector"… */
  layout: string;
  outputs: Array<{ name: string; shape: number[]; used: boolean }>;
  outputName: string;
  numClasses: number;
  classNames: string[] | null;
  /** logits, probabilities, sigmoid (binary) or logit (binary). */
  output: string;
  /** The op or activation that ends the used output, when known. */
  lastOp: string | null;
  bounds: [number, number];
  preprocessing: Record<string, unknown> | null;
  sources: Record<InfoKey, InfoSource>;
  infoFile: string | null;
  labelsFile: string | null;
  parameters: number;
  /** Layer classes and their counts (layers models). */
  layers?: Array<{ type: string; count: number }>;
  /** Op types and their counts (graph and ONNX models). */
  ops?: OpCount[];
  /** One line on gradients: all available, which are missing, or that it is unknown. */
  gradients: string;
  backend: string;
  /** The backend's kernels: advx's native SIMD kernels or not, their threads, relaxed SIMD on or off. */
  kernels: KernelInfo;
  /** Median of 5 forward passes on a batch of 1 after one warm-up, ms; null when the input has a free dimension. */
  forwardMs: number | null;
}

/** Graph ops that only route or hold values: no kernel of their own to differentiate. */
const STRUCTURAL = new Set(['Placeholder', 'Const', 'Identity', 'IdentityN', 'NoOp', 'StopGradient', 'Snapshot', 'Shape', 'ShapeN', 'Size', 'Rank']);

/** Converter op names whose TF.js kernel has another name. */
const KERNEL_OF: Record<string, string> = {
  AddV2: 'Add',
  BiasAdd: 'Add',
  MatMul: 'BatchMatMul',
  BatchMatMulV2: 'BatchMatMul',
  BatchMatMulV3: 'BatchMatMul',
  _FusedConv2D: 'FusedConv2D',
  FusedDepthwiseConv2dNative: 'FusedDepthwiseConv2D',
  Mul: 'Multiply',
  Div: 'RealDiv',
  FusedBatchNorm: 'FusedBatchNorm',
  FusedBatchNormV2: 'FusedBatchNorm',
  FusedBatchNormV3: 'FusedBatchNorm',
  ConcatV2: 'Concat',
  Squeeze: 'Reshape',
  ExpandDims: 'Reshape',
  Pad: 'PadV2',
  GatherV2: 'GatherV2',
  Relu6: 'Relu6',
};

/** Kernels whose op takes its gradient with tf.customGrad, so no gradient is registered under the kernel's name. */
const CUSTOM_GRADIENT = new Set(['_FusedMatMul', 'FusedConv2D', 'FusedDepthwiseConv2D', 'LogSoftmax']);

function hasKernel(kernel: string): boolean {
  return ['cpu', 'wasm', 'webgl', 'webgpu', 'tensorflow'].some((b) => tf.getKernel(kernel, b) !== undefined);
}

/** An op of a TF.js graph model: the kernel it runs as, and whether its gradient and a wasm kernel exist. */
export function graphOpSupport(op: string): Omit<OpCount, 'op' | 'count'> {
  if (STRUCTURAL.has(op)) return { gradient: 'n/a', wasm: 'n/a' };
  const kernel = KERNEL_OF[op] ?? op;
  if (!hasKernel(kernel)) return { gradient: 'unknown', wasm: 'unknown' };
  const wasmRegistered = tf.findBackendFactory('wasm') !== null;
  return {
    kernel,
    gradient: CUSTOM_GRADIENT.has(kernel) || tf.getGradient(kernel) !== undefined ? 'yes' : 'no',
    wasm: wasmRegistered ? (tf.getKernel(kernel, 'wasm') !== undefined ? 'yes' : 'no') : 'unknown',
  };
}

function counts(names: string[]): Array<{ type: string; count: number }> {
  const m = new Map<string, number>();
  for (const n of names) m.set(n, (m.get(n) ?? 0) + 1);
  return [...m].map(([type, count]) => ({ type, count })).sort((a, b) => b.count - a.count || a.type.localeCompare(b.type));
}

function layoutOf(loaded: LoadedModel): string {
  const advx = loaded.classifier.info.inputShape;
  const file = loaded.summary.inputs[0]?.shape.slice(1) ?? [];
  if (loaded.summary.format === 'onnx' && file.length === 3) return 'NCHW in the file, NHWC to advx';
  if (advx.length === 3) return 'NHWC';
  if (advx.length === 1) return 'flat vector';
  return `rank ${advx.length}`;
}


/** Median time of 5 forward passes on a batch of 1 (inputs at the middle of the bounds), after one warm-up; ms. */
export async function timeForward(loaded: LoadedModel, runs = 5): Promise<number | null> {
  const { inputShape, bounds } = loaded.classifier.info;
  if (inputShape.some((d) => !(d > 0))) return null;
  const x = tf.fill([1, ...inputShape], (bounds[0] + bounds[1]) / 2);
  const once = async () => {
    const y = loaded.classifier.logits(x);
    await y.data();
    y.dispose();
  };
  try {
    await once();
    const times: number[] = [];
    for (let i = 0; i < runs; i++) {
      const start = performance.now();
      await once();
      times.push(performance.now() - start);
    }
    return median(times);
  } finally {
    x.dispose();
  }
}

/** Describes a model that `loadClassifier(path)` loaded. */
export async function describeModel(path: string, loaded: LoadedModel): Promise<ModelDescription> {
  const { summary, classifier } = loaded;
  const info = classifier.info;
  let layers: ModelDescription['layers'];
  let ops: OpCount[] | undefined;
  let gradients: string;
  if (summary.format === 'layers' && loaded.layers) {
    layers = counts(loaded.layers.layers.map((l) => l.getClassName()));
    gradients = 'available (TF.js layers are differentiable)';
  } else if (summary.format === 'onnx' && loaded.onnx) {
    ops = counts(loaded.onnx.nodes.map((n) => n.opType)).map(({ type, count }) => ({ op: type, count }));
    gradients = 'available (every op is imported as TF.js ops; an op advx cannot import fails the load)';
  } else {
    const nodes = graphNodes(await readModelArtifacts(path));
    ops = counts(nodes.map((n) => n.op)).map(({ type, count }) => ({ op: type, count, ...graphOpSupport(type) }));
    const missing = ops.filter((o) => o.gradient === 'no').map((o) => o.op);
    const unknown = ops.filter((o) => o.gradient === 'unknown').map((o) => o.op);
    gradients = [missing.length ? `missing for ${missing.join(', ')}` : '', unknown.length ? `unknown for ${unknown.join(', ')}` : ''].filter(Boolean).join('; ') || 'available for every op';
  }
  return {
    model: path,
    format: summary.format,
    formatName: summary.format === 'onnx' ? `ONNX opset ${summary.opset}` : `TF.js ${summary.format}`,
    ...(summary.opset !== undefined ? { opset: summary.opset } : {}),
    inputs: summary.inputs,
    inputShape: info.inputShape,
    layout: layoutOf(loaded),
    outputs: summary.outputs.map((o) => ({ ...o, used: o.name === summary.outputName })),
    outputName: summary.outputName,
    numClasses: info.numClasses,
    classNames: info.classNames ?? null,
    output: info.output ?? 'logits',
    lastOp: summary.lastOp ?? null,
    bounds: info.bounds,
    preprocessing: info.preprocessing ? { ...info.preprocessing } : null,
    sources: summary.sources,
    infoFile: summary.infoFound ? summary.infoPath : null,
    labelsFile: summary.labelsFile ?? null,
    parameters: summary.parameters,
    ...(layers ? { layers } : {}),
    ...(ops ? { ops } : {}),
    gradients,
    backend: tf.getBackend(),
    kernels: await kernelInfo(),
    forwardMs: await timeForward(loaded),
  };
}

const shapeText = (shape: number[]) => `[${shape.map((d) => (d < 0 ? '?' : d)).join(', ')}]`;

const OUTPUT_WORDS: Record<string, string> = {
  logits: 'logits',
  probabilities: 'probabilities (advx takes their log as logits)',
  sigmoid: 'sigmoid binary: one probability p, seen as the logits [0, log(p/(1−p))]',
  logit: 'single-logit binary: one logit z, seen as the logits [0, z]',
};

/** The description as lines of text. */
export function describeText(d: ModelDescription): string {
  const src = (key: InfoKey) => `(${d.sources[key]})`;
  const names = d.classNames ? `: ${d.classNames.slice(0, 10).join(', ')}${d.classNames.length > 10 ? `, … (${d.classNames.length - 10} more)` : ''}` : '';
  const rows: Array<[string, string]> = [
    ['format', d.formatName],
    ...d.inputs.map((i, k): [string, string] => [k === 0 ? 'input' : '', `${i.name} ${shapeText(i.shape)}`]),
    ['layout', `${d.layout}; advx feeds ${shapeText([-1, ...d.inputShape])} ${src('inputShape')}`],
    ...d.outputs.map((o, k): [string, string] => [k === 0 ? (d.outputs.length > 1 ? 'outputs' : 'output') : '', `${o.name} ${shapeText(o.shape)}${o.used && d.outputs.length > 1 ? ' ← used' : ''}`]),
    ['classes', `${d.numClasses}${isBinaryHead(d.output as OutputKind) ? ' (binary)' : ''}${names} ${src('numClasses')}${d.labelsFile ? `, names from ${d.labelsFile}` : d.classNames && d.sources.classNames !== d.sources.numClasses ? `, names ${src('classNames')}` : ''}`],
    ['head', `${OUTPUT_WORDS[d.output] ?? d.output} ${src('output')}${d.lastOp ? `; last op ${d.lastOp}` : ''}`],
    ['bounds', `[${d.bounds.join(', ')}] ${src('bounds')}`],
    ['preprocessing', `${d.preprocessing ? JSON.stringify(d.preprocessing) : 'none'} ${src('preprocessing')}`],
    ['advx.json', d.infoFile ?? 'none'],
    ['parameters', d.parameters.toLocaleString('en-US')],
  ];
  if (d.layers) rows.push(['layers', d.layers.map((l) => `${l.type} ×${l.count}`).join(', ')]);
  if (d.ops) {
    const mark = (o: OpCount) => (o.gradient === 'no' ? ' (no gradient!)' : o.gradient === 'unknown' ? ' (gradient?)' : '');
    rows.push(['ops', d.ops.map((o) => `${o.op} ×${o.count}${mark(o)}`).join(', ')]);
  }
  rows.push(['gradients', d.gradients]);
  rows.push(['kernels', kernelText(d.kernels)]);
  rows.push(['forward', d.forwardMs === null ? 'not timed (the input has a free dimension)' : `${d.forwardMs.toFixed(2)} ms (median of 5, batch of 1, ${d.backend})`]);
  const width = Math.max(...rows.map(([k]) => k.length));
  return [d.model, ...rows.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`)].join('\n') + '\n';
}

/** One line on the backend's kernels: `wasm: native SIMD kernels on 2 threads, relaxed SIMD (FMA) on`. */
export function kernelText(k: KernelInfo): string {
  if (k.backend !== 'wasm') return `${k.backend} (TF.js's own kernels)`;
  if (!k.native) return 'wasm: native SIMD kernels off (TF.js\'s and advx\'s JS paths)';
  const relaxed = k.relaxedSimd ? 'on' : !relaxedSimdAllowed() ? 'off (ADVX_RELAXED_SIMD=0)' : k.relaxedSimdAvailable ? 'off' : 'off (not in this engine)';
  return `wasm: native SIMD kernels on ${k.threads} thread${k.threads === 1 ? '' : 's'}, relaxed SIMD (FMA) ${relaxed}`;
}
