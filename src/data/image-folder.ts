/**
 * The layout rules of a folder of images, as torchvision's ImageFolder reads it, on a list of
 * relative paths (no file system): the CLI lists a folder on disk (node/datasets/image-folder.ts), the lab
 * an uploaded folder or zip, and both get the same images in the same order with the same labels.
 *   - class folders: ROOT/<class>/**.png|jpg|jpeg, classes in sorted order, each folder's own
 *     files before its subfolders';
 *   - a flat folder of images: no labels;
 *   - both at once: refused. Names starting with a dot (._x.png, .ipynb_checkpoints) are skipped.
 */
import { AdvxError } from '../core/errors.ts';

export const IMAGE_EXTENSIONS = ['.png', '.jpg', '.jpeg'];

/** Whether a file name is one of the image types advx decodes. */
export function isImageName(name: string): boolean {
  const base = name.slice(name.lastIndexOf('/') + 1);
  const dot = base.lastIndexOf('.');
  return dot > 0 && IMAGE_EXTENSIONS.includes(base.slice(dot).toLowerCase());
}

/** One image file and its label as written (a class folder's name, a CSV cell), with where it came from. */
export interface Item {
  file: string;
  label?: string;
  where: string;
}

const before = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** ImageFolder's walk order on '/'-separated paths: at each level a folder's files (sorted) come before its subfolders (sorted). */
export function walkOrder(a: string, b: string): number {
  const [pa, pb] = [a.split('/'), b.split('/')];
  for (let i = 0; i < Math.min(pa.length, pb.length); i++) {
    if (pa[i] === pb[i]) continue;
    const [fileA, fileB] = [i === pa.length - 1, i === pb.length - 1];
    if (fileA !== fileB) return fileA ? -1 : 1;
    return before(pa[i], pb[i]);
  }
  return pa.length - pb.length;
}

/**
 * The images among `paths` (files relative to `root`, '/'-separated, in any order) as class
 * folders or a flat folder; `locate` turns a relative path into the item's file name. AdvxError
 * when the folder mixes both, or holds no image (`lookedFor` adds to what the message says was sought).
 */
export function folderLayout(root: string, paths: string[], locate: (rel: string) => string, lookedFor = ''): { kind: 'folder' | 'flat'; items: Item[] } {
  const images = paths.filter((p) => p.split('/').every((c) => c !== '' && !c.startsWith('.')) && isImageName(p)).sort(walkOrder);
  const loose = images.filter((p) => !p.includes('/'));
  const inFolders = images.filter((p) => p.includes('/'));
  if (loose.length > 0 && inFolders.length > 0) {
    throw new AdvxError(`${root} holds both images (${loose[0]}, …) and class folders (${inFolders[0].split('/')[0]}, …): put every image in a class folder, or none`);
  }
  if (inFolders.length > 0) return { kind: 'folder', items: inFolders.map((p) => ({ file: locate(p), label: p.split('/')[0], where: locate(p) })) };
  if (loose.length === 0) throw new AdvxError(`no images found in ${root} (looked for ${IMAGE_EXTENSIONS.join(', ')} files, in class folders or loose${lookedFor})`);
  return { kind: 'flat', items: loose.map((p) => ({ file: locate(p), where: locate(p) })) };
}

const isIndex = (s: string) => /^\d+$/.test(s);

/**
 * The class index of each item's label, and the class names of the result. With the model's class
 * names, a label is one of them (or, in a CSV, an index); without, class folders and CSV names are
 * numbered in sorted order (ImageFolder's), CSV digits are indices.
 */
export function resolveLabels(source: { kind: string; path: string; items: Item[] }, target: { numClasses: number; classNames?: string[] }): { labels: number[]; classNames: string[] } {
  const raw = source.items.map((it) => it.label as string);
  const model = target.classNames;
  if (model) {
    const unknown = [...new Set(raw.filter((l) => !model.includes(l) && !(source.kind === 'csv' && isIndex(l))))];
    if (unknown.length > 0) {
      const first = source.items.find((it) => it.label === unknown[0]) as Item;
      const what = source.kind === 'folder' ? `class folders ${unknown.join(', ')} of ${source.path} are` : `${first.where}: label ${JSON.stringify(unknown[0])} is`;
      throw new AdvxError(`${what} not among the model's classes (${shortList(model)})`);
    }
    return checked(source, raw.map((l) => (model.includes(l) ? model.indexOf(l) : Number(l))), model, target.numClasses);
  }
  if (source.kind === 'csv' && raw.every(isIndex)) {
    return checked(source, raw.map(Number), Array.from({ length: target.numClasses }, (_, i) => String(i)), target.numClasses);
  }
  const names = [...new Set(raw)].sort(before);
  return checked(source, raw.map((l) => names.indexOf(l)), names, target.numClasses);
}

function checked(source: { path: string; items: Item[] }, labels: number[], classNames: string[], numClasses: number) {
  const over = labels.findIndex((l) => l >= numClasses);
  if (over >= 0) throw new AdvxError(`${source.items[over].where}: class ${labels[over]} (${JSON.stringify(source.items[over].label)}) is past the model's ${numClasses} classes`);
  return { labels, classNames };
}

const shortList = (names: string[]) => (names.length > 6 ? `${names.slice(0, 5).join(', ')}, …` : names.join(', '));

/** Checks that a model takes images advx can fit a folder to: H×W×C with 1 or 3 channels. */
export function imageTarget(inputShape: readonly (number | null)[] | undefined, named: string, needs = '--data PATH needs'): [number, number, number] {
  const ok = inputShape && inputShape.length === 3 && inputShape.every((d) => typeof d === 'number' && d > 0) && (inputShape[2] === 1 || inputShape[2] === 3);
  if (!ok) throw new AdvxError(`${named} takes inputs of shape ${inputShape ? inputShape.join('×') : 'unknown'}; ${needs} a model of H×W×1 or H×W×3 images`);
  return inputShape as [number, number, number];
}
