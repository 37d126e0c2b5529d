/**
 * A Classifier from a model's contents, wherever they came from: TF.js artifacts (LayersModel or
 * GraphModel) or the bytes of an ONNX file (imported as TF.js ops, gradients included), with its
 * advx.json already read. No file system here: the CLI (node/io/load-model.ts) reads files, the lab
 * reads uploads, and both get the same classifier, heads and checks.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import * as tfc from '@tensorflow/tfjs-converter';
import { AdvxError } from '../core/errors.ts';
import { checkInfoAgainstModel, type SavedInfo } from './advx-info.ts';
import { Classifier, headOfLastOp, isBinaryHead, outputIndex, type ClassifierInfo } from './classifier.ts';
import { importOnnx, nhwcForward, onnxClassifierInfo, onnxInputShape, onnxLastOp, onnxProbe, type OnnxGraphInfo, type OnnxModel, type OutputProbe } from './onnx.ts';

/** Where a setting the classifier uses came from. */
export type InfoSource = 'override' | 'advx.json' | 'labels file' | 'detected' | 'model' | 'default';
export type InfoKey = 'inputShape' | 'numClasses' | 'bounds' | 'preprocessing' | 'output' | 'classNames';

/** A model input or output as the file declares it: batch included, -1 for a free dimension. */
export interface TensorSummary {
  name: string;
  shape: number[];
}

/** What the loader found in the file, beside the classifier: for `advx inspect` and error lines. */
export interface ModelSummary {
  format: 'layers' | 'graph' | 'onnx';
  opset?: number;
  inputs: TensorSummary[];
  outputs: TensorSummary[];
  /** The output used as the class vector. */
  outputName: string;
  /** The op type (graph, ONNX) or activation (layers) that ends that output, when known. */
  lastOp?: string;
  sources: Record<InfoKey, InfoSource>;
  /** The advx.json that applies to the model, and whether it exists. */
  infoPath: string;
  infoFound: boolean;
  /** The labels file the class names came from, when they did. */
  labelsFile?: string;
  parameters: number;
}

/** A classifier and the network behind it (whose weights its owner frees: layers, graph or onnx). */
export interface ModelContents {
  classifier: Classifier;
  /** The LayersModel, when the file holds one (trainable, savable). */
  layers?: tfl.LayersModel;
  graph?: tfc.GraphModel;
  /** The imported graph, for an .onnx file (its weights are freed by `onnx.dispose()`). */
  onnx?: OnnxModel;
  summary: ModelSummary;
}

/** Where the model's contents came from, for error lines and the summary. */
export interface ModelOrigin {
  /** Names the model in errors ("the model in DIR"). */
  where: string;
  /** The advx.json that applies, and whether it was there. */
  infoPath: string;
  infoFound: boolean;
}

const freeDim = (d: number | null | undefined): number => (typeof d === 'number' && d > 0 ? d : -1);
const isSingleUnit = (shape: number[] | undefined): boolean => shape !== undefined && (shape.length === 1 || (shape.length === 2 && shape[1] === 1));

/** Whether TF.js artifacts hold a GraphModel (a converted SavedModel) rather than a LayersModel. */
export function isGraphArtifacts(artifacts: tf.io.ModelArtifacts): boolean {
  return artifacts.format === 'graph-model' || Array.isArray((artifacts.modelTopology as { node?: unknown })?.node);
}

/** The activation (or advanced-activation class) that ends a Layers model's output, looking into nested models. */
function layersLastOp(output: tfl.SymbolicTensor): string | undefined {
  let layer = output.sourceLayer as tfl.layers.Layer;
  for (let hops = 0; layer instanceof tfl.LayersModel && hops < 100; hops++) layer = layer.outputs[0].sourceLayer as tfl.layers.Layer;
  const cls = layer.getClassName();
  if (cls === 'Softmax' || cls === 'Sigmoid') return cls.toLowerCase();
  const activation = (layer.getConfig() as { activation?: unknown }).activation;
  return typeof activation === 'string' ? activation : undefined;
}

/** GraphDef nodes of a TF.js graph model's topology. */
interface GraphNode {
  name: string;
  op: string;
  input?: string[];
}

export function graphNodes(artifacts: tf.io.ModelArtifacts): GraphNode[] {
  const t = artifacts.modelTopology as { node?: GraphNode[]; library?: { function?: Array<{ nodeDef?: GraphNode[] }> } } | undefined;
  return [...(t?.node ?? []), ...(t?.library?.function ?? []).flatMap((f) => f.nodeDef ?? [])];
}

const GRAPH_PASS_THROUGH = new Set(['Identity', 'IdentityN', 'Reshape', 'Squeeze', 'StopGradient', 'Snapshot']);

/** The op that produces a graph model's output, looking through Identity and reshapes. */
function graphLastOp(nodes: GraphNode[], outputName: string): string | undefined {
  const byName = new Map(nodes.map((n) => [n.name, n]));
  const strip = (name: string) => name.replace(/^\^/, '').replace(/:\d+$/, '');
  let node = byName.get(strip(outputName));
  for (let hops = 0; node && GRAPH_PASS_THROUGH.has(node.op) && node.input?.[0] && hops < 100; hops++) node = byName.get(strip(node.input[0]));
  return node?.op;
}

/** A TF.js model (LayersModel or GraphModel) as a Classifier; `override` wins over advx.json (`saved`), which wins over what the model says. */
export async function tfjsClassifier(artifacts: tf.io.ModelArtifacts, saved: SavedInfo, override: Partial<ClassifierInfo>, origin: ModelOrigin): Promise<ModelContents> {
  const { where, infoPath, infoFound } = origin;
  const isGraph = isGraphArtifacts(artifacts);
  const wantedOutput = override.outputName ?? saved.outputName;

  let forward: (x: tf.Tensor) => tf.Tensor;
  let inputShape: number[] | undefined;
  let outShape: number[] | undefined;
  let layers: tfl.LayersModel | undefined;
  let graph: tfc.GraphModel | undefined;
  let inputs: TensorSummary[];
  let outputs: TensorSummary[];
  let index: number;
  let lastOp: string | undefined;
  let parameters: number;
  try {
    if (isGraph) {
      graph = await tfc.loadGraphModel(tf.io.fromMemory(artifacts));
      const g = graph;
      inputs = g.inputs.map((i) => ({ name: i.name, shape: (i.shape ?? []).map(freeDim) }));
      outputs = g.outputs.map((o) => ({ name: o.name, shape: (o.shape ?? []).map(freeDim) }));
      index = outputIndex(
        outputs.map((o) => o.name),
        wantedOutput,
        where,
      );
      inputShape = g.inputs[0]?.shape?.slice(1);
      outShape = g.outputs[index]?.shape;
      const name = outputs[index].name;
      forward = outputs.length === 1 ? (x) => g.predict(x) as tf.Tensor : (x) => g.execute(x, name) as tf.Tensor;
      // A graph rarely declares its outputs' shapes: one forward pass on zeros tells.
      const known = override.inputShape ?? saved.inputShape ?? inputShape;
      if (!outShape?.length && known && known.length > 0 && known.every((d) => d > 0)) {
        try {
          const shape = tf.tidy(() => forward(tf.zeros([1, ...known])).shape);
          outShape = [-1, ...shape.slice(1)];
          outputs[index] = { ...outputs[index], shape: outShape };
        } catch {
          // A graph that cannot run on zeros (integer inputs, say): its shape stays unknown, as declared.
        }
      }
      lastOp = graphLastOp(graphNodes(artifacts), name);
      parameters = Object.values(g.weights).reduce((n, ts) => n + ts.reduce((m, t) => (t.dtype === 'float32' ? m + t.size : m), 0), 0);
    } else {
      layers = await tfl.loadLayersModel(tf.io.fromMemory(artifacts));
      const m = layers;
      inputs = m.inputs.map((i, k) => ({ name: m.inputNames?.[k] ?? i.sourceLayer?.name ?? i.name, shape: (i.shape as Array<number | null>).map(freeDim) }));
      outputs = m.outputs.map((o, k) => ({ name: m.outputNames?.[k] ?? o.sourceLayer?.name ?? o.name, shape: (o.shape as Array<number | null>).map(freeDim) }));
      index = outputIndex(
        outputs.map((o) => o.name),
        wantedOutput,
        where,
      );
      inputShape = (m.inputs[0].shape as number[]).slice(1);
      outShape = outputs[index].shape;
      const k = index;
      forward = (x) => {
        const out = m.apply(x) as tf.Tensor | tf.Tensor[];
        return Array.isArray(out) ? out[k] : out;
      };
      lastOp = layersLastOp(m.outputs[index]);
      parameters = m.countParams();
    }
  } catch (e) {
    graph?.dispose();
    layers?.dispose();
    if (e instanceof AdvxError) throw e;
    throw new AdvxError(`could not load the model in ${where}: ${(e as Error).message}`);
  }
  try {
    const single = isSingleUnit(outShape);
    const detected = headOfLastOp(lastOp, single);
    const output = override.output ?? saved.output ?? detected ?? 'logits';
    const binary = isBinaryHead(output);
    const outputDim = binary ? undefined : outShape?.at(-1);
    const info: ClassifierInfo = {
      inputShape: override.inputShape ?? saved.inputShape ?? inputShape ?? [],
      numClasses: override.numClasses ?? saved.numClasses ?? (binary ? 2 : (outputDim ?? 0)),
      bounds: override.bounds ?? saved.bounds ?? [0, 1],
      preprocessing: override.preprocessing ?? saved.preprocessing,
      output,
      outputName: outputs[index].name,
      classNames: override.classNames ?? saved.classNames,
      dataset: override.dataset ?? saved.dataset,
    };
    if (!info.numClasses || info.numClasses < 2) {
      const hint = single ? 'it has one output unit: declare "output": "sigmoid" or "logit" in advx.json for a binary classifier' : 'declare numClasses in advx.json';
      throw new AdvxError(`the model in ${where} does not output a class vector (output size ${outShape?.at(-1)}); ${hint}`);
    }
    checkInfoAgainstModel(infoPath, info, inputShape, binary ? (outShape && !single ? outShape.at(-1) : undefined) : outputDim, saved.labelsFile, binary);
    const summary: ModelSummary = {
      format: isGraph ? 'graph' : 'layers',
      inputs,
      outputs,
      outputName: outputs[index].name,
      lastOp,
      sources: sourcesOf(override, saved, detected !== undefined && output === detected),
      infoPath,
      infoFound,
      labelsFile: saved.labelsFile,
      parameters,
    };
    return { classifier: new Classifier(forward, info), layers, graph, summary };
  } catch (e) {
    graph?.dispose();
    layers?.dispose();
    throw e;
  }
}

/** Where each setting came from: the caller, advx.json (or its labels file), what the model says, the default. */
function sourcesOf(override: Partial<ClassifierInfo>, saved: SavedInfo, outputDetected: boolean): Record<InfoKey, InfoSource> {
  const from = (key: InfoKey, otherwise: InfoSource): InfoSource => {
    if (override[key] !== undefined) return 'override';
    if (saved[key] !== undefined) return key === 'classNames' && saved.labelsFile ? 'labels file' : 'advx.json';
    return otherwise;
  };
  return {
    inputShape: from('inputShape', 'model'),
    numClasses: from('numClasses', 'model'),
    bounds: from('bounds', 'default'),
    preprocessing: from('preprocessing', 'default'),
    output: from('output', outputDetected ? 'detected' : 'default'),
    classNames: from('classNames', 'default'),
  };
}

/** The keys of `o` whose value is not undefined (so an override leaves saved values alone). */
function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/**
 * The classifier info of an ONNX graph with its advx.json (`saved`) under `override`, decided from
 * the graph (onnxClassifierInfo) and checked against it; `where` names the file. For the importer
 * and ONNX Runtime alike; also the index of the output that is the class vector.
 */
export function onnxInfo(where: string, graph: OnnxGraphInfo, saved: SavedInfo, override: Partial<ClassifierInfo>, probe: OutputProbe, infoPath: string): { info: ClassifierInfo; index: number } {
  const { labelsFile, ...declared } = saved;
  const info = onnxClassifierInfo(graph, { ...declared, ...definedOnly(override) }, where, probe);
  const index = graph.outputs.findIndex((o) => o.name === info.outputName);
  const outShape = graph.outputs[index]?.shape;
  const binary = isBinaryHead(info.output);
  checkInfoAgainstModel(infoPath, info, onnxInputShape(graph), binary ? (isSingleUnit(outShape) ? undefined : outShape?.at(-1)) : outShape?.at(-1), labelsFile, binary);
  return { info, index };
}

/**
 * The bytes of an ONNX file (`where` names it) imported as a white-box Classifier. Its advx.json
 * is read (`readSaved`) once the graph is imported: a file that is no ONNX model is named first.
 */
export function onnxContents(bytes: Uint8Array, readSaved: () => SavedInfo, override: Partial<ClassifierInfo>, origin: ModelOrigin): ModelContents {
  const { where, infoPath, infoFound } = origin;
  const onnx = importOnnx(bytes, where);
  try {
    const saved = readSaved();
    const { info, index } = onnxInfo(where, onnx, saved, override, onnxProbe(onnx), infoPath);
    const classifier = new Classifier(nhwcForward(onnx, index), info);
    const lastOp = onnxLastOp(onnx, index);
    const detected = headOfLastOp(lastOp, isSingleUnit(onnx.outputs[index]?.shape));
    const summary: ModelSummary = {
      format: 'onnx',
      opset: onnx.opset,
      inputs: onnx.inputs.map((i) => ({ name: i.name, shape: i.shape.map(freeDim) })),
      outputs: onnx.outputs.map((o) => ({ name: o.name, shape: o.shape.map(freeDim) })),
      outputName: info.outputName ?? onnx.outputs[0]?.name ?? '',
      lastOp,
      sources: sourcesOf(override, saved, detected !== undefined && info.output === detected),
      infoPath,
      infoFound,
      labelsFile: saved.labelsFile,
      parameters: onnx.parameters,
    };
    return { classifier, onnx, summary };
  } catch (e) {
    onnx.dispose();
    throw e;
  }
}
