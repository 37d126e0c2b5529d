/**
 * Reads an .onnx file (a protobuf ModelProto) into plain data: nodes, attributes, initializers
 * and the graph's inputs and outputs. protobufjs with the official schema (schema.ts, generated
 * from onnx.proto) rather than the `onnx-proto` package: that one pins protobufjs 6 and an older
 * schema, while this way the schema is the official file, the library the maintained one.
 * Decoded by reflection (wire.ts), so that it also runs in the lab under its CSP.
 */
import protobuf from 'protobufjs/light.js';
import { AdvxError } from '../../core/errors.ts';
import { ONNX_SCHEMA } from './schema.ts';
import { decodeMessage } from './wire.ts';

const root = protobuf.Root.fromJSON(ONNX_SCHEMA);
const ModelProto = root.lookupType('onnx.ModelProto');
const TensorProto = root.lookupType('onnx.TensorProto');

/**
 * A constant kept on the JS side as plain numbers: int64 shapes, axes and indices (which TF.js
 * cannot hold as int64) and anything computed from them, so Reshape and Slice get exact numbers.
 */
export class HostArray {
  constructor(
    readonly shape: number[],
    readonly data: number[],
    readonly isInt: boolean,
  ) {}
}

/** A float tensor stays a Float32Array for TF.js; integers and booleans become a HostArray. */
export type ConstantValue = { shape: number[]; floats: Float32Array } | HostArray;

export type Attribute = number | string | number[] | string[] | ConstantValue;

export interface OnnxNode {
  opType: string;
  name: string;
  inputs: string[];
  outputs: string[];
  attributes: Map<string, Attribute>;
}

/** A graph input or output: its name and its shape, -1 for a dimension the file leaves free. */
export interface ValueInfo {
  name: string;
  shape: number[];
}

export interface OnnxGraph {
  /** The opset of the default ("ai.onnx") domain. */
  opset: number;
  nodes: OnnxNode[];
  initializers: Map<string, ConstantValue>;
  /** Inputs that are not initializers: what the caller feeds. */
  inputs: ValueInfo[];
  outputs: ValueInfo[];
}

/** TensorProto.DataType codes, and which field their values sit in when not in raw_data. */
const FLOAT_TYPES: Record<number, string> = { 1: 'float_data', 11: 'double_data' };
const INT_TYPES: Record<number, string> = { 2: 'int32_data', 3: 'int32_data', 4: 'int32_data', 5: 'int32_data', 6: 'int32_data', 7: 'int64_data', 9: 'int32_data', 12: 'uint64_data', 13: 'uint64_data' };
/** How to read one element of raw_data (little-endian), per data type. */
const RAW_READERS: Record<number, [bytes: number, read: (v: DataView, at: number) => number]> = {
  1: [4, (v, at) => v.getFloat32(at, true)],
  2: [1, (v, at) => v.getUint8(at)],
  3: [1, (v, at) => v.getInt8(at)],
  4: [2, (v, at) => v.getUint16(at, true)],
  5: [2, (v, at) => v.getInt16(at, true)],
  6: [4, (v, at) => v.getInt32(at, true)],
  7: [8, (v, at) => Number(v.getBigInt64(at, true))],
  9: [1, (v, at) => v.getUint8(at)],
  11: [8, (v, at) => v.getFloat64(at, true)],
  12: [4, (v, at) => v.getUint32(at, true)],
  13: [8, (v, at) => Number(v.getBigUint64(at, true))],
};

type Long = { toNumber(): number };
const num = (v: number | Long): number => (typeof v === 'number' ? v : v.toNumber());

/** A decoded TensorProto (an initializer, a Constant's value, a test data file) as a constant. */
export function tensorValue(t: Record<string, unknown>): ConstantValue {
  const type = t.data_type as number;
  const name = (t.name as string) || 'unnamed';
  if (t.data_location === 1) throw new AdvxError(`ONNX tensor "${name}" keeps its data in an external file, which advx does not read: save the model with its weights inside`);
  const field = FLOAT_TYPES[type] ?? INT_TYPES[type];
  if (!field) throw new AdvxError(`ONNX tensor "${name}" has data type ${type}, which advx does not read (float, double, integers and bool only)`);
  const shape = ((t.dims as Array<number | Long>) ?? []).map(num);
  const raw = t.raw_data as Uint8Array | undefined;
  let values: number[];
  if (raw && raw.length > 0) {
    const [bytes, read] = RAW_READERS[type];
    const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    values = Array.from({ length: raw.byteLength / bytes }, (_, i) => read(view, i * bytes));
  } else {
    values = ((t[field] as Array<number | Long>) ?? []).map(num);
  }
  const size = shape.reduce((a, b) => a * b, 1);
  if (values.length !== size) throw new AdvxError(`ONNX tensor "${name}" holds ${values.length} values for shape [${shape}]`);
  return FLOAT_TYPES[type] ? { shape, floats: Float32Array.from(values) } : new HostArray(shape, values, true);
}

function attributeValue(a: Record<string, unknown>): Attribute {
  // AttributeProto.AttributeType: FLOAT, INT, STRING, TENSOR, GRAPH, …, FLOATS, INTS, STRINGS.
  switch (a.type as number) {
    case 1: return (a.f as number) ?? 0;
    case 2: return num((a.i as number | Long) ?? 0);
    case 3: return new TextDecoder().decode(a.s as Uint8Array);
    case 4: return tensorValue(a.t as Record<string, unknown>);
    case 6: return a.floats as number[];
    case 7: return (a.ints as Array<number | Long>).map(num);
    case 8: return (a.strings as Uint8Array[]).map((s) => new TextDecoder().decode(s));
    default: throw new AdvxError(`ONNX attribute "${a.name}" has type ${a.type} (a graph or sparse tensor), which advx does not read`);
  }
}

/** A graph input's or output's name and shape; AdvxError for a type advx cannot hold (a sequence, float16…). */
function valueInfo(v: Record<string, unknown>, where: string): ValueInfo {
  const tensor = (v.type as { tensor_type?: { elem_type?: number; shape?: { dim?: Array<{ dim_value?: number | Long }> } } })?.tensor_type;
  const type = tensor?.elem_type;
  if (!tensor || (type !== undefined && !FLOAT_TYPES[type] && !INT_TYPES[type])) {
    throw new AdvxError(`${where}: the graph's value "${v.name}" is ${tensor ? `of data type ${type}` : 'not a tensor'}, which advx does not read (float, double, integers and bool only)`);
  }
  return { name: v.name as string, shape: (tensor.shape?.dim ?? []).map((d) => (d.dim_value === undefined ? -1 : num(d.dim_value) || -1)) };
}

/** Decodes a TensorProto file (ONNX's test data: input_0.pb, output_0.pb). */
export function decodeTensor(bytes: Uint8Array): ConstantValue {
  return tensorValue(decodeMessage(TensorProto, bytes));
}

/** Decodes an .onnx file; `where` names it in errors. */
export function decodeModel(bytes: Uint8Array, where = 'the ONNX model'): OnnxGraph {
  let model: Record<string, any>;
  try {
    model = decodeMessage(ModelProto, bytes);
  } catch (e) {
    throw new AdvxError(`${where} is not a valid ONNX file (${(e as Error).message})`);
  }
  const g = model.graph as Record<string, any> | undefined;
  if (!g || !Array.isArray(g.node) || g.node.length === 0) throw new AdvxError(`${where} is not a valid ONNX file (no graph)`);
  const opsets = (model.opset_import ?? []) as Array<{ domain?: string; version: number | Long }>;
  const main = opsets.find((o) => !o.domain || o.domain === 'ai.onnx');
  const initializers = new Map<string, ConstantValue>((g.initializer ?? []).map((t: Record<string, unknown>) => [t.name as string, tensorValue(t)]));
  return {
    opset: main ? num(main.version) : 1,
    nodes: g.node.map((n: Record<string, any>, i: number) => ({
      opType: n.op_type,
      name: n.name || `${n.op_type}_${i}`,
      inputs: n.input ?? [],
      outputs: n.output ?? [],
      attributes: new Map((n.attribute ?? []).map((a: Record<string, unknown>) => [a.name as string, attributeValue(a)])),
    })),
    initializers,
    inputs: (g.input ?? []).filter((v: { name: string }) => !initializers.has(v.name)).map((v: Record<string, unknown>) => valueInfo(v, where)),
    outputs: (g.output ?? []).map((v: Record<string, unknown>) => valueInfo(v, where)),
  };
}
