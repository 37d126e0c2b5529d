/**
 * ONNX models as white-box classifiers: the graph is imported as TF.js ops (onnx/graph.ts), so
 * gradient attacks work on a model trained in PyTorch. Images in advx are NHWC while ONNX image
 * models take NCHW: the classifier feeds its NHWC batch as such, and the graph transposes it
 * only if its first op reads axes by position (a convolution takes NHWC as it is).
 */
import * as tf from '@tensorflow/tfjs-core';
import { AdvxError } from '../core/errors.ts';
import { Classifier, headOfLastOp, isBinaryHead, outputIndex, type ClassifierInfo } from './classifier.ts';
import { importOnnx, type OnnxModel } from './onnx/graph.ts';

export { importOnnx, type OnnxModel };

/** What decides a classifier over an ONNX graph, from decodeModel (no tensors) or importOnnx alike. */
export type OnnxGraphInfo = Pick<OnnxModel, 'inputs' | 'outputs' | 'nodes'>;

/** The shape of output `index` for one input of `inputShape` (NHWC), from one forward pass on zeros. */
export type OutputProbe = (index: number, inputShape: number[]) => number[] | undefined;

/** The model's input without batch, as advx sees it: [H, W, C] for an NCHW image input. */
export function onnxInputShape(model: Pick<OnnxGraphInfo, 'inputs'>): number[] {
  return nhwcShape(model.inputs[0]?.shape.slice(1) ?? []);
}

/** [C, H, W] → [H, W, C]; other ranks as they are. */
export function nhwcShape(shape: number[]): number[] {
  return shape.length === 3 ? [shape[1], shape[2], shape[0]] : shape;
}

/** An advx batch in the file's layout: NHWC images to NCHW (the inverse of nhwcShape); other ranks as they are. */
export function toFileLayout(x: tf.Tensor): tf.Tensor {
  return x.rank === 4 ? tf.transpose(x, [0, 3, 1, 2]) : x;
}

/** The forward a Classifier gets: NHWC in (as toFileLayout would give the file); the output at index `output`. */
export function nhwcForward(model: OnnxModel, output = 0): (x: tf.Tensor) => tf.Tensor {
  return (x) => model.forward(x, output, x.rank === 4);
}

/** Ops that pass a value through unchanged, skipped when looking for the op that ends an output. */
const PASS_THROUGH = new Set(['Identity', 'Dropout', 'Flatten', 'Reshape', 'Squeeze']);

/** The op type that produces the output at `index` (looking through Identity and reshapes), if a node does. */
export function onnxLastOp(model: OnnxGraphInfo, index = 0): string | undefined {
  const producer = new Map(model.nodes.flatMap((n) => n.outputs.map((o) => [o, n] as const)));
  let node = producer.get(model.outputs[index]?.name ?? '');
  for (let hops = 0; node && PASS_THROUGH.has(node.opType) && hops < 100; hops++) node = producer.get(node.inputs[0]);
  return node?.opType;
}

/** Whether a declared output shape fixes every dimension but the batch. */
export function fixedOutputShape(shape: number[] | undefined): shape is number[] {
  return shape !== undefined && shape.length > 0 && shape.slice(1).every((d) => d > 0);
}

/** The probe of an imported model: one TF.js forward pass on zeros. */
export function onnxProbe(model: OnnxModel): OutputProbe {
  return (index, inputShape) => tf.tidy(() => nhwcForward(model, index)(tf.zeros([1, ...inputShape])).shape);
}

/**
 * The classifier info of an ONNX graph: which output is the class vector, what it holds (logits,
 * probabilities after a Softmax, a binary head) and how many classes, where the file leaves the
 * output's shape free from `probe`; `info` (bounds, preprocessing, names…) overrides what the file
 * says. The importer and ONNX Runtime (models/onnx-runtime.ts, in Node and in the lab) decide it alike.
 */
export function onnxClassifierInfo(model: OnnxGraphInfo, info: Partial<ClassifierInfo>, where: string, probe: OutputProbe): ClassifierInfo {
  if (model.inputs.length !== 1) throw new AdvxError(`${where} has ${model.inputs.length} inputs; advx's classifiers take one`);
  const index = outputIndex(
    model.outputs.map((o) => o.name),
    info.outputName,
    where,
  );
  const inputShape = info.inputShape ?? onnxInputShape(model);
  const declared = model.outputs[index]?.shape;
  const shape = fixedOutputShape(declared) ? declared : inputShape.some((d) => d < 1) ? undefined : probe(index, inputShape);
  const singleUnit = shape !== undefined && (shape.length === 1 || (shape.length === 2 && shape[1] === 1));
  const output = info.output ?? headOfLastOp(onnxLastOp(model, index), singleUnit) ?? 'logits';
  const numClasses = isBinaryHead(output) ? (info.numClasses ?? 2) : (info.numClasses ?? shape?.at(-1) ?? 0);
  if (numClasses < 2) {
    const hint = singleUnit ? 'one output unit: declare "output": "sigmoid" or "logit" in advx.json for a binary classifier' : 'declare numClasses in advx.json';
    throw new AdvxError(`${where} does not output a class vector (output shape [${shape ?? declared}]); ${hint}`);
  }
  return { bounds: [0, 1], ...info, output, inputShape, numClasses, outputName: model.outputs[index]?.name };
}

/** A Classifier over an imported ONNX model; `info` (bounds, preprocessing, names…) overrides what the file says. */
export function onnxClassifier(model: OnnxModel, info: Partial<ClassifierInfo> = {}, where = 'the ONNX model'): Classifier {
  const full = onnxClassifierInfo(model, info, where, onnxProbe(model));
  return new Classifier(nhwcForward(model, model.outputs.findIndex((o) => o.name === full.outputName)), full);
}
