/**
 * A typed view of the parts of TF.js's `BackendWasm` (whose members advx uses are not in its
 * public types) that advx's kernels touch. Its own file because both util.ts and native.ts need it,
 * and util.ts calls into native.ts.
 */
import type * as tf from '@tensorflow/tfjs-core';

type DataId = object;

export interface WasmTensorData {
  id: number;
  memoryOffset: number;
  shape: number[];
  dtype: tf.DataType;
  refCount: number;
}

/** The members of TF.js's BackendWasm that advx's kernels touch. */
export interface WasmBackend {
  dataIdMap: {
    get(dataId: DataId): WasmTensorData;
    delete(dataId: DataId): boolean;
  };
  wasm: {
    tfjs: { disposeData(id: number): void };
  };
  makeOutput(shape: number[], dtype: tf.DataType, memoryOffset?: number): tf.TensorInfo;
  typedArrayFromHeap(info: tf.TensorInfo): Float32Array | Int32Array | Uint8Array;
  disposeData(dataId: DataId, force?: boolean): boolean;
  incRef(dataId: DataId): void;
}
