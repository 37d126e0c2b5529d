/** Small ONNX models written in the test, for what the fixtures do not cover. */
import protobuf from 'protobufjs/light.js';
import { ONNX_SCHEMA } from '../../src/models/onnx/schema.ts';

/**
 * A model with two class vectors over a flattened 28×28×1 image: "a" always says class 7, "b"
 * class 1 (zero weights, a bias). With `softsign`, "b" ends in Softsign, an op advx's importer
 * does not map (ONNX Runtime does).
 */
export function twoHeads(softsign: boolean): Uint8Array {
  const Model = protobuf.Root.fromJSON(ONNX_SCHEMA).lookupType('onnx.ModelProto');
  const dims = (...d: Array<number | string>) => ({ dim: d.map((v) => (typeof v === 'string' ? { dim_param: v } : { dim_value: v })) });
  const info = (name: string, ...d: Array<number | string>) => ({ name, type: { tensor_type: { elem_type: 1, shape: dims(...d) } } });
  const tensor = (name: string, shape: number[], values: number[]) => ({ name, dims: shape, data_type: 1, float_data: values });
  const bias = (k: number) => Array.from({ length: 10 }, (_, i) => (i === k ? 2 : 0));
  const node = (op_type: string, input: string[], output: string) => ({ op_type, name: output, input, output: [output] });
  const nodes = [
    node('Flatten', ['input'], 'flat'),
    node('MatMul', ['flat', 'wa'], 'za'),
    node('Add', ['za', 'ba'], 'a'),
    node('MatMul', ['flat', 'wb'], 'zb'),
    node('Add', ['zb', 'bb'], softsign ? 'pre_b' : 'b'),
    ...(softsign ? [node('Softsign', ['pre_b'], 'b')] : []),
  ];
  return Model.encode(
    Model.fromObject({
      ir_version: 8,
      opset_import: [{ domain: '', version: 13 }],
      graph: {
        name: 'two-heads',
        node: nodes,
        initializer: [tensor('wa', [784, 10], new Array(7840).fill(0)), tensor('ba', [10], bias(7)), tensor('wb', [784, 10], new Array(7840).fill(0)), tensor('bb', [10], bias(1))],
        input: [info('input', 'batch', 1, 28, 28)],
        output: [info('a', 'batch', 10), info('b', 'batch', 10)],
      },
    }),
  ).finish();
}
