/**
 * The gradient of DepthwiseConv2dNative with dilations > 1 (atrous depthwise convs: DeepLab /
 * MobileNet-v2 segmentation heads), which TF.js's own gradient refuses ("dilation rates greater
 * than 1 are not yet supported") on every backend. Not a kernel: a gradient registration that
 * replaces TF.js's, delegating to it when the dilations are 1.
 *
 * On wasm the backprop kernels (depthwise_conv2d_backprop_*.ts) honour dilations and get them
 * directly. Other backends' kernels ignore the dilation in their loops (cpu's do), so there the
 * gradient goes through the equivalent undilated convolution: the filter with d − 1 zeros
 * inserted between taps (same effective size, hence the same 'same' padding and output), and
 * the filter gradient read back at every d-th tap. Checked in graph-op-gradients.test.ts: wasm
 * against cpu, and both against finite differences of the forward op.
 */
import * as tf from '@tensorflow/tfjs-core';

function zeroInsert(filter: tf.Tensor4D, dh: number, dw: number): tf.Tensor4D {
  const [fh, fw, c, m] = filter.shape;
  const spread = tf.pad(tf.reshape(filter, [fh, 1, fw, 1, c, m]), [[0, 0], [0, dh - 1], [0, 0], [0, dw - 1], [0, 0], [0, 0]]);
  return tf.slice(tf.reshape(spread, [fh * dh, fw * dw, c, m]), [0, 0, 0, 0], [(fh - 1) * dh + 1, (fw - 1) * dw + 1, c, m]) as tf.Tensor4D;
}

let registered = false;

export function registerDepthwiseDilationGradient(): void {
  if (registered) return;
  const original = tf.getGradient(tf.DepthwiseConv2dNative);
  if (!original) return; // tfjs-layers (which registers the gradients) not loaded: nothing to extend
  registered = true;
  tf.registerGradient({
    kernelName: tf.DepthwiseConv2dNative,
    inputsToSave: ['x', 'filter'],
    gradFunc: (dyIn, saved, attrs) => {
      const dy = dyIn as tf.Tensor4D;
      const { dilations, strides, pad, dimRoundingMode } = attrs as unknown as tf.DepthwiseConv2dNativeAttrs;
      const [dh, dw] = typeof dilations === 'number' ? [dilations, dilations] : (dilations ?? [1, 1]);
      if (dh === 1 && dw === 1) return original.gradFunc(dyIn, saved, attrs);
      const [x, filter] = saved as [tf.Tensor4D, tf.Tensor4D];
      const [sh, sw] = typeof strides === 'number' ? [strides, strides] : strides;
      tf.util.assert(sh === 1 && sw === 1, () => `depthwiseConv2d gradient: strides ${strides} with dilations ${dilations}: one must be 1`);
      const kernel = (name: string, inputs: tf.NamedTensorMap, a: object) =>
        tf.engine().runKernel(name, inputs, a as tf.NamedAttrMap) as tf.Tensor4D;
      if (tf.getBackend() === 'wasm') {
        const common = { strides, pad, dilations: [dh, dw], dimRoundingMode };
        return {
          x: () => kernel(tf.DepthwiseConv2dNativeBackpropInput, { dy, filter }, { ...common, inputShape: x.shape }),
          filter: () => kernel(tf.DepthwiseConv2dNativeBackpropFilter, { x, dy }, { ...common, filterShape: filter.shape }),
        };
      }
      const common = { strides, pad, dilations: [1, 1], dimRoundingMode };
      return {
        x: () => kernel(tf.DepthwiseConv2dNativeBackpropInput, { dy, filter: zeroInsert(filter, dh, dw) }, { ...common, inputShape: x.shape }),
        filter: () => {
          const [fh, fw, c, m] = filter.shape;
          const full = kernel(tf.DepthwiseConv2dNativeBackpropFilter, { x, dy }, { ...common, filterShape: [(fh - 1) * dh + 1, (fw - 1) * dw + 1, c, m] });
          return tf.stridedSlice(full, [0, 0, 0, 0], full.shape, [dh, dw, 1, 1]) as tf.Tensor4D;
        },
      };
    },
  });
}
