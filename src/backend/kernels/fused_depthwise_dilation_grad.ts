/**
 * The gradient of fused depthwise convolutions (FusedDepthwiseConv2dNative in converted graph
 * models: depthwise + BiasAdd, atrous in DeepLab-style heads) with dilations > 1. Under tf.grad
 * TF.js runs the fused op only with a linear activation (any other is unfused, and its
 * DepthwiseConv2dNative gradient is depthwise_dilation_grad.ts's), through tf.customGrad whose
 * gradient refuses dilations > 1 on every backend.
 *
 * A customGrad's tape node carries the op's scope name ('fusedDepthwiseConv2d__op'), and the
 * engine prefers a gradient registered under a node's name to the node's own, so registering
 * one there replaces TF.js's for every fused depthwise convolution. Such a node carries no
 * attributes, though; so the FusedDepthwiseConv2D kernel is wrapped on every backend to remember
 * its attributes, keyed (weakly) by its output's data, which the node saves. The gradient then
 * is the DepthwiseConv2dNative gradient (dilations handled) plus the bias's, as in TF.js.
 */
import * as tf from '@tensorflow/tfjs-core';
import { wrapKernelOnEveryBackend } from './wrap_kernel.ts';

/** TF.js's op() scope name for tf.fused.depthwiseConv2d: its customGrad node's kernelName. */
export const FUSED_DEPTHWISE_SCOPE = 'fusedDepthwiseConv2d__op';

const attrsOf = new WeakMap<object, tf.FusedDepthwiseConv2DAttrs>();
let registered = false;

export function registerFusedDepthwiseDilationGradient(): void {
  // Kernels of backends imported since the last call still need wrapping.
  wrapKernelOnEveryBackend(tf.FusedDepthwiseConv2D, (original) => (args) => {
    const out = original(args) as tf.TensorInfo;
    if (tf.engine().state.gradientDepth > 0) attrsOf.set(out.dataId, args.attrs as unknown as tf.FusedDepthwiseConv2DAttrs);
    return out;
  });
  if (registered) return;
  const conv = tf.getGradient(tf.DepthwiseConv2dNative);
  if (!conv) return; // tfjs-layers (which registers the gradients) not loaded
  registered = true;
  tf.registerGradient({
    kernelName: FUSED_DEPTHWISE_SCOPE,
    gradFunc: (dyIn, saved) => {
      const [filter, x, y, bias] = saved as [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D, tf.Tensor | undefined];
      const attrs = attrsOf.get(y.dataId);
      if (!attrs) throw new Error('fused depthwiseConv2d gradient: its kernel ran on a backend advx has not wrapped (call useBackend first)');
      const { strides, pad, dilations, dimRoundingMode, activation } = attrs;
      const dy: tf.Tensor4D = tf.reshape(dyIn as tf.Tensor, y.shape); // the op reshaped a rank-3 result
      let dyAct: tf.Tensor4D = dy;
      if (activation === 'relu') dyAct = tf.mul(dy, tf.step(y)) as tf.Tensor4D;
      else if (activation != null && activation !== 'linear') throw new Error(`fused depthwiseConv2d gradient: activation ${activation} (TF.js unfuses it under tf.grad)`);
      const g = conv.gradFunc(dyAct, [x, filter], { strides, pad, dilations, dimRoundingMode } as unknown as tf.NamedAttrMap);
      const grads: Record<string, () => tf.Tensor> = { 0: g.x, 1: g.filter };
      if (bias) {
        grads[2] = () => {
          const axes = tf.broadcast_util.getReductionAxes(bias.shape, dyAct.shape);
          return tf.reshape(axes.length ? tf.sum(dyAct, axes) : dyAct, bias.shape);
        };
      }
      return grads;
    },
  });
}
