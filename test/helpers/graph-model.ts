/**
 * Hand-written TF.js graph models (the format tensorflowjs_converter writes), small enough to
 * check by hand: a float input x [?, width], float constants, and nodes on them.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface GraphNode {
  name: string;
  op: string;
  input?: string[];
  attr?: Record<string, unknown>;
}

const FLOAT = { type: 'DT_FLOAT' };
const dim = (...s: number[]) => ({ dim: s.map((size) => ({ size: String(size) })) });

/** A float op on `inputs` (MatMul gets its transpose attributes). */
export function graphOp(name: string, op: string, ...input: string[]): GraphNode {
  const attr: Record<string, unknown> = { T: FLOAT };
  if (op === 'MatMul') Object.assign(attr, { transpose_a: { b: false }, transpose_b: { b: false } });
  return { name, op, input, attr };
}

/**
 * Writes the model into `dir`: `x` is a placeholder of shape [?, width]; each constant becomes a
 * Const node and its values go to weights.bin; `nodes` follow in order.
 */
export function writeGraphModel(dir: string, width: number, constants: Record<string, { shape: number[]; values: number[] }>, nodes: GraphNode[]): void {
  mkdirSync(dir, { recursive: true });
  const names = Object.keys(constants);
  writeFileSync(join(dir, 'weights.bin'), Buffer.from(new Float32Array(names.flatMap((n) => constants[n].values)).buffer));
  writeFileSync(
    join(dir, 'model.json'),
    JSON.stringify({
      format: 'graph-model',
      modelTopology: {
        node: [
          { name: 'x', op: 'Placeholder', attr: { dtype: FLOAT, shape: { shape: dim(-1, width) } } },
          ...names.map((name) => ({ name, op: 'Const', attr: { dtype: FLOAT, value: { tensor: { dtype: 'DT_FLOAT', tensorShape: dim(...constants[name].shape) } } } })),
          ...nodes,
        ],
        versions: { producer: 1 },
      },
      weightsManifest: [{ paths: ['weights.bin'], weights: names.map((name) => ({ name, shape: constants[name].shape, dtype: 'float32' })) }],
    }),
  );
}
