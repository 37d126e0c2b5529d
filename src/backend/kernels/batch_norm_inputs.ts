/**
 * Lets tf.grad pass through `batchNorm` without offset or scale (tfjs-layers' BatchNormalization
 * with center: false or scale: false calls it so). TF.js has FusedBatchNorm's gradient, and it
 * even treats a missing scale as 1, but the op hands the engine `{ scale: undefined, offset:
 * undefined }`: saving the undefined scale for the gradient throws, and so does the tape when it
 * walks the undefined inputs. No gradient registration can reach that, so this wraps the forward
 * kernel on every backend: while a gradient is being recorded it fills the missing scale with
 * ones and drops the missing offset from the input map — the very object the engine records on
 * the tape — before the backend's own kernel runs (which handles both missing). Outside tf.grad
 * nothing changes.
 */
import * as tf from '@tensorflow/tfjs-core';
import { wrapKernelOnEveryBackend } from './wrap_kernel.ts';

export function registerBatchNormInputsFix(): void {
  wrapKernelOnEveryBackend(tf.FusedBatchNorm, (original) => (args) => {
    const inputs = args.inputs as Record<string, tf.TensorInfo | undefined>;
    if (tf.engine().state.gradientDepth > 0) {
      // Made here, the ones belong to the batchNorm op's scope, which disposes them on exit; the
      // tape keeps its own reference to what it saves.
      if (inputs.scale == null) inputs.scale = tf.ones((inputs.mean as tf.TensorInfo).shape);
      if (inputs.offset == null) delete inputs.offset;
    }
    return original(args);
  });
}
