/**
 * The gradients advx adds to TF.js for ops converted graph models use (each file says what TF.js
 * lacks), and the one forward pass it mends (StridedSlice, which TF.js computes wrongly when it
 * both drops axes and strides). Gradient registrations are global, but three fixes wrap forward
 * kernels per backend, and a backend's kernels exist only once its package is imported; hence
 * useBackend calls this after every backend it sets up (and registerWasmGradientKernels too).
 * Here too, as they are registered the same way: the per-input gradients of tf.fused.conv2d and
 * tf.fused.matMul (fused_conv_grad.ts), so an input gradient no longer computes the weights', and
 * ReLU's and ReLU6's gradients, which run as one native pass on wasm (relu_grad.ts). And the
 * gradients TF.js has but gets wrong: AvgPool with padding, MirrorPad, ResizeBilinear and
 * ResizeNearestNeighbor (avg_pool_grad.ts, mirror_pad_grad.ts, resize_grad.ts).
 * Idempotent.
 */
import { registerAvgPoolGradient } from './avg_pool_grad.ts';
import { registerBatchNormInputsFix } from './batch_norm_inputs.ts';
import { registerDepthToSpaceGradient } from './depth_to_space_grad.ts';
import { registerDepthwiseDilationGradient } from './depthwise_dilation_grad.ts';
import { registerFusedConvGradients } from './fused_conv_grad.ts';
import { registerFusedDepthwiseDilationGradient } from './fused_depthwise_dilation_grad.ts';
import { registerGatherNdGradient } from './gather_nd_grad.ts';
import { registerMirrorPadGradient } from './mirror_pad_grad.ts';
import { registerReluGradients } from './relu_grad.ts';
import { registerResizeGradients } from './resize_grad.ts';
import { registerStridedSliceForwardFix } from './strided_slice_forward.ts';
import { registerStridedSliceGradient } from './strided_slice_grad.ts';

export function registerGraphOpGradients(): void {
  registerDepthwiseDilationGradient();
  registerFusedDepthwiseDilationGradient(); // after the above, whose gradient it calls
  registerStridedSliceForwardFix();
  registerStridedSliceGradient(); // follows the forward pass as mended above
  registerGatherNdGradient();
  registerDepthToSpaceGradient();
  registerBatchNormInputsFix();
  registerFusedConvGradients();
  registerReluGradients();
  registerAvgPoolGradient();
  registerMirrorPadGradient();
  registerResizeGradients();
}
