/**
 * Defensive distillation (Papernot et al. 2016): train a teacher with softmax at temperature T,
 * then a student on the teacher's soft labels softmax(z_teacher/T), also at temperature T; deploy
 * the student at T = 1. Its logits are scaled up by ~T, so softmax saturates and gradients of the
 * cross-entropy vanish — which stops FGSM/PGD on the CE loss, but not C&W, whose margin loss on
 * logits is unaffected (Carlini & Wagner 2017). advx ships it to show exactly that.
 */
import * as tf from '@tensorflow/tfjs-core';
import { AdvxError } from '../core/errors.ts';
import type { Classifier } from '../models/classifier.ts';

/** Cross-entropy at temperature T with integer labels: the teacher's training loss. */
export function temperatureCrossEntropy(temperature: number) {
  checkTemperature(temperature);
  return (logits: tf.Tensor2D, _x: tf.Tensor, y: tf.Tensor1D): tf.Scalar =>
    tf.tidy(() => tf.losses.softmaxCrossEntropy(tf.oneHot(y, logits.shape[1]), tf.div(logits, temperature)) as tf.Scalar);
}

/** The student's loss: cross-entropy to the teacher's soft labels, both at temperature T. */
export function distillationLoss(teacher: Classifier, temperature: number) {
  checkTemperature(temperature);
  return (logits: tf.Tensor2D, x: tf.Tensor, _y: tf.Tensor1D): tf.Scalar =>
    tf.tidy(() => {
      // Only the student's variables are differentiated (variableGrads), so the teacher stays fixed.
      const soft = tf.softmax(tf.div(teacher.logits(x), temperature));
      return tf.losses.softmaxCrossEntropy(soft, tf.div(logits, temperature)) as tf.Scalar;
    });
}

function checkTemperature(t: number): void {
  if (!(Number.isFinite(t) && t > 0)) throw new AdvxError(`distillation temperature must be positive, got ${t}`);
}
