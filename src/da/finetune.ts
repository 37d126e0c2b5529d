/**
 * Fine-tuning a pretrained network on a few labelled target images: the simplest domain adaptation,
 * and the baseline any unsupervised method must be read against (it uses target labels; DANN,
 * CORAL and MMD do not). Replace the last layer by a fresh one for the target's classes (or keep
 * the trained one when the target has the source's classes: it knows them better than a few
 * labels can teach a new one), train the head alone with the body frozen (so a random head's large
 * early gradients cannot wreck the pretrained features), then train everything at a lower learning
 * rate. Batch-norm layers stay in
 * inference mode throughout (the Keras fine-tuning recipe): a few dozen labelled images give noisy
 * batch statistics, and training on them leaves moving averages that match neither the pretrained
 * statistics nor the target's, so the tuned network is worse than the one it started from. Give the
 * body the target's statistics first (AdaBN, from unlabelled target images) when it has batch norm.
 * No Node API here.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { AdvxError, assertOption } from '../core/errors.ts';
import { Rng } from '../core/rng.ts';
import { take, type ImageDataset } from '../data/types.ts';
import { fitClassifier, type BatchInfo, type EpochInfo } from '../train/fit.ts';

/** The layers of a chain model, nested Sequential models opened up, input layers left out. */
function chainLayers(model: tfl.LayersModel): tfl.layers.Layer[] {
  const out: tfl.layers.Layer[] = [];
  for (const layer of model.layers) {
    if (layer.getClassName() === 'InputLayer') continue;
    if (layer instanceof tfl.LayersModel) {
      out.push(...chainLayers(layer));
      continue;
    }
    const inbound = (layer as unknown as { inboundNodes: Array<{ inboundLayers: unknown[] }> }).inboundNodes;
    if (inbound.some((node) => node.inboundLayers.length > 1)) {
      throw new AdvxError(`fine-tuning needs a chain of layers; ${layer.name} (${layer.getClassName()}) merges several inputs`);
    }
    out.push(layer);
  }
  return out;
}

/**
 * A model that runs `pretrained`'s layers except the last, then a new dense layer of `numClasses`
 * logits (seeded initialiser). The body layers are shared, not copied: training the new model
 * changes `pretrained` too.
 */
export function replaceHead(pretrained: tfl.LayersModel, numClasses: number, seed: number): tfl.LayersModel {
  assertOption(Number.isInteger(numClasses) && numClasses >= 2, `the new head needs at least 2 classes, got ${numClasses}`);
  const head = tfl.layers.dense({ units: numClasses, kernelInitializer: tfl.initializers.glorotUniform({ seed }), name: `finetune_head_${seed}_${numClasses}` });
  return asChain(pretrained, head);
}

/**
 * `pretrained` as a flat chain of its own layers (shared, not copied), head included: for
 * fine-tuning when the target has the source's classes, so the head's knowledge of them is kept.
 */
export function keepHead(pretrained: tfl.LayersModel): tfl.LayersModel {
  return asChain(pretrained);
}

/** A flat chain of `pretrained`'s layers, its last one replaced by `head` when given. */
function asChain(pretrained: tfl.LayersModel, head?: tfl.layers.Layer): tfl.LayersModel {
  if (pretrained.inputs.length !== 1 || pretrained.outputs.length !== 1) {
    throw new AdvxError(`fine-tuning needs a model with one input and one output, got ${pretrained.inputs.length} and ${pretrained.outputs.length}`);
  }
  const layers = chainLayers(pretrained);
  if (layers.length < 2) throw new AdvxError('fine-tuning needs a model of at least two layers (a body and a head)');
  const input = tfl.input({ shape: pretrained.inputs[0].shape.slice(1) as number[] });
  let h: tfl.SymbolicTensor = input;
  for (const layer of layers.slice(0, -1)) h = layer.apply(h) as tfl.SymbolicTensor;
  if (h.shape.length !== 2) throw new AdvxError(`the layer before the head must output [batch, features], got [${h.shape}]`);
  return tfl.model({ name: 'finetuned', inputs: input, outputs: (head ?? layers.at(-1)!).apply(h) as tfl.SymbolicTensor });
}

/** The features a fine-tuned model's head reads: a model from its input to the head's input. */
export function headInputModel(model: tfl.LayersModel): tfl.LayersModel {
  const output = model.outputs[0];
  const node = (output.sourceLayer as unknown as { inboundNodes: Array<{ inputTensors: tfl.SymbolicTensor[] }> }).inboundNodes[output.nodeIndex];
  return tfl.model({ inputs: model.inputs, outputs: node.inputTensors[0] });
}

/** `perClass` images of each class, drawn with a seed: the few labels fine-tuning may use. */
export function labelledPerClass(ds: ImageDataset, perClass: number, seed: number): ImageDataset {
  assertOption(Number.isInteger(perClass) && perClass > 0, `images per class must be a positive integer, got ${perClass}`);
  const byClass: number[][] = Array.from({ length: ds.numClasses }, () => []);
  const order = new Rng(seed).permutation(ds.count);
  for (const i of order) if (byClass[ds.labels[i]].length < perClass) byClass[ds.labels[i]].push(i);
  const short = byClass.findIndex((c) => c.length < perClass);
  if (short >= 0) throw new AdvxError(`${ds.name} has only ${byClass[short].length} images of class ${ds.classNames[short] ?? short}, fewer than the ${perClass} asked for`);
  return take(ds, byClass.flat().sort((a, b) => a - b));
}

export interface FineTuneOptions {
  /** Epochs that train the new head alone (body frozen); default 20. */
  headEpochs?: number;
  /** Then epochs that train every layer; default 20. */
  epochs?: number;
  batchSize?: number;
  /** Adam learning rate of the head phase (default 1e-3); the full phase uses it × fullScale. */
  learningRate?: number;
  /** Default 0.1. */
  fullScale?: number;
  seed: number;
  onBatch?: (info: BatchInfo & { phase: 'head' | 'all' }) => void;
  onEpoch?: (info: EpochInfo & { phase: 'head' | 'all' }) => Promise<void> | void;
}

type LayerCall = (inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>) => tf.Tensor | tf.Tensor[];

/**
 * Makes `model`'s batch-norm layers normalise with their moving statistics (and leave them alone)
 * even when the model is applied with `training: true`; returns the function that undoes it. The
 * override is an own property of each layer object, shadowing the class's `call`.
 */
function batchNormInInferenceMode(model: tfl.LayersModel): () => void {
  const all = (m: tfl.LayersModel): tfl.layers.Layer[] => m.layers.flatMap((l) => (l instanceof tfl.LayersModel ? all(l) : [l]));
  const layers = all(model).filter((l) => l.getClassName() === 'BatchNormalization') as unknown as Array<{ call: LayerCall }>;
  for (const layer of layers) {
    const call = layer.call.bind(layer);
    layer.call = (inputs, kwargs) => call(inputs, { ...kwargs, training: false });
  }
  return () => layers.forEach((layer) => delete (layer as { call?: LayerCall }).call);
}

/**
 * Fine-tunes `model` (e.g. from replaceHead) on the labelled images `data`: the last layer alone,
 * then all layers, batch norm in inference mode. Layers that were frozen before stay frozen; batch
 * norm's scale and offset train in the second phase, its statistics never. Returns the epochs of
 * both phases.
 */
export async function fineTune(model: tfl.LayersModel, data: ImageDataset, options: FineTuneOptions): Promise<Array<EpochInfo & { phase: 'head' | 'all' }>> {
  const headEpochs = options.headEpochs ?? 20;
  const epochs = options.epochs ?? 20;
  const lr = options.learningRate ?? 1e-3;
  const batchSize = options.batchSize ?? 32;
  assertOption(Number.isInteger(headEpochs) && headEpochs >= 0, `head epochs must be a non-negative integer, got ${headEpochs}`);
  assertOption(lr > 0 && (options.fullScale ?? 0.1) > 0, 'learning rates must be positive');
  const out = model.outputs[0].shape;
  if (out[1] !== data.numClasses) throw new AdvxError(`the model has ${out[1]} outputs but ${data.name} has ${data.numClasses} classes`);
  const history: Array<EpochInfo & { phase: 'head' | 'all' }> = [];
  const trainable = model.layers.map((l) => l.trainable);
  const restoreBatchNorm = batchNormInInferenceMode(model);
  const phases: Array<{ phase: 'head' | 'all'; epochs: number; lr: number }> = [
    { phase: 'head', epochs: headEpochs, lr },
    { phase: 'all', epochs, lr: lr * (options.fullScale ?? 0.1) },
  ];
  try {
    for (const [k, p] of phases.entries()) {
      if (p.epochs === 0) continue;
      model.layers.forEach((l, i) => (l.trainable = trainable[i] && (p.phase === 'all' || i === model.layers.length - 1)));
      const optimizer = tf.train.adam(p.lr);
      try {
        const done = history.length;
        await fitClassifier(model, data, {
          epochs: p.epochs,
          batchSize,
          learningRate: p.lr,
          seed: options.seed + k,
          onBatch: options.onBatch && ((b) => options.onBatch!({ ...b, epoch: b.epoch + done, phase: p.phase })),
          onEpoch: async (info) => {
            const entry = { ...info, epoch: info.epoch + done, phase: p.phase };
            history.push(entry);
            await options.onEpoch?.(entry);
          },
          optimizer,
        });
      } finally {
        optimizer.dispose();
      }
    }
  } finally {
    model.layers.forEach((l, i) => (l.trainable = trainable[i]));
    restoreBatchNorm();
  }
  return history;
}
