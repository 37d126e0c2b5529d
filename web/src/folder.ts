/**
 * The user's images in the lab: an uploaded folder (<input webkitdirectory>) or a .zip of one,
 * laid out as torchvision's ImageFolder (class folders = labels; a flat folder = no labels). The
 * layout rules and label matching are the CLI's own (src/data/image-folder.ts); each image is
 * decoded by the browser and fitted to the model by the CLI's fitImage (channels, centre crop,
 * bilinear resize), so the lab sees the same pixels as `advx evaluate --data FOLDER`.
 */
import { unzipSync } from 'fflate';
import { fitImage } from '../../src/data/image-ops.ts';
import { folderLayout, isImageName, resolveLabels } from '../../src/data/image-folder.ts';

/** An uploaded folder or zip, listed but not decoded: relative '/'-separated paths to their bytes. */
export interface ImageFiles {
  /** The folder's or zip's name, for messages. */
  root: string;
  files: Map<string, Blob>;
}

export interface FolderData {
  root: string;
  /** How many images the folder holds (`count` of them were loaded). */
  total: number;
  count: number;
  shape: [number, number, number];
  images: Float32Array;
  /** Each image's label, or null for a flat folder (the caller labels it with the model's predictions). */
  labels: number[] | null;
  /** Each image's path in the folder. */
  names: string[];
}

/**
 * The files of a folder chosen with webkitdirectory: every path starts with the chosen folder's
 * name, which is the root, not a class.
 */
export function folderFiles(list: File[]): ImageFiles {
  const paths = list.map((f) => f.webkitRelativePath || f.name);
  const root = paths[0]?.split('/')[0] ?? 'the folder';
  const files = new Map<string, Blob>();
  list.forEach((f, i) => files.set(paths[i].split('/').slice(1).join('/') || f.name, f));
  return { root, files };
}

/**
 * The image files of a .zip. A zip made of a folder (`zip -r digits.zip digits`) holds one top
 * folder around everything: that folder is the root, its subfolders the classes.
 */
export async function zipFiles(file: File): Promise<ImageFiles> {
  let entries: Record<string, Uint8Array>;
  try {
    // Only image entries are inflated: a zip of a large tree costs what its images cost.
    entries = unzipSync(new Uint8Array(await file.arrayBuffer()), { filter: (f) => isImageName(f.name) && !f.name.endsWith('/') });
  } catch (e) {
    throw new Error(`${file.name} is not a zip file the lab can read (${e instanceof Error ? e.message : String(e)})`);
  }
  const paths = Object.keys(entries).filter((p) => !p.startsWith('__MACOSX/'));
  const tops = new Set(paths.map((p) => p.split('/')[0]));
  const wrapped = tops.size === 1 && paths.every((p) => p.includes('/'));
  const rel = (p: string) => (wrapped ? p.slice(p.indexOf('/') + 1) : p);
  const files = new Map<string, Blob>();
  for (const p of paths) files.set(rel(p), new Blob([entries[p] as Uint8Array<ArrayBuffer>]));
  return { root: file.name, files };
}

/** Decodes one image to [0, 1] RGB, as stored: no colour management, no premultiplied alpha. */
async function decode(blob: Blob, where: string): Promise<{ data: Float32Array; height: number; width: number; channels: number }> {
  let bitmap: ImageBitmap;
  try {
    bitmap = await createImageBitmap(blob, { colorSpaceConversion: 'none', premultiplyAlpha: 'none' });
  } catch (e) {
    throw new Error(`image ${where} is corrupt or not an image the browser can decode (${e instanceof Error ? e.message : String(e)})`);
  }
  try {
    const { width, height } = bitmap;
    const canvas = new OffscreenCanvas(width, height);
    const ctx = canvas.getContext('2d', { willReadFrequently: true }) as OffscreenCanvasRenderingContext2D;
    ctx.drawImage(bitmap, 0, 0);
    const rgba = ctx.getImageData(0, 0, width, height).data;
    const data = new Float32Array(width * height * 3);
    for (let p = 0; p < width * height; p++) for (let k = 0; k < 3; k++) data[p * 3 + k] = rgba[p * 4 + k] / 255;
    return { data, height, width, channels: 3 };
  } finally {
    bitmap.close();
  }
}

/**
 * The first `limit` images of `source` fitted to `shape`, labelled by their class folders matched
 * to the model's class names (as the CLI matches them). Errors name the folder or the image.
 */
export async function loadFolder(source: ImageFiles, shape: [number, number, number], model: { numClasses: number; classNames?: string[] }, limit: number, progress?: (done: number, total: number) => void): Promise<FolderData> {
  const { root, files } = source;
  const { kind, items } = folderLayout(root, [...files.keys()], (rel) => rel);
  const labels = kind === 'folder' ? resolveLabels({ kind, path: root, items }, model).labels : null;
  const chosen = items.slice(0, Math.max(1, limit));
  const [h, w, c] = shape;
  const images = new Float32Array(chosen.length * h * w * c);
  for (let i = 0; i < chosen.length; i++) {
    const img = await decode(files.get(chosen[i].file) as Blob, `${root}/${chosen[i].file}`);
    images.set(fitImage(img, h, w, c), i * h * w * c);
    progress?.(i + 1, chosen.length);
  }
  return { root, total: items.length, count: chosen.length, shape, images, labels: labels?.slice(0, chosen.length) ?? null, names: chosen.map((it) => it.file) };
}
