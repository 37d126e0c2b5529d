/**
 * The user's own images as an ImageDataset (`--data PATH`), in three layouts:
 *   - a folder of class folders, PATH/<class>/**.png|jpg|jpeg, classes in sorted order as
 *     torchvision's ImageFolder numbers them; a flat folder of images has no labels;
 *   - a CSV file of `path,label` rows (header optional, paths relative to the CSV's folder, labels
 *     class indices or class names);
 *   - a folder holding x.npy ([N,H,W,C] or [N,H,W]; float32/float64 in [0, 1] or uint8) and,
 *     optionally, y.npy ([N]; int64/int32/uint8).
 * Each image is converted to the model's channels, center-cropped to its aspect ratio and resized
 * to its height and width (src/data/image-ops.ts). Class names are matched to the model's when it
 * names its classes. Every bad input is one AdvxError naming the file (or the CSV row).
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { AdvxError } from '../../core/errors.ts';
import type { ImageDataset } from '../../data/types.ts';
import { fitImage, type Pixels } from '../../data/image-ops.ts';
import { folderLayout, IMAGE_EXTENSIONS, isImageName, resolveLabels, type Item } from '../../data/image-folder.ts';
import { DATASET_NAMES } from './index.ts';
import { readNpy, type NpyArray } from './npy.ts';

// The layout rules, label matching and shape check are isomorphic (the lab reads folders too).
export { IMAGE_EXTENSIONS, imageTarget, resolveLabels } from '../../data/image-folder.ts';
export const NPY_FILES = { x: 'x.npy', y: 'y.npy' } as const;
/** Labels are stored as bytes (ImageDataset.labels). */
const MAX_CLASSES = 256;

/** What the model takes: the images are fitted to `shape`, labels matched to `classNames`. */
export interface DataTarget {
  shape: [number, number, number];
  numClasses: number;
  classNames?: string[];
}

/** A user's data, listed but not yet decoded. */
export type UserSource =
  | { kind: 'folder' | 'csv' | 'flat'; path: string; items: Item[] }
  | { kind: 'npy'; path: string; x: string; y?: string };

export interface UserData {
  data: ImageDataset;
  /** false: the data has no labels, and `data.labels` are zeros until the caller sets them (the model's predictions). */
  labeled: boolean;
}

/** Whether a --data value names files rather than a built-in dataset: built-in names win. */
export function isDataPath(arg: string): boolean {
  if ((DATASET_NAMES as readonly string[]).includes(arg)) return false;
  return fs.existsSync(arg) || arg.includes('/') || arg.includes(path.sep) || arg.toLowerCase().endsWith('.csv');
}

const isImage = isImageName;
/** Dot files are skipped: macOS's ._x.png resource forks and .ipynb_checkpoints are not images. */
const visible = (name: string) => !name.startsWith('.');

function entries(dir: string): fs.Dirent[] {
  try {
    return fs.readdirSync(dir, { withFileTypes: true }).filter((e) => visible(e.name)).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  } catch (err) {
    throw new AdvxError(`${dir} cannot be read (${(err as Error).message})`);
  }
}

/** The visible files under `dir`, at any depth, as '/'-separated paths relative to `root`. */
function filesUnder(root: string, rel = ''): string[] {
  return entries(path.join(root, rel)).flatMap((e) => {
    const sub = rel ? `${rel}/${e.name}` : e.name;
    return e.isDirectory() ? filesUnder(root, sub) : e.isFile() ? [sub] : [];
  });
}

/** Lists a --data PATH (files and labels, no decoding), so that bad input is refused before any work. */
export function scanUserData(p: string): UserSource {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(p);
  } catch {
    throw new AdvxError(`--data ${p} does not exist (give a folder of images, a CSV file or a folder with ${NPY_FILES.x})`);
  }
  if (stat.isFile()) {
    if (path.extname(p).toLowerCase() !== '.csv') throw new AdvxError(`--data ${p} is a file but not a .csv; give a folder of images, a CSV file or a folder with ${NPY_FILES.x}`);
    return { kind: 'csv', path: p, items: readCsv(p) };
  }
  if (fs.existsSync(path.join(p, NPY_FILES.x))) {
    const y = path.join(p, NPY_FILES.y);
    return { kind: 'npy', path: p, x: path.join(p, NPY_FILES.x), y: fs.existsSync(y) ? y : undefined };
  }
  return scanFolder(p);
}

/**
 * sha256 of what a --data PATH gives a run: the files it reads, in the order it reads them. A CSV
 * (its rows: paths and labels) and then its images; a folder's images, each with its path in the
 * folder (which names its class); x.npy and y.npy. config.json holds it, so that a run goes on
 * from its kept blocks, or a finished shard is kept, only on the same data.
 */
export function userDataSha256(p: string): string {
  const source = scanUserData(p);
  const hash = createHash('sha256');
  const add = (key: string, file: string) => hash.update(`${key}\0`).update(fs.readFileSync(file));
  if (source.kind === 'npy') {
    add(NPY_FILES.x, source.x);
    if (source.y) add(NPY_FILES.y, source.y);
  } else {
    if (source.kind === 'csv') add('', source.path);
    for (const item of source.items) add(source.kind === 'csv' ? '' : path.relative(p, item.file).split(path.sep).join('/'), item.file);
  }
  return hash.digest('hex');
}

function scanFolder(p: string): UserSource {
  const { kind, items } = folderLayout(p, filesUnder(p), (rel) => path.join(p, ...rel.split('/')), `, and for ${NPY_FILES.x}`);
  return { kind, path: p, items };
}

// ---- CSV ----------------------------------------------------------------------------------

/** The cells of one CSV line (RFC 4180 quoting: "a,b" and "" for a quote). */
function csvCells(line: string): string[] {
  const cells: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (quoted && ch === '"' && line[i + 1] === '"') (cell += '"'), i++;
    else if (ch === '"') quoted = !quoted;
    else if (ch === ',' && !quoted) cells.push(cell), (cell = '');
    else cell += ch;
  }
  cells.push(cell);
  return cells.map((c) => c.trim());
}

function readCsv(file: string): Item[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new AdvxError(`${file} cannot be read (${(err as Error).message})`);
  }
  const items: Item[] = [];
  let first = true;
  text.replace(/^\uFEFF/, '').split(/\r?\n/).forEach((line, i) => {
    if (line.trim() === '') return;
    const where = `${file} row ${i + 1}`;
    const [rel, label, ...rest] = csvCells(line);
    // The header, when there is one, is a first row whose path is no image file name.
    const header = first && !isImage(rel);
    first = false;
    if (header) return;
    if (label === undefined || label === '' || rest.some((c) => c !== '')) throw new AdvxError(`${where}: expected "path,label", got ${JSON.stringify(line)}`);
    const full = path.resolve(path.dirname(file), rel);
    if (!isImage(rel)) throw new AdvxError(`${where}: ${rel} is not a ${IMAGE_EXTENSIONS.join('/')} file`);
    if (!fs.existsSync(full)) throw new AdvxError(`${where}: image ${full} does not exist`);
    items.push({ file: full, label, where });
  });
  if (items.length === 0) throw new AdvxError(`no images found in ${file} (expected rows "path,label")`);
  return items;
}

// ---- decoding -----------------------------------------------------------------------------

const TO_UNIT = Float32Array.from({ length: 256 }, (_, i) => i / 255);

/** Decodes a PNG or JPEG to [0, 1] floats: 1 channel for a grey PNG, else 3 (alpha dropped). */
export function decodeImage(file: string): Pixels {
  let buf: Buffer;
  try {
    buf = fs.readFileSync(file);
  } catch (err) {
    throw new AdvxError(`image ${file} cannot be read (${(err as Error).message})`);
  }
  let width: number, height: number, rgba: Uint8Array, channels: number;
  try {
    if (path.extname(file).toLowerCase() === '.png') {
      const png = PNG.sync.read(buf);
      [width, height, rgba] = [png.width, png.height, png.data];
      channels = png.color ? 3 : 1;
    } else {
      const img = jpeg.decode(buf, { useTArray: true, formatAsRGBA: true });
      [width, height, rgba, channels] = [img.width, img.height, img.data, 3];
    }
  } catch (err) {
    throw new AdvxError(`image ${file} is corrupt or not a ${path.extname(file).slice(1).toUpperCase()} (${(err as Error).message})`);
  }
  if (!(width > 0 && height > 0) || rgba.length !== width * height * 4) throw new AdvxError(`image ${file} is corrupt (${width}×${height})`);
  const data = new Float32Array(width * height * channels);
  for (let p = 0; p < width * height; p++) {
    for (let k = 0; k < channels; k++) data[p * channels + k] = TO_UNIT[rgba[p * 4 + k]];
  }
  return { data, height, width, channels };
}

// ---- loading ------------------------------------------------------------------------------

/**
 * The data's own image shape, H×W×C (C 1 or 3), for a model that does not say what it takes (a
 * served model without metadata): x.npy's, or the first image's.
 */
export function userDataShape(source: UserSource): [number, number, number] {
  if (source.kind === 'npy') {
    const [, h, w, c = 1] = readNpy(source.x).shape;
    return [h, w, c === 1 ? 1 : 3];
  }
  if (!source.items.length) throw new AdvxError(`--data ${source.path} holds no images`);
  const first = decodeImage(source.items[0].file);
  return [first.height, first.width, first.channels === 1 ? 1 : 3];
}

/** Loads the first `limit` images of a --data PATH, fitted to the model. */
export function loadUserData(p: string, target: DataTarget, limit?: number): UserData {
  if (target.numClasses > MAX_CLASSES) throw new AdvxError(`the model has ${target.numClasses} classes; --data PATH supports at most ${MAX_CLASSES}`);
  const source = scanUserData(p);
  if (source.kind === 'npy') return loadNpy(source, target, limit);
  const items = limit === undefined ? source.items : source.items.slice(0, limit);
  const labeled = source.kind !== 'flat';
  // Labels are resolved over all items, so class numbering does not depend on --limit.
  const { labels, classNames } = labeled ? resolveLabels(source, target) : { labels: [], classNames: target.classNames ?? numbered(target.numClasses) };
  const [h, w, c] = target.shape;
  const images = new Float32Array(items.length * h * w * c);
  items.forEach((it, i) => images.set(fitImage(decodeImage(it.file), h, w, c), i * h * w * c));
  return { data: dataset(p, images, Uint8Array.from(labels.slice(0, items.length)), target, classNames, items.length), labeled };
}

const numbered = (n: number) => Array.from({ length: n }, (_, i) => String(i));

function dataset(name: string, images: Float32Array, labels: Uint8Array, target: DataTarget, classNames: string[], count: number): ImageDataset {
  return { name, images, labels: labels.length === count ? labels : new Uint8Array(count), shape: target.shape, numClasses: target.numClasses, classNames, count };
}

function loadNpy(source: Extract<UserSource, { kind: 'npy' }>, target: DataTarget, limit?: number): UserData {
  const x = readNpy(source.x);
  if (!['float32', 'float64', 'uint8'].includes(x.dtype)) throw new AdvxError(`${source.x} has dtype ${x.dtype}; images must be float32, float64 (in [0, 1]) or uint8`);
  if (x.shape.length !== 3 && !(x.shape.length === 4 && [1, 3, 4].includes(x.shape[3]))) {
    throw new AdvxError(`${source.x} has shape (${x.shape.join(', ')}); images must be [N, H, W] or [N, H, W, C] with C 1, 3 or 4`);
  }
  const [n, ih, iw, ic = 1] = x.shape;
  const count = limit === undefined ? n : Math.min(limit, n);
  const labels = source.y ? npyLabels(source.y, n, target.numClasses).subarray(0, count) : new Uint8Array(count);
  const [h, w, c] = target.shape;
  const size = ih * iw * ic;
  const images = new Float32Array(count * h * w * c);
  for (let i = 0; i < count; i++) {
    const data = unitFloats(x, i * size, size, source.x);
    images.set(fitImage({ data, height: ih, width: iw, channels: ic }, h, w, c), i * h * w * c);
  }
  return { data: dataset(source.path, images, labels, target, target.classNames ?? numbered(target.numClasses), count), labeled: source.y !== undefined };
}

/** One image's values in [0, 1]: uint8 / 255, floats as they are (refused outside [0, 1]). */
function unitFloats(x: NpyArray, start: number, size: number, file: string): Float32Array {
  const out = new Float32Array(size);
  for (let k = 0; k < size; k++) {
    const v = x.data[start + k];
    out[k] = x.dtype === 'uint8' ? TO_UNIT[v] : v;
    if (!(v >= 0 && v <= 1) && x.dtype !== 'uint8') {
      throw new AdvxError(`${file}: value ${v} at flat index ${start + k} is outside [0, 1] (scale float images to [0, 1], or save them as uint8)`);
    }
  }
  return out;
}

function npyLabels(file: string, n: number, numClasses: number): Uint8Array {
  const y = readNpy(file);
  if (!['int64', 'int32', 'uint8'].includes(y.dtype)) throw new AdvxError(`${file} has dtype ${y.dtype}; labels must be int64, int32 or uint8`);
  if (!(y.shape.length === 1 || (y.shape.length === 2 && y.shape[1] === 1))) throw new AdvxError(`${file} has shape (${y.shape.join(', ')}); labels must be [N]`);
  if (y.shape[0] !== n) throw new AdvxError(`${file} has ${y.shape[0]} labels but ${NPY_FILES.x} has ${n} images`);
  const labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const l = Number(y.data[i]);
    if (!(l >= 0 && l < numClasses && l < MAX_CLASSES)) throw new AdvxError(`${file}: label ${l} at index ${i} is not a class of the model (0 to ${numClasses - 1})`);
    labels[i] = l;
  }
  return labels;
}
