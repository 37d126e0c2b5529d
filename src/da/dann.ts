/**
 * Domain-adversarial training (DANN, Ganin & Lempitsky 2015): a feature extractor G_f, a label
 * head G_y trained on labelled source images, and a domain head G_d behind a gradient reversal
 * layer trained to tell source features from target features. Minimising L_y + L_d through the
 * GRL is the saddle point (θf, θy) = argmin, θd = argmax of E = L_y − λ L_d: the features become
 * domain-invariant while staying discriminative. SGD with momentum 0.9 and the paper's schedules
 * for λ and the learning rate; seeded batches and initialisers. `method: 'source-only'` trains the
 * same extractor and label head without the domain head, the baseline DANN is compared with;
 * 'coral' and 'mmd' replace the domain head by a statistic of the two batches of features that
 * the extractor minimises (Deep CORAL, DAN): the same loop, another alignment term; 'cdan' feeds
 * the domain head the features conditioned on the class probabilities (cdan.ts).
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
import { coralLoss } from './coral.ts';
import { mmdLoss } from './mmd.ts';
import { multilinearMap } from './cdan.ts';

export const ADAPTATION_METHODS = ['source-only', 'dann', 'cdan', 'coral', 'mmd'] as const;
export type AdaptationMethod = (typeof ADAPTATION_METHODS)[number];

/** The methods with a domain head behind gradient reversal. */
const adversarial = (method: AdaptationMethod) => method === 'dann' || method === 'cdan';

/** Builds a feature extractor: input [batch, ...inputShape] → features [batch, dim]. */
export type FeatureBuilder = (inputShape: number[], seed: number) => tfl.LayersModel;

function init(seed: number, k: number) {
  return tfl.initializers.glorotUniform({ seed: seed + k });
}

/** The DANN paper's MNIST extractor (WORKLOADS dann-step): conv 5×5×32 relu, pool 2, conv 5×5×48 relu, pool 2, flatten (768 on 28×28). */
export const dannFeatures: FeatureBuilder = (inputShape, seed) => convFeatures(inputShape, seed, false);

/**
 * The same extractor with batch normalisation on the input and after each convolution (before
 * the ReLU). Normalising the input per channel with batch statistics removes most of MNIST-M's
 * colour shift when the statistics are taken per domain (`perDomainBatchNorm`).
 */
export const dannFeaturesBatchNorm: FeatureBuilder = (inputShape, seed) => convFeatures(inputShape, seed, true);

function convFeatures(inputShape: number[], seed: number, batchNorm: boolean): tfl.Sequential {
  const m = tfl.sequential({ name: batchNorm ? 'dann_features_bn' : 'dann_features' });
  if (batchNorm) m.add(tfl.layers.batchNormalization({ inputShape }));
  [32, 48].forEach((filters, k) => {
    const first = k === 0 && !batchNorm;
    m.add(tfl.layers.conv2d({ ...(first ? { inputShape } : {}), filters, kernelSize: 5, activation: batchNorm ? 'linear' : 'relu', useBias: !batchNorm, kernelInitializer: init(seed, k) }));
    if (batchNorm) {
      m.add(tfl.layers.batchNormalization({}));
      m.add(tfl.layers.reLU());
    }
    m.add(tfl.layers.maxPooling2d({ poolSize: 2 }));
  });
  m.add(tfl.layers.flatten());
  return m;
}

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
  /** 'dann' (default), 'cdan', 'coral', 'mmd', or 'source-only' (no alignment: the baseline). */
  method?: AdaptationMethod;
  epochs: number;
  /** Images per domain in each step (a DANN step sees batchSize source + batchSize target images). */
  batchSize: number;
  /** μ0: the initial learning rate. */
  learningRate: number;
  seed: number;
  /** SGD momentum; default 0.9 (unused with an Adam optimizer passed in `optimizer`). */
  momentum?: number;
  /**
   * Run the extractor on the source half and the target half separately, so that its batch
   * normalisation layers (if any) normalise each domain with its own statistics (default false:
   * one batch of both domains).
   */
  perDomainBatchNorm?: boolean;
  /** Anneal the learning rate as μ0/(1+10p)^0.75 (default true); false keeps μ0. */
  lrSchedule?: boolean;
  /** Largest weight λ of the alignment term (GRL weight for dann; default 1); must be ≥ 0. */
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
  /** After each epoch, e.g. to checkpoint `networks` and `optimizer`. */
  onEpoch?: (info: DannEpochInfo, state: { networks: DannNetworks; optimizer: tf.Optimizer }) => Promise<void> | void;
  /** Networks to train instead of fresh ones (a resumed run's), from buildDannNetworks. */
  networks?: DannNetworks;
  /** The optimizer to use (e.g. tf.train.adam, or a resumed run's with its state restored); default SGD with momentum. */
  optimizer?: tf.Optimizer;
  /** Epochs already done (resume): training continues from there with the same schedules. */
  startEpoch?: number;
  /** Stops after the current step when it returns true. */
  shouldStop?: () => boolean;
}

export interface DannMetrics {
  /** Source cross-entropy and accuracy of the label head (running means over the epoch). */
  labelLoss: number;
  labelAccuracy: number;
  /**
   * dann: the domain head's logistic loss and accuracy on source+target; coral, mmd: the
   * alignment loss, accuracy NaN; source-only: NaN.
   */
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

/** The networks of a domain adaptation run. */
export interface DannNetworks {
  features: tfl.LayersModel;
  labelHead: tfl.LayersModel;
  /** dann only. */
  domainHead?: tfl.LayersModel;
  /** Feature extractor + label head as one LayersModel (logits), on inputs in [0, 1]. */
  model: tfl.LayersModel;
  /** Every network's weights in a fixed order, for checkpoints. */
  all: { getWeights(): tf.Tensor[]; setWeights(weights: tf.Tensor[]): void };
  dispose(): void;
}

export interface DannResult extends DannNetworks {
  classifier: Classifier;
  history: DannEpochInfo[];
}

/** MomentumOptimizer.dispose() (TF.js 4.22) forgets the learning-rate scalar its SGD base keeps: free it too. */
export function disposeOptimizer(optimizer: tf.Optimizer): void {
  optimizer.dispose();
  (optimizer as unknown as { c?: tf.Tensor }).c?.dispose();
}

/** SGD and momentum have setLearningRate; Adam reads its learningRate field at each update. */
function setLearningRate(optimizer: tf.Optimizer, lr: number): void {
  const o = optimizer as unknown as { setLearningRate?: (lr: number) => void; learningRate: number };
  if (o.setLearningRate) o.setLearningRate(lr);
  else o.learningRate = lr;
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

export interface NetworkOptions {
  method?: AdaptationMethod;
  features?: FeatureBuilder;
  labelHidden?: number[];
  domainHidden?: number[];
  seed: number;
}

/** Builds the extractor, the label head and (for dann) the domain head, seeded. */
export function buildDannNetworks(inputShape: number[], numClasses: number, options: NetworkOptions): DannNetworks {
  const { seed } = options;
  const features = (options.features ?? dannFeatures)(inputShape, seed);
  const featureShape = features.outputs[0].shape;
  if (featureShape.length !== 2 || typeof featureShape[1] !== 'number') {
    features.dispose();
    throw new AdvxError(`the feature extractor must output [batch, dim], got [${featureShape}]`);
  }
  const dim = featureShape[1];
  const labelHead = head('label_head', dim, options.labelHidden ?? [100, 100], numClasses, seed + 100);
  const method = options.method ?? 'dann';
  // CDAN's domain head reads the features conditioned on the classes: classes × dim inputs.
  const domainInputs = method === 'cdan' ? dim * numClasses : dim;
  const domainHead = adversarial(method) ? head('domain_head', domainInputs, options.domainHidden ?? [100], 1, seed + 200) : undefined;
  const input = tfl.input({ shape: inputShape });
  const labels = labelHead.apply(features.apply(input)) as tfl.SymbolicTensor;
  const model = tfl.model({ name: 'dann_classifier', inputs: input, outputs: labels });
  const parts = [features, labelHead, ...(domainHead ? [domainHead] : [])];
  const all = {
    getWeights: () => parts.flatMap((p) => p.getWeights()),
    setWeights(weights: tf.Tensor[]) {
      let k = 0;
      for (const p of parts) {
        const n = p.weights.length;
        p.setWeights(weights.slice(k, k + n));
        k += n;
      }
      if (k !== weights.length) throw new AdvxError(`expected ${k} weight tensors, got ${weights.length}`);
    },
  };
  return {
    features,
    labelHead,
    domainHead,
    model,
    all,
    dispose() {
      model.dispose();
      domainHead?.dispose();
    },
  };
}

/**
 * Trains DANN (or CORAL, MMD, or the source-only baseline) on labelled `source` and unlabelled
 * `target` images (target labels are never read). One epoch is one pass over the source; each
 * epoch draws its target batches from its own seeded permutations of the target, so a run resumed
 * after epoch k sees exactly the batches the uninterrupted run saw.
 */
export async function trainDann(source: ImageDataset, target: ImageDataset, options: DannOptions): Promise<DannResult> {
  const { epochs, batchSize, seed } = options;
  const method = options.method ?? 'dann';
  const lambdaMax = options.lambda ?? 1;
  assertOption((ADAPTATION_METHODS as readonly string[]).includes(method), `method must be one of ${ADAPTATION_METHODS.join(', ')}, got ${String(method)}`);
  assertOption(Number.isFinite(lambdaMax) && lambdaMax >= 0, `the alignment weight λ must be a finite number ≥ 0, got ${lambdaMax}`);
  assertOption(Number.isInteger(epochs) && epochs >= 0, `epochs must be a non-negative integer, got ${epochs}`);
  assertOption(Number.isInteger(batchSize) && batchSize > 0, `batch size must be a positive integer, got ${batchSize}`);
  assertOption(options.learningRate > 0, `learning rate must be positive, got ${options.learningRate}`);
  assertOption(Number.isInteger(seed), `seed must be an integer, got ${seed}`);
  const momentum = options.momentum ?? 0.9;
  assertOption(momentum >= 0 && momentum < 1, `momentum must be in [0, 1), got ${momentum}`);
  checkDomains(source, target);
  if (method !== 'source-only' && batchSize < 2) throw new AdvxError(`${method} compares batches of features: the batch size must be at least 2`);

  const inputShape = [...source.shape];
  const networks = options.networks ?? buildDannNetworks(inputShape, source.numClasses, { ...options, method });
  const { features, labelHead, domainHead, model } = networks;
  if (adversarial(method) && !domainHead) throw new AdvxError(`${method} needs networks built with a domain head`);
  const align = method === 'coral' ? coralLoss : method === 'mmd' ? mmdLoss : undefined;
  const classifier = new Classifier((x) => model.apply(x) as tf.Tensor, {
    inputShape,
    numClasses: source.numClasses,
    bounds: [0, 1],
    classNames: source.classNames,
    dataset: source.name,
  });

  const vars = [...weights(features), ...weights(labelHead), ...(adversarial(method) && domainHead ? weights(domainHead) : [])];
  const optimizer: tf.Optimizer = options.optimizer ?? tf.train.momentum(options.learningRate, momentum);
  const startEpoch = options.startEpoch ?? 0;
  assertOption(Number.isInteger(startEpoch) && startEpoch >= 0, `startEpoch must be a non-negative integer, got ${startEpoch}`);
  const stepsPerEpoch = Math.ceil(source.count / batchSize);
  const totalSteps = Math.max(1, epochs * stepsPerEpoch);
  const logEvery = options.logEvery ?? 10;
  const history: DannEpochInfo[] = [];
  const usesTarget = method !== 'source-only';
  let globalStep = startEpoch * stepsPerEpoch;
  let stopped = false;
  try {
    for (let epoch = startEpoch; epoch < epochs && !stopped; epoch++) {
      const rng = new Rng(seed * 1000003 + epoch);
      const order = rng.permutation(source.count);
      const targetRng = new Rng(seed * 1000003 + epoch + 7919);
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
          domainLoss: usesTarget ? s[2] / Math.max(1, seenDomain) : NaN,
          domainAccuracy: adversarial(method) ? s[3] / Math.max(1, seenDomain) : NaN,
          lambda,
          learningRate: lr,
        };
      };
      for (let step = 0; step < stepsPerEpoch; step++) {
        const p = Math.min(1, globalStep / totalSteps);
        lambda = usesTarget ? lambdaMax * (options.lambdaSchedule === false ? 1 : lambdaSchedule(p)) : 0;
        lr = options.lrSchedule === false ? options.learningRate : lrSchedule(p, options.learningRate);
        setLearningRate(optimizer, lr);
        const idx = order.subarray(step * batchSize, Math.min(source.count, (step + 1) * batchSize));
        const n = idx.length;
        const src = gatherBatch(source, idx);
        const tgt = usesTarget ? gatherBatch(target, nextTarget(n)) : undefined;
        const batchSums = tf.tidy(() => {
          let stats: tf.Tensor1D | undefined;
          const { grads } = tf.variableGrads(() => {
            const extract = (x: tf.Tensor) => features.apply(x, { training: true }) as tf.Tensor2D;
            const f = !tgt ? extract(src.x) : options.perDomainBatchNorm ? tf.concat([extract(src.x), extract(tgt.x)]) : extract(tf.concat([src.x, tgt.x]));
            // CDAN needs the class probabilities of the target half too.
            const allLogits = method === 'cdan' && tgt ? (labelHead.apply(f, { training: true }) as tf.Tensor2D) : undefined;
            const logits = allLogits ? tf.slice(allLogits, 0, n) : (labelHead.apply(tf.slice(f, 0, n), { training: true }) as tf.Tensor2D);
            const labelLoss = crossEntropy(logits, src.y);
            const correct = tf.sum(tf.cast(tf.equal(tf.argMax(logits, 1), src.y), 'float32'));
            // A last source batch of one image has no covariance: that step is label loss only.
            if (!tgt || (align && n < 2)) {
              stats = tf.keep(tf.stack([tf.mul(labelLoss, n), correct, tf.scalar(0), tf.scalar(0)]) as tf.Tensor1D);
              return labelLoss;
            }
            if (align) {
              const m = tgt.y.shape[0];
              const alignLoss = align(tf.slice(f, 0, n), tf.slice(f, n, m));
              stats = tf.keep(tf.stack([tf.mul(labelLoss, n), correct, tf.mul(alignLoss, 2 * n), tf.scalar(0)]) as tf.Tensor1D);
              return tf.add(labelLoss, tf.mul(alignLoss, lambda)) as tf.Scalar;
            }
            const domainInput = allLogits ? multilinearMap(f, allLogits) : f;
            const d = tf.reshape(domainHead!.apply(gradientReversal(domainInput, lambda), { training: true }) as tf.Tensor, [2 * n]);
            const domains = tf.concat([tf.zeros([n]), tf.ones([n])]);
            const domainLoss = tf.losses.sigmoidCrossEntropy(domains, d) as tf.Scalar;
            const domainCorrect = tf.sum(tf.cast(tf.equal(tf.cast(tf.greater(d, 0), 'float32'), domains), 'float32'));
            stats = tf.keep(tf.stack([tf.mul(labelLoss, n), correct, tf.mul(domainLoss, 2 * n), domainCorrect]) as tf.Tensor1D);
            return tf.add(labelLoss, domainLoss) as tf.Scalar;
          }, vars);
          optimizer.applyGradients(grads);
          return stats!;
        });
        tf.dispose([src.x, src.y, tgt?.x, tgt?.y]);
        const next = tf.add(sums, batchSums);
        tf.dispose([sums, batchSums]);
        sums = next;
        seenSource += n;
        if (usesTarget) seenDomain += 2 * n;
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
      await options.onEpoch?.(info, { networks, optimizer });
      if (options.shouldStop?.()) stopped = true;
    }
  } catch (err) {
    if (!options.optimizer) disposeOptimizer(optimizer);
    if (!options.networks) networks.dispose();
    throw err;
  }
  if (!options.optimizer) disposeOptimizer(optimizer);
  return { ...networks, classifier, history };
}
