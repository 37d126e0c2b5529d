/**
 * The benchmark workloads of WORKLOADS.md, built with advx's own code paths (zoo models, the
 * training step's ops, the PGD attack), on random inputs of the right shape.
 */
import * as tf from '@tensorflow/tfjs-core';
import { cnn } from '../src/models/zoo.ts';
import { Classifier } from '../src/models/classifier.ts';
import { crossEntropy } from '../src/train/fit.ts';
import { pgdRun } from '../src/attacks/pgd.ts';
import { buildDannNetworks, disposeOptimizer } from '../src/da/dann.ts';
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

export const WORKLOADS: WorkloadSpec[] = [
  { name: 'cnn-train', batch: 128, make: cnnTrain },
  { name: 'cnn-input-grad', batch: 128, make: cnnInputGrad },
  { name: 'cnn-forward', batch: 128, make: cnnForward },
  { name: 'cnn-forward-1024', batch: 1024, make: cnnForward },
  { name: 'pgd40', batch: 128, make: pgd40 },
  { name: 'dcgan-step', batch: 64, make: dcganStep },
  { name: 'dann-step', batch: 64, make: dannStep },
];
