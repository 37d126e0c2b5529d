/** The small MNIST MLP the defence tests train: 3 epochs on a few thousand images, seeded. */
import type * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import type { ImageDataset } from '../../src/data/types.ts';
import { Classifier } from '../../src/models/classifier.ts';
import { buildModel } from '../../src/models/zoo.ts';
import { fitClassifier, type FitOptions } from '../../src/train/fit.ts';

export const MNIST_SPEC = { inputShape: [28, 28, 1], numClasses: 10 };

/** A layers model as a classifier of MNIST images in [0, 1]. */
export function wrapMnist(model: tfl.LayersModel): Classifier {
  return new Classifier((t) => model.apply(t) as tf.Tensor, { ...MNIST_SPEC, bounds: [0, 1] });
}

/** An MLP trained on `train` from `seed`; `hooks` add fit options that need the classifier (a perturbation, a loss). */
export async function trainedMlp(train: ImageDataset, seed: number, hooks: (c: Classifier) => Partial<FitOptions> = () => ({})): Promise<Classifier> {
  const model = buildModel('mlp', { ...MNIST_SPEC, seed });
  const c = wrapMnist(model);
  await fitClassifier(model, train, { epochs: 3, batchSize: 64, learningRate: 2e-3, seed, ...hooks(c) });
  return c;
}
