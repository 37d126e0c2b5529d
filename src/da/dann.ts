/**
 * Domain-adversarial training (DANN, Ganin & Lempitsky 2015): a feature extractor G_f, a label
 * head G_y trained on labelled source images, and a domain head G_d behind a gradient reversal
 * layer trained to tell source features from target features. Minimising L_y + L_d through the
 * GRL is the saddle point (θf, θy) = argmin, θd = argmax of E = L_y − λ L_d: the features become
 * domain-invariant while staying discriminative. SGD with momentum 0.9 and the paper's schedules
 * for λ and the learning rate; seeded batches and initialisers. `method: 'source-only'` trains the
 * same extractor and label head without the domain head, the baseline DANN is compared with.
 * No Node API here.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { AdvxError, assertOption } from '../core/errors.ts';
import { Rng } from '../core/rng.ts';
import { gatherBatch } from '../data/batch.ts';
import type { ImageDataset } from '../data/types.ts';
import { Classifier } from '../models/classifier.ts';
import { crossEntropy } from '../train/fit.ts';
import { gradientReversal, lambdaSchedule, lrSchedule } from './gradient-reversal.ts';

/** Builds a feature extractor: input [batch, ...inputShape] → features [batch, dim]. */
export type FeatureBuilder = (inputShape: number[], seed: number) => tfl.LayersModel;

function init(seed: number, k: number) {
  return tfl.initializers.glorotUniform({ seed: seed + k });
}

/** The DANN paper's MNIST extractor (WORKLOADS dann-step): conv 5×5×32 relu, pool 2, conv 5×5×48 relu, pool 2, flatten (768 on 28×28). */
export const dannFeatures: FeatureBuilder = (inputShape, seed) => {
  const m = tfl.sequential({ name: 'dann_features' });
  m.add(tfl.layers.conv2d({ inputShape, filters: 32, kernelSize: 5, activation: 'relu', kernelInitializer: init(seed, 0) }));
  m.add(tfl.layers.maxPooling2d({ poolSize: 2 }));
  m.add(tfl.layers.conv2d({ filters: 48, kernelSize: 5, activation: 'relu', kernelInitializer: init(seed, 1) }));
  m.add(tfl.layers.maxPooling2d({ poolSize: 2 }));
  m.add(tfl.layers.flatten());
  return m;
};

/** A small MLP extractor (flatten, dense ReLU layers), e.g. for the two-moons toy. */
export function mlpFeatures(units: number[] = [32, 32]): FeatureBuilder {
  return (inputShape, seed) => {
    const m = tfl.sequential({ name: 'mlp_features' });
    m.add(tfl.layers.flatten({ inputShape }));
    units.forEach((u, k) => m.add(tfl.layers.dense({ units: u, activation: 'relu', kernelInitializer: init(seed, k) })));
    return m;
  };
}

function head(name: string, inputDim: number, hidden: number[], outputs: number, seed: number): tfl.Sequential {
  const m = tfl.sequential({ name });
  hidden.forEach((u, k) =>
    m.add(tfl.layers.dense({ inputShape: k === 0 ? [inputDim] : undefined, units: u, activation: 'relu', kernelInitializer: init(seed, k) })),
  );
  m.add(tfl.layers.dense({ inputShape: hidden.length === 0 ? [inputDim] : undefined, units: outputs, kernelInitializer: init(seed, hidden.length) }));
  return m;
}

export interface DannOptions {
  /** 'dann' (default) or 'source-only' (no domain head: the baseline). */
  method?: 'dann' | 'source-only';
  epochs: number;
  /** Images per domain in each step (a DANN step sees batchSize source + batchSize target images). */
  batchSize: number;
  /** μ0: the initial learning rate. */
  learningRate: number;
  seed: number;
  /** SGD momentum; default 0.9. */
  momentum?: number;
  /** Anneal the learning rate as μ0/(1+10p)^0.75 (default true); false keeps μ0. */
  lrSchedule?: boolean;
  /** Largest GRL weight λ (default 1); must be ≥ 0. */
  lambda?: number;
  /** Ramp λ as λ·(2/(1+exp(−10p)) − 1) (default true); false keeps λ constant. */
  lambdaSchedule?: boolean;
  /** Feature extractor; default dannFeatures. */
  features?: FeatureBuilder;
  /** Hidden units of the label head (default [100, 100]) and of the domain head (default [100]). */
  labelHidden?: number[];
  domainHidden?: number[];
  /** Report every this many steps through onBatch (a sync point); default 10. */
  logEvery?: number;
  onBatch?: (info: DannBatchInfo) => void;
  onEpoch?: (info: DannEpochInfo) => Promise<void> | void;
  /** Stops after the current step when it returns true. */
  shouldStop?: () => boolean;
}

export interface DannMetrics {
  /** Source cross-entropy and accuracy of the label head (running means over the epoch). */
  labelLoss: number;
  labelAccuracy: number;
  /** Domain head's logistic loss and accuracy on source+target (NaN in source-only mode). */
  domainLoss: number;
  domainAccuracy: number;
  /** λ and learning rate at the last step. */
  lambda: number;
  learningRate: number;
}

export interface DannBatchInfo extends DannMetrics {
  epoch: number;
  step: number;
  stepsPerEpoch: number;
  /** Training progress p ∈ [0, 1]. */
  progress: number;
}

export interface DannEpochInfo extends DannMetrics {
  epoch: number;
  seconds: number;
}

export interface DannResult {
  /** Feature extractor + label head, on inputs in [0, 1]. */
  classifier: Classifier;
  /** The same network as one LayersModel (logits). */
  model: tfl.LayersModel;
  features: tfl.LayersModel;
  labelHead: tfl.LayersModel;
  /** Absent in source-only mode. */
  domainHead?: tfl.LayersModel;
  history: DannEpochInfo[];
  /** Frees the weights of all the networks. */
  dispose(): void;
}

/** MomentumOptimizer.dispose() (TF.js 4.22) forgets the learning-rate scalar its SGD base keeps: free it too. */
function disposeOptimizer(optimizer: tf.MomentumOptimizer): void {
  optimizer.dispose();
  (optimizer as unknown as { c?: tf.Tensor }).c?.dispose();
}

function weights(m: tfl.LayersModel): tf.Variable[] {
  return m.trainableWeights.map((w) => (w as unknown as { val: tf.Variable }).val);
}

/** Checks that source and target can be adapted between; AdvxError otherwise. */
export function checkDomains(source: ImageDataset, target: ImageDataset): void {
  if (source.count === 0) throw new AdvxError(`the source set ${source.name} is empty`);
  if (target.count === 0) throw new AdvxError(`the target set ${target.name} is empty`);
  if (source.shape.length !== target.shape.length || source.shape.some((d, i) => d !== target.shape[i])) {
    throw new AdvxError(
      `source ${source.name} has images of shape [${source.shape}] but target ${target.name} has [${target.shape}]; both domains need the same shape (e.g. mnist-rgb for mnist-m)`,
    );
  }
  if (source.numClasses !== target.numClasses) {
    throw new AdvxError(`source ${source.name} has ${source.numClasses} classes but target ${target.name} has ${target.numClasses}`);
  }
}

/**
 * Trains DANN (or the source-only baseline) on labelled `source` and unlabelled `target` images
 * (target labels are never read). One epoch is one pass over the source; target batches are drawn
 * from a seeded permutation of the target, reshuffled when used up.
 */
export async function trainDann(source: ImageDataset, target: ImageDataset, options: DannOptions): Promise<DannResult> {
  const { epochs, batchSize, seed } = options;
  const method = options.method ?? 'dann';
  const lambdaMax = options.lambda ?? 1;
  assertOption(method === 'dann' || method === 'source-only', `method must be 'dann' or 'source-only', got ${String(method)}`);
  assertOption(Number.isFinite(lambdaMax) && lambdaMax >= 0, `the gradient reversal weight λ must be a finite number ≥ 0, got ${lambdaMax}`);
  assertOption(Number.isInteger(epochs) && epochs >= 0, `epochs must be a non-negative integer, got ${epochs}`);
  assertOption(Number.isInteger(batchSize) && batchSize > 0, `batch size must be a positive integer, got ${batchSize}`);
  assertOption(options.learningRate > 0, `learning rate must be positive, got ${options.learningRate}`);
  assertOption(Number.isInteger(seed), `seed must be an integer, got ${seed}`);
  const momentum = options.momentum ?? 0.9;
  assertOption(momentum >= 0 && momentum < 1, `momentum must be in [0, 1), got ${momentum}`);
  checkDomains(source, target);

  const inputShape = [...source.shape];
  const features = (options.features ?? dannFeatures)(inputShape, seed);
  const featureShape = features.outputs[0].shape;
  if (featureShape.length !== 2 || typeof featureShape[1] !== 'number') {
    features.dispose();
    throw new AdvxError(`the feature extractor must output [batch, dim], got [${featureShape}]`);
  }
  const dim = featureShape[1];
  const labelHead = head('label_head', dim, options.labelHidden ?? [100, 100], source.numClasses, seed + 100);
  const domainHead = method === 'dann' ? head('domain_head', dim, options.domainHidden ?? [100], 1, seed + 200) : undefined;
  const input = tfl.input({ shape: inputShape });
  const model = tfl.model({
    name: 'dann_classifier',
    inputs: input,
    outputs: labelHead.apply(features.apply(input)) as tfl.SymbolicTensor,
  });
  const classifier = new Classifier((x) => model.apply(x) as tf.Tensor, {
    inputShape,
    numClasses: source.numClasses,
    bounds: [0, 1],
    classNames: source.classNames,
    dataset: source.name,
  });

  const vars = [...weights(features), ...weights(labelHead), ...(domainHead ? weights(domainHead) : [])];
  const optimizer: tf.MomentumOptimizer = tf.train.momentum(options.learningRate, momentum);
  const stepsPerEpoch = Math.ceil(source.count / batchSize);
  const totalSteps = Math.max(1, epochs * stepsPerEpoch);
  const logEvery = options.logEvery ?? 10;
  const history: DannEpochInfo[] = [];
  const targetRng = new Rng(seed * 7919 + 1);
  let targetOrder = targetRng.permutation(target.count);
  let targetPos = 0;
  const nextTarget = (n: number): Int32Array => {
    const idx = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      if (targetPos === targetOrder.length) {
        targetOrder = targetRng.permutation(target.count);
        targetPos = 0;
      }
      idx[i] = targetOrder[targetPos++];
    }
    return idx;
  };

  let globalStep = 0;
  let stopped = false;
  try {
    for (let epoch = 0; epoch < epochs && !stopped; epoch++) {
      const rng = new Rng(seed * 1000003 + epoch);
      const order = rng.permutation(source.count);
      const start = performance.now();
      // Sums over the epoch: label loss·n, correct labels, domain loss·2n, correct domains.
      let sums = tf.zeros([4]);
      let seenSource = 0;
      let seenDomain = 0;
      let lambda = 0;
      let lr = options.learningRate;
      const metrics = async (): Promise<DannMetrics> => {
        const s = await sums.data();
        return {
          labelLoss: s[0] / Math.max(1, seenSource),
          labelAccuracy: s[1] / Math.max(1, seenSource),
          domainLoss: domainHead ? s[2] / Math.max(1, seenDomain) : NaN,
          domainAccuracy: domainHead ? s[3] / Math.max(1, seenDomain) : NaN,
          lambda,
          learningRate: lr,
        };
      };
      for (let step = 0; step < stepsPerEpoch; step++) {
        const p = Math.min(1, globalStep / totalSteps);
        lambda = domainHead ? lambdaMax * (options.lambdaSchedule === false ? 1 : lambdaSchedule(p)) : 0;
        lr = options.lrSchedule === false ? options.learningRate : lrSchedule(p, options.learningRate);
        optimizer.setLearningRate(lr);
        const idx = order.subarray(step * batchSize, Math.min(source.count, (step + 1) * batchSize));
        const n = idx.length;
        const src = gatherBatch(source, idx);
        const tgt = domainHead ? gatherBatch(target, nextTarget(n)) : undefined;
        const batchSums = tf.tidy(() => {
          let stats: tf.Tensor1D | undefined;
          const { grads } = tf.variableGrads(() => {
            const x = tgt ? tf.concat([src.x, tgt.x]) : src.x;
            const f = features.apply(x, { training: true }) as tf.Tensor2D;
            const logits = labelHead.apply(tf.slice(f, 0, n), { training: true }) as tf.Tensor2D;
            const labelLoss = crossEntropy(logits, src.y);
            const correct = tf.sum(tf.cast(tf.equal(tf.argMax(logits, 1), src.y), 'float32'));
            if (!domainHead) {
              stats = tf.keep(tf.stack([tf.mul(labelLoss, n), correct, tf.scalar(0), tf.scalar(0)]) as tf.Tensor1D);
              return labelLoss;
            }
            const d = tf.reshape(domainHead.apply(gradientReversal(f, lambda), { training: true }) as tf.Tensor, [2 * n]);
            const domains = tf.concat([tf.zeros([n]), tf.ones([n])]);
            const domainLoss = tf.losses.sigmoidCrossEntropy(domains, d) as tf.Scalar;
            const domainCorrect = tf.sum(tf.cast(tf.equal(tf.cast(tf.greater(d, 0), 'float32'), domains), 'float32'));
            stats = tf.keep(tf.stack([tf.mul(labelLoss, n), correct, tf.mul(domainLoss, 2 * n), domainCorrect]) as tf.Tensor1D);
            return tf.add(labelLoss, domainLoss) as tf.Scalar;
          }, vars);
          (optimizer as tf.Optimizer).applyGradients(grads);
          return stats!;
        });
        tf.dispose([src.x, src.y, tgt?.x, tgt?.y]);
        const next = tf.add(sums, batchSums);
        tf.dispose([sums, batchSums]);
        sums = next;
        seenSource += n;
        if (domainHead) seenDomain += 2 * n;
        globalStep++;
        if (options.onBatch && ((step + 1) % logEvery === 0 || step === stepsPerEpoch - 1)) {
          options.onBatch({ epoch, step: step + 1, stepsPerEpoch, progress: globalStep / totalSteps, ...(await metrics()) });
        }
        if (options.shouldStop?.()) {
          stopped = true;
          break;
        }
      }
      const info: DannEpochInfo = { epoch: epoch + 1, seconds: (performance.now() - start) / 1000, ...(await metrics()) };
      sums.dispose();
      history.push(info);
      await options.onEpoch?.(info);
      if (options.shouldStop?.()) stopped = true;
    }
  } catch (err) {
    disposeOptimizer(optimizer);
    model.dispose();
    domainHead?.dispose();
    throw err;
  }
  disposeOptimizer(optimizer);
  return {
    classifier,
    model,
    features,
    labelHead,
    domainHead,
    history,
    dispose() {
      model.dispose();
      domainHead?.dispose();
    },
  };
}
