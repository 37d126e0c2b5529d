/**
 * ONNX models as white-box classifiers: the graph is imported as TF.js ops (onnx/graph.ts), so
 * gradient attacks work on a model trained in PyTorch. Images in advx are NHWC while ONNX image
 * models take NCHW: the classifier's forward transposes once at the input, unseen by the user.
 */
import * as tf from '@tensorflow/tfjs-core';
import { AdvxError } from '../core/errors.ts';
import { Classifier, type ClassifierInfo } from './classifier.ts';
import { importOnnx, type OnnxModel } from './onnx/graph.ts';

export { importOnnx, type OnnxModel };

/** The model's input without batch, as advx sees it: [H, W, C] for an NCHW image input. */
export function onnxInputShape(model: OnnxModel): number[] {
  return nhwcShape(model.inputs[0]?.shape.slice(1) ?? []);
}

/** [C, H, W] → [H, W, C]; other ranks as they are. */
export function nhwcShape(shape: number[]): number[] {
  return shape.length === 3 ? [shape[1], shape[2], shape[0]] : shape;
}

/** The forward a Classifier gets: NHWC in, the model's NCHW inside. */
export function nhwcForward(model: OnnxModel): (x: tf.Tensor) => tf.Tensor {
  return (x) => tf.tidy(() => model.forward(x.rank === 4 ? tf.transpose(x, [0, 3, 1, 2]) : x));
}

/**
 * The number of classes: the output's last dimension, or, where the file leaves it free, that of
 * one forward pass on zeros.
 */
function outputSize(model: OnnxModel, inputShape: number[]): number | undefined {
  const last = model.outputs[0]?.shape.at(-1);
  if (last !== undefined && last > 0) return last;
  if (inputShape.some((d) => d < 1)) return undefined;
  return tf.tidy(() => nhwcForward(model)(tf.zeros([1, ...inputShape])).shape.at(-1));
}

/** A Classifier over an imported ONNX model; `info` (bounds, preprocessing, names…) overrides what the file says. */
export function onnxClassifier(model: OnnxModel, info: Partial<ClassifierInfo> = {}, where = 'the ONNX model'): Classifier {
  if (model.inputs.length !== 1) throw new AdvxError(`${where} has ${model.inputs.length} inputs; advx's classifiers take one`);
  const inputShape = info.inputShape ?? onnxInputShape(model);
  const numClasses = info.numClasses ?? outputSize(model, inputShape) ?? 0;
  if (numClasses < 2) throw new AdvxError(`${where} does not output a class vector (output shape [${model.outputs[0]?.shape}]); declare numClasses in advx.json`);
  return new Classifier(nhwcForward(model), { bounds: [0, 1], output: 'logits', ...info, inputShape, numClasses });
}
