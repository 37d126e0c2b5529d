/**
 * Domain-adversarial training (DANN, Ganin & Lempitsky 2015): a feature extractor G_f, a label
 * head G_y trained on labelled source images, and a domain head G_d behind a gradient reversal
 * layer trained to tell source features from target features. Minimising L_y + L_d through the
 * GRL is the saddle point (θf, θy) = argmin, θd = argmax of E = L_y − λ L_d: the features become
 * domain-invariant while staying discriminative. SGD with momentum 0.9 and the paper's schedules
 * for λ and the learning rate; seeded batches and initialisers. The other methods are the same
 * loop with another alignment strategy (strategies.ts): 'source-only' trains the extractor and
 * label head alone, the baseline; 'coral' and 'mmd' replace the domain head by a discrepancy of the
 * two batches of features (Deep CORAL, DAN); 'cdan' feeds the domain head the features conditioned
 * on the class probabilities (cdan.ts). Every method sees the same source batches for a seed.
 * No Node API here.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { AdvxError, assertOption } from '../core/errors.ts';
import type { Rng } from '../core/rng.ts';
import { gatherBatch } from '../data/batch.ts';
import type { ImageDataset } from '../data/types.ts';
import { Classifier } from '../models/classifier.ts';
import { STREAM, disposeOptimizer, epochRng, guardedUpdate, setLearningRate, statisticsVariables, trainableVariables } from '../train/core.ts';
import { crossEntropy } from '../train/fit.ts';
import { lambdaSchedule, lrSchedule } from './gradient-reversal.ts';
import { alignmentStrategy, type AdaptationMethod, type AlignmentStrategy } from './strategies.ts';

export { ADAPTATION_METHODS, ALIGNMENT_STRATEGIES, type AdaptationMethod, type AlignmentStrategy } from './strategies.ts';

/**
 * Builds a feature extractor: input [batch, ...inputShape] → features [batch, dim]. `layers`, when
 * given, says what it builds (for captions: "MLP 32-32").
 */
export type FeatureBuilder = ((inputShape: number[], seed: number) => tfl.LayersModel) & { layers?: string };

function init(seed: number, k: number) {
  return tfl.initializers.glorotUniform({ seed: seed + k });
}

/** The DANN paper's MNIST extractor (WORKLOADS dann-step): conv 5×5×32 relu, pool 2, conv 5×5×48 relu, pool 2, flatten (768 on 28×28). */
export const dannFeatures: FeatureBuilder = Object.assign((inputShape: number[], seed: number) => convFeatures(inputShape, seed, false), { layers: 'conv 32-48' });

/**
 * The same extractor with batch normalisation on the input and after each convolution (before
 * the ReLU). Normalising the input per channel with batch statistics removes most of MNIST-M's
 * colour shift when the statistics are taken per domain (`perDomainBatchNorm`).
 */
export const dannFeaturesBatchNorm: FeatureBuilder = Object.assign((inputShape: number[], seed: number) => convFeatures(inputShape, seed, true), { layers: 'conv 32-48 with batch norm' });

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

/** Hidden units of the heads when a recipe names none (the DANN paper's MNIST heads). */
const DEFAULT_LABEL_HIDDEN = [100, 100];
const DEFAULT_DOMAIN_HIDDEN = [100];

/** A small MLP extractor (flatten, dense ReLU layers), e.g. for the two-moons toy. */
export function mlpFeatures(units: number[] = [32, 32]): FeatureBuilder {
  const build = (inputShape: number[], seed: number) => {
    const m = tfl.sequential({ name: 'mlp_features' });
    m.add(tfl.layers.flatten({ inputShape }));
    units.forEach((u, k) => m.add(tfl.layers.dense({ units: u, activation: 'relu', kernelInitializer: init(seed, k) })));
    return m;
  };
  return Object.assign(build, { layers: `MLP ${units.join('-')}` });
}

/** The networks of a recipe in words: "MLP 32-32 extractor, label head 32, domain head 32". */
export function describeNetworks(o: Pick<DannOptions, 'features' | 'labelHidden' | 'domainHidden'>): string {
  const head = (hidden: number[]) => (hidden.length ? hidden.join('-') : 'linear');
  return `${(o.features ?? dannFeatures).layers ?? 'custom'} extractor, label head ${head(o.labelHidden ?? DEFAULT_LABEL_HIDDEN)}, domain head ${head(o.domainHidden ?? DEFAULT_DOMAIN_HIDDEN)}`;
}

/**
 * The network and optimiser of the rotated-moons toy (src/data/toy2d.ts rotatedMoons), as
 * describeNetworks and the fields say them, and the seed the lab starts from (the one RESULTS.md
 * pictures). The lab's DA view, the tests and `npm run results:da` all train this.
 */
export const MOONS_RECIPE = {
  seed: 3,
  epochs: 30,
  batchSize: 32,
  learningRate: 0.2,
  features: mlpFeatures([32, 32]),
  labelHidden: [32],
  domainHidden: [32],
} satisfies Partial<DannOptions>;

function head(name: string, inputDim: number, hidden: number[], outputs: number, seed: number): tfl.Sequential {
  const m = tfl.sequential({ name });
  hidden.forEach((u, k) =>
    m.add(tfl.layers.dense({ inputShape: k === 0 ? [inputDim] : undefined, units: u, activation: 'relu', kernelInitializer: init(seed, k) })),
  );
  m.add(tfl.layers.dense({ inputShape: hidden.length === 0 ? [inputDim] : undefined, units: outputs, kernelInitializer: init(seed, hidden.length) }));
  return m;
}

export interface DannOptions {
  /** 'dann' (default), 'cdan', 'coral', 'mmd', 'source-only' (no alignment: the baseline), or a strategy of one's own. */
  method?: AdaptationMethod | AlignmentStrategy;
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
   * The strategy's alignment loss (unweighted) over source+target: dann, cdan: the domain head's
   * logistic loss, and its accuracy; coral, mmd: the discrepancy, accuracy NaN (no domain head);
   * source-only: NaN.
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
  /** For a strategy with a domain head (dann, cdan). */
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
  method?: AdaptationMethod | AlignmentStrategy;
  features?: FeatureBuilder;
  labelHidden?: number[];
  domainHidden?: number[];
  seed: number;
}

/** Builds the extractor, the label head and the domain head of the method's strategy (if it has one), seeded. */
export function buildDannNetworks(inputShape: number[], numClasses: number, options: NetworkOptions): DannNetworks {
  const { seed } = options;
  const strategy = alignmentStrategy(options.method ?? 'dann');
  const features = (options.features ?? dannFeatures)(inputShape, seed);
  const featureShape = features.outputs[0].shape;
  if (featureShape.length !== 2 || typeof featureShape[1] !== 'number') {
    features.dispose();
    throw new AdvxError(`the feature extractor must output [batch, dim], got [${featureShape}]`);
  }
  const dim = featureShape[1];
  const labelHead = head('label_head', dim, options.labelHidden ?? DEFAULT_LABEL_HIDDEN, numClasses, seed + 100);
  const spec = strategy.domainHead?.(dim, numClasses);
  const domainHead = spec ? head('domain_head', spec.inputs, options.domainHidden ?? DEFAULT_DOMAIN_HIDDEN, spec.outputs, seed + 200) : undefined;
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

type Batch = ReturnType<typeof gatherBatch>;

/** Target indices for one epoch: its seeded permutations of the target, one after another, as many as the source needs. */
function targetBatches(count: number, rng: Rng): (n: number) => Int32Array {
  let order = rng.permutation(count);
  let pos = 0;
  return (n) => {
    const idx = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      if (pos === order.length) {
        order = rng.permutation(count);
        pos = 0;
      }
      idx[i] = order[pos++];
    }
    return idx;
  };
}

/**
 * Trains DANN (or another alignment strategy: CDAN, CORAL, MMD, the source-only baseline, one's
 * own) on labelled `source` and unlabelled `target` images (target labels are never read). One
 * epoch is one pass over the source; each epoch draws its source order and its target batches
 * from its own seeded streams, so every method sees the same source batches and a run resumed
 * after epoch k sees exactly the batches the uninterrupted run saw. A non-finite loss or gradient
 * throws TrainingDivergedError before its update: the networks keep the last good weights.
 */
export async function trainDann(source: ImageDataset, target: ImageDataset, options: DannOptions): Promise<DannResult> {
  const { epochs, batchSize, seed } = options;
  const strategy = alignmentStrategy(options.method ?? 'dann');
  const { align } = strategy;
  const lambdaMax = options.lambda ?? 1;
  assertOption(Number.isFinite(lambdaMax) && lambdaMax >= 0, `the alignment weight λ must be a finite number ≥ 0, got ${lambdaMax}`);
  assertOption(Number.isInteger(epochs) && epochs >= 0, `epochs must be a non-negative integer, got ${epochs}`);
  assertOption(Number.isInteger(batchSize) && batchSize > 0, `batch size must be a positive integer, got ${batchSize}`);
  assertOption(options.learningRate > 0, `learning rate must be positive, got ${options.learningRate}`);
  assertOption(Number.isInteger(seed), `seed must be an integer, got ${seed}`);
  const momentum = options.momentum ?? 0.9;
  assertOption(momentum >= 0 && momentum < 1, `momentum must be in [0, 1), got ${momentum}`);
  checkDomains(source, target);
  if (align && batchSize < 2) throw new AdvxError(`${strategy.name} compares batches of features: the batch size must be at least 2`);

  const inputShape = [...source.shape];
  const networks = options.networks ?? buildDannNetworks(inputShape, source.numClasses, { ...options, method: strategy });
  const { features, labelHead, domainHead, model } = networks;
  if (strategy.domainHead && !domainHead) throw new AdvxError(`${strategy.name} needs networks built with a domain head`);
  const classifier = new Classifier((x) => model.apply(x) as tf.Tensor, {
    inputShape,
    numClasses: source.numClasses,
    bounds: [0, 1],
    classNames: source.classNames,
    dataset: source.name,
  });

  const trained = [features, labelHead, ...(strategy.domainHead && domainHead ? [domainHead] : [])];
  const vars = trained.flatMap(trainableVariables);
  const statistics = trained.flatMap(statisticsVariables);
  const optimizer: tf.Optimizer = options.optimizer ?? tf.train.momentum(options.learningRate, momentum);
  const startEpoch = options.startEpoch ?? 0;
  assertOption(Number.isInteger(startEpoch) && startEpoch >= 0, `startEpoch must be a non-negative integer, got ${startEpoch}`);
  const stepsPerEpoch = Math.ceil(source.count / batchSize);
  const totalSteps = Math.max(1, epochs * stepsPerEpoch);
  const logEvery = options.logEvery ?? 10;
  const history: DannEpochInfo[] = [];

  /** A step's objective; keeps its batch's sums: label loss·n, correct labels, alignment loss·2n, correct domains. */
  const objective = (src: Batch, tgt: Batch | undefined, lambda: number, keep: <T extends tf.Tensor>(t: T) => T): tf.Scalar => {
    const n = src.y.shape[0];
    const extract = (x: tf.Tensor) => features.apply(x, { training: true }) as tf.Tensor2D;
    const f = !tgt ? extract(src.x) : options.perDomainBatchNorm ? tf.concat([extract(src.x), extract(tgt.x)]) : extract(tf.concat([src.x, tgt.x]));
    const allLogits = strategy.targetLogits && tgt ? (labelHead.apply(f, { training: true }) as tf.Tensor2D) : undefined;
    const logits = allLogits ? tf.slice(allLogits, 0, n) : (labelHead.apply(tf.slice(f, 0, n), { training: true }) as tf.Tensor2D);
    const labelLoss = crossEntropy(logits, src.y);
    const correct = tf.sum(tf.cast(tf.equal(tf.argMax(logits, 1), src.y), 'float32'));
    // A last source batch smaller than the strategy needs (one image: no covariance) trains on the labels alone.
    if (!align || !tgt || n < (strategy.minBatch ?? 1)) {
      keep(tf.stack([tf.mul(labelLoss, n), correct, tf.scalar(0), tf.scalar(0)]));
      return labelLoss;
    }
    const a = align({ features: f, source: tf.slice(f, 0, n), target: tf.slice(f, n, tgt.y.shape[0]), logits: allLogits ?? logits, lambda, domainHead });
    keep(tf.stack([tf.mul(labelLoss, n), correct, tf.mul(a.loss, 2 * n), a.correct ?? tf.scalar(0)]));
    return tf.add(labelLoss, a.objective) as tf.Scalar;
  };

  let globalStep = startEpoch * stepsPerEpoch;
  let stopped = false;
  try {
    for (let epoch = startEpoch; epoch < epochs && !stopped; epoch++) {
      const order = epochRng(seed, epoch).permutation(source.count);
      const nextTarget = targetBatches(target.count, epochRng(seed, epoch, STREAM.target));
      const start = performance.now();
      // Summed on the device, read back only at the logging points.
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
          domainLoss: align ? s[2] / Math.max(1, seenDomain) : NaN,
          domainAccuracy: strategy.domainHead ? s[3] / Math.max(1, seenDomain) : NaN,
          lambda,
          learningRate: lr,
        };
      };
      let info: DannEpochInfo;
      try {
        for (let step = 0; step < stepsPerEpoch; step++) {
          const p = Math.min(1, globalStep / totalSteps);
          lambda = align ? lambdaMax * (options.lambdaSchedule === false ? 1 : lambdaSchedule(p)) : 0;
          lr = options.lrSchedule === false ? options.learningRate : lrSchedule(p, options.learningRate);
          setLearningRate(optimizer, lr);
          const idx = order.subarray(step * batchSize, Math.min(source.count, (step + 1) * batchSize));
          const n = idx.length;
          const src = gatherBatch(source, idx);
          const tgt = align ? gatherBatch(target, nextTarget(n)) : undefined;
          let batchSums: tf.Tensor;
          try {
            const where = { step: globalStep + 1, part: `${strategy.name} model`, statistics };
            ({ kept: [batchSums] } = await guardedUpdate((keep) => objective(src, tgt, lambda, keep), vars, optimizer, where));
          } finally {
            tf.dispose([src.x, src.y, tgt?.x, tgt?.y]);
          }
          const next = tf.add(sums, batchSums);
          tf.dispose([sums, batchSums]);
          sums = next;
          seenSource += n;
          if (align) seenDomain += 2 * n;
          globalStep++;
          if (options.onBatch && ((step + 1) % logEvery === 0 || step === stepsPerEpoch - 1)) {
            options.onBatch({ epoch, step: step + 1, stepsPerEpoch, progress: globalStep / totalSteps, ...(await metrics()) });
          }
          if (options.shouldStop?.()) {
            stopped = true;
            break;
          }
        }
        info = { epoch: epoch + 1, seconds: (performance.now() - start) / 1000, ...(await metrics()) };
      } finally {
        sums.dispose();
      }
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
