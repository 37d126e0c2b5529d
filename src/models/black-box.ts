/**
 * The black-box model interfaces: a model seen only through its scores (class probabilities) or
 * only through its top-1 labels, never its gradients. They live beside Classifier, not with the
 * attacks that consume them, because models implement them (RemoteModel, the ONNX Runtime session,
 * the classic models) and a model must not depend on the attack library.
 */
import type * as tf from '@tensorflow/tfjs-core';
import type { ClassifierInfo } from './classifier.ts';

/** What a black-box attack knows of a model besides its answers. */
export type BlackBoxInfo = Required<Pick<ClassifierInfo, 'inputShape' | 'numClasses' | 'bounds'>>;

/**
 * A model seen only through its class probabilities. `scores` gets a batch [b, ...inputShape]
 * with values in info.bounds (it must neither keep nor dispose it) and returns a new tensor
 * [b, numClasses] of probabilities, which the caller disposes.
 */
export interface ScoreModel {
  readonly info: BlackBoxInfo;
  scores(x: tf.Tensor): Promise<tf.Tensor2D> | tf.Tensor2D;
}

/** A model seen only through its top-1 label of each input of a batch (same rules for `x`). */
export interface DecisionModel {
  readonly info: BlackBoxInfo;
  label(x: tf.Tensor): Promise<Int32Array>;
}

/** A model behind an API (models/remote.ts): its scores and labels, and which of them may be used. */
export interface BlackBoxModel extends ScoreModel, DecisionModel {
  readonly access: 'score' | 'decision';
}
