/**
 * Text classifiers: an embedding layer followed by the rest of the network, kept as one
 * Sequential model (saved and loaded in TF.js format) whose first layer is the Embedding. Split
 * there, the model gives gradient attacks what they need: the loss's gradient with respect to
 * the embedded sequence, fed directly into the rest (logitsFromEmbeddings). Isomorphic.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { AdvxError } from '../core/errors.ts';
import { TextCodec } from './vocab.ts';

export interface TextModelSpec {
  vocabSize: number;
  window: number;
  numClasses: number;
  embeddingDim?: number;
  seed?: number;
}

function init(seed: number | undefined, k: number) {
  return tfl.initializers.glorotUniform({ seed: seed === undefined ? undefined : seed + k });
}

/**
 * Word CNN (Kim 2014, one filter width): embedding 32, conv 3×64 ReLU, max over time, dropout,
 * dense. Max over time reads "is this trigram anywhere", which suits spam's scattered cues.
 */
export function wordCnn({ vocabSize, window, numClasses, embeddingDim = 32, seed }: TextModelSpec): tfl.Sequential {
  const m = tfl.sequential({ name: 'word_cnn' });
  m.add(tfl.layers.embedding({ inputDim: vocabSize, outputDim: embeddingDim, inputLength: window, embeddingsInitializer: tfl.initializers.randomUniform({ minval: -0.05, maxval: 0.05, seed }) }));
  m.add(tfl.layers.conv1d({ filters: 64, kernelSize: 3, activation: 'relu', kernelInitializer: init(seed, 1) }));
  m.add(tfl.layers.globalMaxPooling1d({}));
  m.add(tfl.layers.dropout({ rate: 0.5 }));
  m.add(tfl.layers.dense({ units: numClasses, kernelInitializer: init(seed, 2) }));
  return m;
}

/** Character CNN (after Zhang et al. 2015, much smaller): embedding 16, conv 7×64, pool 3, conv 5×64, max over time, dense. */
export function charCnn({ vocabSize, window, numClasses, embeddingDim = 16, seed }: TextModelSpec): tfl.Sequential {
  const m = tfl.sequential({ name: 'char_cnn' });
  m.add(tfl.layers.embedding({ inputDim: vocabSize, outputDim: embeddingDim, inputLength: window, embeddingsInitializer: tfl.initializers.randomUniform({ minval: -0.05, maxval: 0.05, seed }) }));
  m.add(tfl.layers.conv1d({ filters: 64, kernelSize: 7, activation: 'relu', kernelInitializer: init(seed, 1) }));
  m.add(tfl.layers.maxPooling1d({ poolSize: 3 }));
  m.add(tfl.layers.conv1d({ filters: 64, kernelSize: 5, activation: 'relu', kernelInitializer: init(seed, 2) }));
  m.add(tfl.layers.globalMaxPooling1d({}));
  m.add(tfl.layers.dropout({ rate: 0.5 }));
  m.add(tfl.layers.dense({ units: numClasses, kernelInitializer: init(seed, 3) }));
  return m;
}

/**
 * Rows `ids` of `table`, with a gradient for the table (training the embedding). TF.js's own
 * gather gradient needs UnsortedSegmentSum, which the WASM backend lacks; the scatter-add is a
 * short loop over ids we already hold.
 */
function gatherRows(table: tf.Tensor2D, ids: Int32Array, shape: [number, number]): tf.Tensor3D {
  const [v, d] = table.shape;
  const op = tf.customGrad((t) => {
    const value = tf.reshape(tf.gather(t as tf.Tensor2D, tf.tensor1d(ids, 'int32')), [shape[0], shape[1], d]);
    return {
      value,
      gradFunc: (dy: tf.Tensor) => {
        const g = dy.dataSync();
        const out = new Float32Array(v * d);
        for (let k = 0; k < ids.length; k++) {
          const to = ids[k] * d;
          for (let j = 0; j < d; j++) out[to + j] += g[k * d + j];
        }
        return [tf.tensor2d(out, [v, d])];
      },
    };
  });
  return op(table) as tf.Tensor3D;
}

/** A text model and the codec that feeds it: what text attacks and training see. */
export class TextClassifier {
  readonly numClasses: number;

  constructor(
    readonly model: tfl.LayersModel,
    readonly codec: TextCodec,
    readonly classNames: string[],
  ) {
    const first = model.layers[0];
    if (!first || first.getClassName() !== 'Embedding') throw new AdvxError(`a text model must start with an Embedding layer, this one starts with ${first?.getClassName() ?? 'nothing'}`);
    const [inputDim] = first.getWeights()[0].shape;
    if (inputDim !== codec.vocab.size) throw new AdvxError(`the model's embedding has ${inputDim} rows but the vocabulary has ${codec.vocab.size} tokens`);
    const inputLength = model.inputs[0].shape[1];
    if (inputLength !== null && inputLength !== codec.window) throw new AdvxError(`the model reads ${inputLength} units but the codec's window is ${codec.window}`);
    this.numClasses = model.outputs[0].shape.at(-1) as number;
    if (classNames.length !== this.numClasses) throw new AdvxError(`${classNames.length} class names for a model with ${this.numClasses} outputs`);
  }

  get level() {
    return this.codec.level;
  }

  get window(): number {
    return this.codec.window;
  }

  /** Ids [batch, window] (int32) and, per text, the truncation warning if it was cut. */
  encode(texts: string[]): { ids: tf.Tensor2D; warnings: (string | undefined)[] } {
    const w = this.window;
    const flat = new Int32Array(texts.length * w);
    const warnings = texts.map((t, i) => {
      const e = this.codec.encode(t);
      flat.set(e.ids, i * w);
      return e.warning;
    });
    return { ids: tf.tensor2d(flat, [texts.length, w], 'int32'), warnings };
  }

  /** The embedding matrix [vocab, dim]: the model's own variable, not to be disposed. */
  embeddingMatrix(): tf.Tensor2D {
    return (this.model.layers[0].weights[0] as unknown as { read(): tf.Tensor2D }).read();
  }

  /** Embedded sequences [batch, window, dim]; with `trainIds`, differentiable in the table. */
  embed(ids: tf.Tensor2D, trainIds?: Int32Array): tf.Tensor3D {
    return tf.tidy(() => {
      const shape = ids.shape as [number, number];
      if (trainIds) return gatherRows(this.embeddingMatrix(), trainIds, shape);
      return tf.reshape(tf.gather(this.embeddingMatrix(), tf.reshape(ids, [-1])), [shape[0], shape[1], -1]) as tf.Tensor3D;
    });
  }

  /** Logits from embedded sequences: the network after its embedding layer. */
  logitsFromEmbeddings(e: tf.Tensor3D, training = false): tf.Tensor2D {
    return tf.tidy(() => {
      let h: tf.Tensor = e;
      for (const layer of this.model.layers.slice(1)) h = layer.apply(h, { training }) as tf.Tensor;
      return h as tf.Tensor2D;
    });
  }

  logits(ids: tf.Tensor2D): tf.Tensor2D {
    return tf.tidy(() => this.logitsFromEmbeddings(this.embed(ids)));
  }

  /** Class probabilities of texts, in batches (a black-box attack's view of the model). */
  async probabilities(texts: string[], batchSize = 64): Promise<number[][]> {
    const out: number[][] = [];
    for (let i = 0; i < texts.length; i += batchSize) {
      const { ids } = this.encode(texts.slice(i, i + batchSize));
      const p = tf.tidy(() => tf.softmax(this.logits(ids)));
      ids.dispose();
      const data = await p.data();
      p.dispose();
      for (let r = 0; r < data.length / this.numClasses; r++) out.push(Array.from(data.subarray(r * this.numClasses, (r + 1) * this.numClasses)));
    }
    return out;
  }

  async predict(texts: string[]): Promise<number[]> {
    return (await this.probabilities(texts)).map((p) => p.indexOf(Math.max(...p)));
  }
}

/** A fresh classifier of the codec's level (word CNN or char CNN). */
export function buildTextClassifier(codec: TextCodec, classNames: string[], options: { seed?: number; embeddingDim?: number } = {}): TextClassifier {
  const spec: TextModelSpec = { vocabSize: codec.vocab.size, window: codec.window, numClasses: classNames.length, ...options };
  return new TextClassifier(codec.level === 'word' ? wordCnn(spec) : charCnn(spec), codec, classNames);
}
