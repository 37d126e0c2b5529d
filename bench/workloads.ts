/**
 * The benchmark workloads of WORKLOADS.md, built with advx's own code paths (zoo models, the
 * training step's ops, the PGD attack), on random inputs of the right shape.
 */
import * as tf from '@tensorflow/tfjs-core';
import { cnn } from '../src/models/zoo.ts';
import { Classifier } from '../src/models/classifier.ts';
import { crossEntropy } from '../src/train/fit.ts';
import { pgdRun } from '../src/attacks/pgd.ts';
import { apgd } from '../src/attacks/apgd.ts';
import { buildDannNetworks } from '../src/da/dann.ts';
import { disposeOptimizer } from '../src/train/core.ts';
import { gradientReversal } from '../src/da/gradient-reversal.ts';
import { Rng } from '../src/core/rng.ts';
import { createImageGanState, disposeImageGanState, ganStepConfig, imageGanStep } from '../src/gan/train-images.ts';

export interface Workload {
  /** Runs one step and resolves when its results are computed. */
  step(): Promise<void>;
  dispose(): void;
}

export interface WorkloadSpec {
  name: string;
  batch: number;
  make(batch: number): Workload;
  /** Backends not timed, with why (a step there takes minutes). */
  skip?: Partial<Record<string, string>>;
  /**
   * Input gradients one step takes, for an attack's loop: fewer timed runs of it, and none on a
   * backend where that many of cnn-input-grad would take too long.
   */
  gradients?: number;
}

function cnnSetup(batch: number) {
  const model = cnn({ inputShape: [28, 28, 1], numClasses: 10, seed: 0 });
  const classifier = new Classifier((x) => model.apply(x) as tf.Tensor, { inputShape: [28, 28, 1], numClasses: 10, bounds: [0, 1] });
  const x = tf.randomUniform([batch, 28, 28, 1], 0, 1, 'float32', 1);
  const y = tf.randomUniform([batch], 0, 10, 'int32', 2) as tf.Tensor1D;
  return { model, classifier, x, y, dispose: () => tf.dispose([x, y, ...model.weights.map((w) => (w as unknown as { val: tf.Variable }).val)]) };
}

const cnnTrain = (batch: number): Workload => {
  const s = cnnSetup(batch);
  const optimizer = tf.train.adam(1e-3);
  const vars = s.model.trainableWeights.map((w) => (w as unknown as { val: tf.Variable }).val);
  return {
    async step() {
      const loss = optimizer.minimize(() => crossEntropy(s.model.apply(s.x, { training: true }) as tf.Tensor2D, s.y), true, vars);
      await loss!.data();
      loss!.dispose();
    },
    dispose() {
      optimizer.dispose();
      s.dispose();
    },
  };
};

const cnnInputGrad = (batch: number): Workload => {
  const s = cnnSetup(batch);
  return {
    async step() {
      // The mean cross-entropy's gradient, as the reference computes it.
      const g = tf.tidy(() => tf.grad((x: tf.Tensor) => crossEntropy(s.classifier.logits(x), s.y))(s.x));
      await g.data();
      g.dispose();
    },
    dispose: s.dispose,
  };
};

const cnnForward = (batch: number): Workload => {
  const s = cnnSetup(batch);
  return {
    async step() {
      const out = tf.tidy(() => s.classifier.logits(s.x));
      await out.data();
      out.dispose();
    },
    dispose: s.dispose,
  };
};

const pgd40 = (batch: number): Workload => {
  const s = cnnSetup(batch);
  let seed = 0;
  return {
    async step() {
      const adv = pgdRun(s.classifier, s.x, { labels: s.y }, { eps: 0.3, norm: 'linf', steps: 40, alpha: 0.01, randomStart: true, seed: seed++ });
      await adv.data();
      adv.dispose();
    },
    dispose: s.dispose,
  };
};

/**
 * APGD-CE with 10 iterations (L∞, ε 0.3), the first attack of AutoAttack's standard suite, on the
 * reference CNN (models/mnist-robust's architecture; the weights do not change the work done).
 */
const apgdCe10 = (batch: number): Workload => {
  const s = cnnSetup(batch);
  let seed = 0;
  return {
    async step() {
      const r = await apgd(s.classifier, s.x, { labels: s.y, targeted: false }, { eps: 0.3, norm: 'linf', steps: 10, seed: seed++ });
      await r.adversarial.data();
      r.adversarial.dispose();
    },
    dispose: s.dispose,
  };
};

/** One DANN step as trainDann takes it: b source + b target images, GRL λ 0.5, SGD momentum 0.9. */
const dannStep = (batch: number): Workload => {
  const nets = buildDannNetworks([28, 28, 3], 10, { method: 'dann', seed: 0 });
  const optimizer = tf.train.momentum(0.01, 0.9);
  const x = tf.randomUniform([2 * batch, 28, 28, 3], 0, 1, 'float32', 1);
  const y = tf.randomUniform([batch], 0, 10, 'int32', 2) as tf.Tensor1D;
  const domains = tf.concat([tf.zeros([batch]), tf.ones([batch])]);
  const vars = [nets.features, nets.labelHead, nets.domainHead!].flatMap((m) => m.trainableWeights.map((w) => (w as unknown as { val: tf.Variable }).val));
  return {
    async step() {
      const loss = optimizer.minimize(() => {
        const f = nets.features.apply(x, { training: true }) as tf.Tensor2D;
        const labelLoss = crossEntropy(nets.labelHead.apply(tf.slice(f, 0, batch), { training: true }) as tf.Tensor2D, y);
        const d = tf.reshape(nets.domainHead!.apply(gradientReversal(f, 0.5), { training: true }) as tf.Tensor, [2 * batch]);
        return tf.add(labelLoss, tf.losses.sigmoidCrossEntropy(domains, d)) as tf.Scalar;
      }, true, vars);
      await loss!.data();
      loss!.dispose();
    },
    dispose() {
      disposeOptimizer(optimizer);
      tf.dispose([x, y, domains]);
      nets.dispose();
    },
  };
};

/**
 * One DCGAN step as trainImageGan takes it: one discriminator and one generator update, NS loss,
 * Adam(2e-4, β1 0.5), on a fixed batch of b random images in [−1, 1] and fresh z.
 */
const dcganStep = (batch: number): Workload => {
  const state = createImageGanState({ seed: 0, loss: 'ns' });
  const cfg = ganStepConfig({ loss: 'ns', batchSize: batch });
  const real = tf.randomUniform([batch, 28, 28, 1], -1, 1, 'float32', 1) as tf.Tensor4D;
  const rng = new Rng(0);
  return {
    async step() {
      // imageGanStep reads back both losses before applying each update (its NaN guard).
      await imageGanStep(state, cfg, () => ({ x: tf.clone(real) }), rng);
    },
    dispose() {
      real.dispose();
      disposeImageGanState(state);
    },
  };
};

/** MobileNet-v2 (width 1.0): expansion t, output channels c, repeats n, first stride s (bench/torch_workloads.py has the same). */
const MOBILENET_V2 = [[1, 16, 1, 1], [6, 24, 2, 2], [6, 32, 3, 2], [6, 64, 4, 2], [6, 96, 3, 1], [6, 160, 3, 2], [6, 320, 1, 1]];

/**
 * The input gradient of MobileNet-v2 at 224×224, written with the fused ops a converted TF.js graph
 * model executes (_FusedConv2D and FusedDepthwiseConv2dNative with bias and relu6: batch norm is
 * folded at conversion), He-initialised random weights.
 */
const mobilenetInputGrad = (batch: number): Workload => {
  let seed = 10;
  const weights: tf.Tensor[] = [];
  const param = (shape: number[], fanIn: number) => {
    const w = tf.randomNormal(shape, 0, Math.sqrt(2 / fanIn), 'float32', seed++);
    weights.push(w);
    return w;
  };
  const conv = (cin: number, cout: number, k: number, stride: number, relu6: boolean) => {
    const [w, b] = [param([k, k, cin, cout], k * k * cin) as tf.Tensor4D, param([cout], cout)];
    return (x: tf.Tensor4D) => tf.fused.conv2d({ x, filter: w, strides: stride, pad: 'same', bias: tf.mul(b, 0.01), activation: relu6 ? 'relu6' : 'linear' });
  };
  const depthwise = (c: number, stride: number) => {
    const [w, b] = [param([3, 3, c, 1], 9) as tf.Tensor4D, param([c], c)];
    return (x: tf.Tensor4D) => tf.fused.depthwiseConv2d({ x, filter: w, strides: stride, pad: 'same', bias: tf.mul(b, 0.01), activation: 'relu6' });
  };
  const layers: Array<(x: tf.Tensor4D) => tf.Tensor4D> = [conv(3, 32, 3, 2, true)];
  let cin = 32;
  for (const [t, c, n, s] of MOBILENET_V2) {
    for (let i = 0; i < n; i++) {
      const stride = i === 0 ? s : 1;
      const body = [...(t === 1 ? [] : [conv(cin, cin * t, 1, 1, true)]), depthwise(cin * t, stride), conv(cin * t, c, 1, 1, false)];
      const residual = stride === 1 && cin === c;
      layers.push((x) => {
        const y = body.reduce((h, f) => f(h), x);
        return residual ? tf.add(x, y) : y;
      });
      cin = c;
    }
  }
  layers.push(conv(cin, 1280, 1, 1, true));
  const [dense, denseBias] = [param([1280, 1000], 1280) as tf.Tensor2D, param([1000], 1000)];
  const logits = (x: tf.Tensor) => {
    const features = tf.mean(layers.reduce((h, f) => f(h), x as tf.Tensor4D), [1, 2]) as tf.Tensor2D;
    return tf.add(tf.matMul(features, dense), tf.mul(denseBias, 0.01)) as tf.Tensor2D;
  };
  const x = tf.randomUniform([batch, 224, 224, 3], 0, 1, 'float32', 1);
  const y = tf.randomUniform([batch], 0, 1000, 'int32', 2) as tf.Tensor1D;
  return {
    async step() {
      const g = tf.tidy(() => tf.grad((input: tf.Tensor) => crossEntropy(logits(input), y))(x));
      await g.data();
      g.dispose();
    },
    dispose: () => tf.dispose([x, y, ...weights]),
  };
};

export const WORKLOADS: WorkloadSpec[] = [
  { name: 'cnn-train', batch: 128, make: cnnTrain },
  { name: 'cnn-input-grad', batch: 128, make: cnnInputGrad },
  { name: 'cnn-forward', batch: 128, make: cnnForward },
  { name: 'cnn-forward-1024', batch: 1024, make: cnnForward },
  { name: 'pgd40', batch: 128, make: pgd40, gradients: 40 },
  { name: 'apgd-ce-10', batch: 128, make: apgdCe10, gradients: 11 },
  { name: 'dcgan-step', batch: 64, make: dcganStep },
  { name: 'dann-step', batch: 64, make: dannStep },
  // TF.js's cpu kernels take minutes for one step of it (its emotion-net cousin in RESULTS.md: ~250× wasm).
  { name: 'mobilenet-v2-input-grad', batch: 8, make: mobilenetInputGrad, skip: { cpu: 'skipped: minutes per step on cpu' } },
];
