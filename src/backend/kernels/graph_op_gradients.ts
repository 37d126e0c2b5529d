/**
 * The gradients advx adds to TF.js for ops converted graph models use (each file says what TF.js
 * lacks), and the one forward pass it mends (StridedSlice, which TF.js computes wrongly when it
 * both drops axes and strides). Gradient registrations are global, but three fixes wrap forward
 * kernels per backend, and a backend's kernels exist only once its package is imported; hence
 * useBackend calls this after every backend it sets up (and registerWasmGradientKernels too).
 * Idempotent.
 */
import { registerBatchNormInputsFix } from './batch_norm_inputs.ts';
import { registerDepthToSpaceGradient } from './depth_to_space_grad.ts';
import { registerDepthwiseDilationGradient } from './depthwise_dilation_grad.ts';
import { registerFusedDepthwiseDilationGradient } from './fused_depthwise_dilation_grad.ts';
import { registerGatherNdGradient } from './gather_nd_grad.ts';
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
}
