/**
 * The gradient of DepthToSpace (pixel-shuffle upsampling in converted super-resolution and
 * segmentation models), which TF.js lacks on every backend: SpaceToDepth of dy, written as
 * reshape and transpose since TF.js has no SpaceToDepth op. Handles NHWC and NCHW (the wasm
 * kernel runs NCHW; cpu's refuses it).
 */
import * as tf from '@tensorflow/tfjs-core';

export function spaceToDepth(dy: tf.Tensor4D, blockSize: number, dataFormat: 'NHWC' | 'NCHW'): tf.Tensor4D {
  const bs = blockSize;
  return tf.tidy(() => {
    if (dataFormat === 'NHWC') {
      const [b, h, w, c] = dy.shape;
      // out[b, y·bs + i, x·bs + j, k] came from in[b, y, x, (i·bs + j)·c + k].
      const blocks = tf.reshape(dy, [b, h / bs, bs, w / bs, bs, c]);
      return tf.reshape(tf.transpose(blocks, [0, 1, 3, 2, 4, 5]), [b, h / bs, w / bs, bs * bs * c]);
    }
    const [b, c, h, w] = dy.shape;
    const blocks = tf.reshape(dy, [b, c, h / bs, bs, w / bs, bs]);
    return tf.reshape(tf.transpose(blocks, [0, 3, 5, 1, 2, 4]), [b, bs * bs * c, h / bs, w / bs]);
  });
}

let registered = false;

export function registerDepthToSpaceGradient(): void {
  if (registered || tf.getGradient(tf.DepthToSpace)) return;
  registered = true;
  tf.registerGradient({
    kernelName: tf.DepthToSpace,
    gradFunc: (dy, _saved, attrs) => {
      const { blockSize, dataFormat } = attrs as unknown as tf.DepthToSpaceAttrs;
      return { x: () => spaceToDepth(dy as tf.Tensor4D, blockSize, dataFormat ?? 'NHWC') };
    },
  });
}
