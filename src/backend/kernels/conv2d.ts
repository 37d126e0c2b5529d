/**
 * Conv2D and FusedConv2D for wasm: the 3×3 and 5×5 stride-1 convolutions winograd.ts takes (with
 * a bias of one value per output channel, and a linear, ReLU or ReLU6 activation) go through
 * Winograd F(2×2, R×R); every other convolution stays on TF.js's kernel (XNNPACK).
 */
import * as tf from '@tensorflow/tfjs-core';
import { BACKEND, callOriginal, convGeometry, type KernelArgs, type WasmBackend } from './util.ts';
import { WINOGRAD_ACTIVATIONS, winogradApplies, winogradConv } from './winograd.ts';

function conv(kernelName: string, { inputs, backend: be, attrs }: KernelArgs): tf.TensorInfo {
  const backend = be as WasmBackend;
  const { x, filter, bias, preluActivationWeights } = inputs as Record<string, tf.TensorInfo | undefined>;
  const attr = attrs as unknown as tf.FusedConv2DAttrs;
  const activation = WINOGRAD_ACTIVATIONS[attr.activation ?? 'linear'];
  const g = convGeometry(x!.shape, filter!.shape, attr, false);
  const fits =
    tf.backend_util.convertConv2DDataFormat(attr.dataFormat) === 'channelsLast' &&
    x!.dtype === 'float32' && filter!.dtype === 'float32' && preluActivationWeights == null && activation !== undefined &&
    (bias == null || (bias.dtype === 'float32' && tf.util.sizeFromShape(bias.shape) === g.O)) &&
    winogradApplies(g);
  const out = fits ? winogradConv(backend, x!, filter!, g, { bias, activation }) : null;
  return out ?? callOriginal(kernelName, inputs, backend, attrs);
}

export const conv2DConfig: tf.KernelConfig = {
  kernelName: tf.Conv2D,
  backendName: BACKEND,
  kernelFunc: ((args: KernelArgs) => conv(tf.Conv2D, args)) as unknown as tf.KernelFunc,
};

export const fusedConv2DConfig: tf.KernelConfig = {
  kernelName: tf.FusedConv2D,
  backendName: BACKEND,
  kernelFunc: ((args: KernelArgs) => conv(tf.FusedConv2D, args)) as unknown as tf.KernelFunc,
};
