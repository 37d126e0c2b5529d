/**
 * The Classifier wrapper: what attacks and evaluation see of a model. It keeps the model's input
 * bounds and preprocessing beside it (as Foolbox does), so attacks work in the user's input space
 * ([0,1] pixels, say) whatever normalisation the network expects.
 */
import * as tf from '@tensorflow/tfjs-core';
import { AdvxError } from '../core/errors.ts';

/** How a model sees its input: model_input = (x * scale + offset - mean) / std, per channel. */
export interface Preprocessing {
  scale?: number;
  offset?: number;
  mean?: number[];
  std?: number[];
}

export interface ClassifierInfo {
  /** Input shape without batch, e.g. [28, 28, 1]. */
  inputShape: number[];
  numClasses: number;
  /** Valid range of each input value, in the attack's space. */
  bounds: [number, number];
  preprocessing?: Preprocessing;
  /**
   * What the network outputs: logits, probabilities (a softmax at the end), or, for a binary
   * classifier with one output unit, a probability (`sigmoid`) or a logit (`logit`). A binary
   * head is seen as the two logits [0, z], z the pre-sigmoid logit: softmax gives [1 − p, p].
   */
  output?: OutputKind;
  /** Which of the network's outputs is the class vector (default: the first). */
  outputName?: string;
  classNames?: string[];
  dataset?: string;
}

export type OutputKind = 'logits' | 'probabilities' | 'sigmoid' | 'logit';

/** Whether an output kind is a one-unit binary head. */
export function isBinaryHead(output: OutputKind | undefined): boolean {
  return output === 'sigmoid' || output === 'logit';
}

/**
 * The output kind a network's last op implies, when the user did not say: a softmax gives
 * probabilities, a sigmoid on a single unit a binary classifier. `op` is the op type or the
 * activation name, any case.
 */
export function headOfLastOp(op: string | undefined, singleUnit: boolean): OutputKind | undefined {
  const o = op?.toLowerCase();
  if (o === 'softmax') return singleUnit ? undefined : 'probabilities';
  if (o === 'sigmoid' && singleUnit) return 'sigmoid';
  return undefined;
}

/** The index of the output named `wanted` among `names` (the first when none is wanted); AdvxError listing the names. */
export function outputIndex(names: string[], wanted: string | undefined, where: string): number {
  if (wanted === undefined) return 0;
  const i = names.indexOf(wanted);
  if (i < 0) throw new AdvxError(`${where} has no output "${wanted}" (its outputs: ${names.map((n) => `"${n}"`).join(', ')})`);
  return i;
}

/** Clipping of a sigmoid head's probability before its logit, so z stays finite. */
const SIGMOID_CLIP = 1e-7;

/** A one-unit head's output [N] or [N, 1] as the two logits [0, z]. */
function binaryLogits(out: tf.Tensor, sigmoid: boolean): tf.Tensor2D {
  if (!(out.rank === 1 || (out.rank === 2 && out.shape[1] === 1))) {
    throw new AdvxError(`the model's output has shape [${out.shape}], expected one ${sigmoid ? 'probability' : 'logit'} per example ([batch] or [batch, 1]) for a binary head`);
  }
  let z = tf.reshape(out, [-1, 1]);
  if (sigmoid) {
    const p = tf.clipByValue(z, SIGMOID_CLIP, 1 - SIGMOID_CLIP);
    z = tf.sub(tf.log(p), tf.log1p(tf.neg(p)));
  }
  return tf.concat([tf.zerosLike(z), z], 1) as tf.Tensor2D;
}

/** What the network is fed for inputs `x` in the attack's space; call inside tf.tidy. */
export function preprocess(x: tf.Tensor, p: Preprocessing | undefined): tf.Tensor {
  let z = x;
  if (p?.scale !== undefined && p.scale !== 1) z = tf.mul(z, p.scale);
  if (p?.offset) z = tf.add(z, p.offset);
  if (p?.mean) z = tf.sub(z, tf.tensor1d(p.mean));
  if (p?.std) z = tf.div(z, tf.tensor1d(p.std));
  return z;
}

/**
 * The network's output as logits [batch, numClasses]: a binary head as [0, z], probabilities as
 * their logs; any other shape refused. Call inside tf.tidy.
 */
export function headLogits(out: tf.Tensor, info: Pick<ClassifierInfo, 'output' | 'numClasses'>): tf.Tensor2D {
  if (isBinaryHead(info.output)) out = binaryLogits(out, info.output === 'sigmoid');
  if (out.rank !== 2 || out.shape[1] !== info.numClasses) {
    throw new AdvxError(`the model's output has shape [${out.shape}], expected a class vector [batch, ${info.numClasses}]`);
  }
  return (info.output === 'probabilities' ? tf.log(tf.add(out, 1e-12)) : out) as tf.Tensor2D;
}

/** Anything with a forward pass from a batch to a batch: a LayersModel, a GraphModel, a function. */
export type Forward = (x: tf.Tensor) => tf.Tensor;

/** A white-box classifier: differentiable logits for a batch of inputs in `bounds`. */
export class Classifier {
  readonly info: Required<Pick<ClassifierInfo, 'inputShape' | 'numClasses' | 'bounds'>> & ClassifierInfo;

  constructor(
    private readonly forward: Forward,
    info: ClassifierInfo,
  ) {
    if (!(info.bounds[0] < info.bounds[1])) throw new AdvxError(`classifier bounds must satisfy low < high, got [${info.bounds}]`);
    if (!(info.numClasses >= 2)) throw new AdvxError(`a classifier needs at least 2 classes, got ${info.numClasses}`);
    if (isBinaryHead(info.output) && info.numClasses !== 2) throw new AdvxError(`a ${info.output} head is a binary classifier (2 classes), got numClasses ${info.numClasses}`);
    this.info = info;
  }

  /** Logits [batch, numClasses]; x has shape [batch, ...inputShape] with values in bounds. */
  logits(x: tf.Tensor): tf.Tensor2D {
    return tf.tidy(() => {
      this.checkInput(x);
      return headLogits(this.forward(preprocess(x, this.info.preprocessing)), this.info);
    });
  }

  /** Class probabilities [batch, numClasses]. */
  probabilities(x: tf.Tensor): tf.Tensor2D {
    return tf.tidy(() => tf.softmax(this.logits(x)));
  }

  /** Predicted labels, computed in batches to bound memory. */
  async predict(x: tf.Tensor, batchSize = 500): Promise<Int32Array> {
    const n = x.shape[0];
    const out = new Int32Array(n);
    for (let i = 0; i < n; i += batchSize) {
      const size = Math.min(batchSize, n - i);
      const labels = tf.tidy(() => tf.argMax(this.logits(tf.slice(x, i, size)), 1));
      out.set(await labels.data(), i);
      labels.dispose();
    }
    return out;
  }

  private checkInput(x: tf.Tensor): void {
    const want = this.info.inputShape;
    const got = x.shape.slice(1);
    if (got.length !== want.length || got.some((d, i) => want[i] !== -1 && want[i] !== null && d !== want[i])) {
      throw new AdvxError(`input shape [${x.shape}] does not match the model's input [batch, ${want}]`);
    }
  }
}
