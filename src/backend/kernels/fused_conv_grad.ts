/**
 * Gradients of tf.fused.conv2d and tf.fused.matMul that compute only what is asked for. TF.js
 * runs both under tf.grad through tf.customGrad, whose gradient computes the gradients of x (a),
 * filter (b) and bias together, eagerly: its tape prunes the inputs nothing needs only for
 * registered gradients, which return one closure per input. So every white-box attack on a
 * convolutional net (tfjs-layers' Conv2D and Dense layers, converted graph models' FusedConv2D
 * and _FusedMatMul, the linear bottlenecks of MobileNet-v2) paid for the weight gradients too:
 * Conv2DBackpropFilter was ~5% of a MobileNet-v2 input-gradient step on wasm, plus the bias Sums.
 *
 * As fused_depthwise_dilation_grad.ts does for depthwise: a customGrad's tape node carries the
 * op's scope name, the engine prefers a gradient registered under a node's name to the node's
 * own, and the forward kernels are wrapped on every backend to remember their attributes (the
 * node has none), keyed weakly by the output's data, which the node saves. The gradients are
 * TF.js's own, term for term (the same ops on the same operands, so the same values on every
 * backend), split per input: '0' x / a, '1' filter / b, '2' bias.
 *
 * Activations: under a gradient TF.js fuses only 'linear' (tf.fused.* unfuses any other into
 * separate ops with their own gradients), and its fused gradient knows 'linear' and 'relu'; so do
 * these, and any other throws TF.js's error. Dilations > 1 are refused as TF.js refuses them.
 */
import * as tf from '@tensorflow/tfjs-core';
import { wrapKernelOnEveryBackend } from './wrap_kernel.ts';

/** TF.js's op() scope names for tf.fused.conv2d and tf.fused.matMul: their customGrad nodes' kernelName. */
export const FUSED_CONV2D_SCOPE = 'fusedConv2d__op';
export const FUSED_MATMUL_SCOPE = 'fusedMatMul__op';

const convAttrsOf = new WeakMap<object, tf.FusedConv2DAttrs>();
const matMulAttrsOf = new WeakMap<object, tf._FusedMatMulAttrs>();

function remember<A>(kernelName: string, attrsOf: WeakMap<object, A>): void {
  wrapKernelOnEveryBackend(kernelName, (original) => (args) => {
    const out = original(args) as tf.TensorInfo;
    if (tf.engine().state.gradientDepth > 0) attrsOf.set(out.dataId, args.attrs as unknown as A);
    return out;
  });
}

function attrsFor<A>(attrsOf: WeakMap<object, A>, y: tf.Tensor, op: string): A {
  const attrs = attrsOf.get(y.dataId);
  if (!attrs) throw new Error(`${op} gradient: its kernel ran on a backend advx has not wrapped (call useBackend first)`);
  return attrs;
}

/** TF.js's getFusedDyActivation (ops/fused_util). */
function dyActivation(dy: tf.Tensor, y: tf.Tensor, activation: tf.fused.Activation | undefined): tf.Tensor {
  if (activation == null || activation === 'linear') return dy;
  if (activation === 'relu') return tf.mul(dy, tf.step(y));
  throw new Error(`Cannot compute gradient for fused activation ${activation}.`);
}

/** TF.js's getFusedBiasGradient (ops/fused_util). */
function biasGradient(bias: tf.Tensor, dyAct: tf.Tensor): tf.Tensor {
  const axes = tf.broadcast_util.getReductionAxes(bias.shape, dyAct.shape);
  return tf.reshape(axes.length > 0 ? tf.sum(dyAct, axes) : dyAct, bias.shape);
}

function registerFusedConv2DGradient(): void {
  remember(tf.FusedConv2D, convAttrsOf);
  if (tf.getGradient(FUSED_CONV2D_SCOPE)) return;
  const conv = tf.getGradient(tf.Conv2D);
  if (!conv) return; // tfjs-layers (which registers the gradients) not loaded: customGrad's stays
  tf.registerGradient({
    kernelName: FUSED_CONV2D_SCOPE,
    gradFunc: (dyIn, saved) => {
      const [filter, x, y, bias] = saved as [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D, tf.Tensor | undefined];
      const { strides, pad, dataFormat, dilations, activation } = attrsFor(convAttrsOf, y, 'fused conv2d');
      tf.util.assert(dataFormat === 'NHWC', () => `Error in gradient of fused conv2D: got dataFormat of ${dataFormat} but only NHWC is currently supported.`);
      // The op reshaped a rank-3 result; TF.js's backprop ops reshape such a dy back the same way.
      const dyAct = dyActivation(tf.reshape(dyIn as tf.Tensor, y.shape), y, activation);
      tf.util.assert(tf.backend_util.tupleValuesAreOne(dilations ?? 1), () => 'Error in gradient of fused conv2D: ' +
        `dilation rates greater than 1 are not yet supported in gradients. Got dilations '${dilations}'`);
      // Conv2D's gradient is TF.js's conv2DBackpropInput / conv2DBackpropFilter with exactly the
      // arguments the fused gradient passes them (dimRoundingMode is not among them there either).
      const g = conv.gradFunc(dyAct, [x, filter], { strides, pad, dataFormat, dilations: [1, 1] } as unknown as tf.NamedAttrMap);
      const grads: Record<string, () => tf.Tensor> = { 0: g.x, 1: g.filter };
      if (bias) grads[2] = () => biasGradient(bias, dyAct);
      return grads;
    },
  });
}

function registerFusedMatMulGradient(): void {
  remember(tf._FusedMatMul, matMulAttrsOf);
  if (tf.getGradient(FUSED_MATMUL_SCOPE)) return;
  tf.registerGradient({
    kernelName: FUSED_MATMUL_SCOPE,
    gradFunc: (dyIn, saved) => {
      const [a, b, y, bias] = saved as [tf.Tensor3D, tf.Tensor3D, tf.Tensor3D, tf.Tensor | undefined];
      const { transposeA, transposeB, activation } = attrsFor(matMulAttrsOf, y, 'fused matMul');
      // The op reshaped its 3-D result to the operands' batch shape.
      const dyAct = dyActivation(tf.reshape(dyIn as tf.Tensor, y.shape), y, activation);
      // TF.js's four cases (ops/fused/mat_mul.js), each product as it writes it.
      const [da, db]: Array<() => tf.Tensor> =
        !transposeA && !transposeB ? [() => tf.matMul(dyAct, b, false, true), () => tf.matMul(a, dyAct, true, false)]
        : !transposeA && transposeB ? [() => tf.matMul(dyAct, b, false, false), () => tf.matMul(dyAct, a, true, false)]
        : transposeA && !transposeB ? [() => tf.matMul(b, dyAct, false, true), () => tf.matMul(a, dyAct, false, false)]
        : [() => tf.matMul(b, dyAct, true, true), () => tf.matMul(dyAct, a, true, true)];
      const grads: Record<string, () => tf.Tensor> = { 0: da, 1: db };
      if (bias) grads[2] = () => biasGradient(bias, dyAct);
      return grads;
    },
  });
}

export function registerFusedConvGradients(): void {
  registerFusedConv2DGradient();
  registerFusedMatMulGradient();
}
