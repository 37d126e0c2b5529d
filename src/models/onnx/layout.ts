/**
 * The values of one run of an ONNX graph, each stored in ONNX's NCHW layout or, for a rank-4
 * image, in TF.js's NHWC. Convolutions and pools make NHWC values; ops that do not read axes by
 * position (elementwise ops, batch norm, padding…: `nhwc` in ops.ts) keep them NHWC; any other
 * reader (Reshape, Flatten, Softmax, Concat…) and the graph's outputs get the NCHW value,
 * transposed on first use and kept for the value's other readers. So a ResNet transposes once at
 * the input (not at all when fed NHWC) and once before its classifier head, not twice a layer.
 */
import * as tf from '@tensorflow/tfjs-core';
import { HostArray } from './proto.ts';
import { toNchw, toNhwc, toTensor, type Value } from './ops.ts';

export class Values {
  private readonly stored: Map<string, Value>;
  private readonly channelsLast = new Set<string>();
  /** Values in the other layout, made on first use. */
  private readonly other = new Map<string, tf.Tensor>();

  constructor(initial: Map<string, Value>) {
    this.stored = new Map(initial);
  }

  /** Stores a value; `nhwc`: a rank-4 tensor that holds the NCHW value the file means as NHWC. */
  set(name: string, value: Value, nhwc = false): void {
    this.stored.set(name, value);
    this.other.delete(name);
    if (nhwc && value instanceof tf.Tensor && value.rank === 4) this.channelsLast.add(name);
    else this.channelsLast.delete(name);
  }

  isNhwc(name: string): boolean {
    return this.channelsLast.has(name);
  }

  /** The value's rank (the same in either layout); undefined for an absent value. */
  rank(name: string): number | undefined {
    return this.stored.get(name)?.shape.length;
  }

  /** The value's shape as the file means it (NCHW), without converting it. */
  shape(name: string): number[] | undefined {
    const shape: number[] | undefined = this.stored.get(name)?.shape;
    return shape && this.isNhwc(name) ? [shape[0], shape[3], shape[1], shape[2]] : shape;
  }

  /** The value as the file means it. */
  nchw(name: string): Value | undefined {
    const v = this.stored.get(name);
    if (v === undefined || !this.isNhwc(name)) return v;
    return this.converted(name, () => toNchw(v as tf.Tensor));
  }

  /**
   * The value NHWC, for a value of rank ≤ 4: lower ranks broadcast against an NCHW image (a [C, 1, 1]
   * bias), so they are first given leading ones; one-element values broadcast in any layout.
   */
  nhwc(name: string): tf.Tensor {
    const v = this.stored.get(name) as Value;
    if (this.isNhwc(name)) return v as tf.Tensor;
    const size = v instanceof HostArray ? v.data.length : v.size;
    if (size === 1) return toTensor(v);
    return this.converted(name, () => {
      const t = toTensor(v);
      return toNhwc(t.rank === 4 ? t : tf.reshape(t, [...Array(4 - t.rank).fill(1), ...t.shape]));
    });
  }

  private converted(name: string, make: () => tf.Tensor): tf.Tensor {
    let t = this.other.get(name);
    if (t === undefined) this.other.set(name, (t = make()));
    return t;
  }
}
