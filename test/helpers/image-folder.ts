/** Writes images of a dataset as PNG files, in the layouts `--data PATH` reads. */
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { zipSync } from 'fflate';
import type { ImageDataset } from '../../src/data/types.ts';
import { encodePng } from '../../src/node/io/png.ts';

/**
 * The first `count` images as DIR/<class name>/<index>.png (labelled), or DIR/<index>.png with
 * `flat` (unlabelled). PNG stores bytes: the images are what the files hold, rounded to /255.
 */
export function writeImageFolder(dir: string, data: ImageDataset, count: number, classNames: string[], options: { flat?: boolean } = {}): void {
  const [h, w, c] = data.shape;
  const size = h * w * c;
  for (let i = 0; i < count; i++) {
    const folder = options.flat ? dir : join(dir, classNames[data.labels[i]]);
    mkdirSync(folder, { recursive: true });
    writeFileSync(join(folder, `${String(i).padStart(5, '0')}.png`), encodePng(data.images.subarray(i * size, (i + 1) * size), w, h, c as 1 | 3));
  }
}

/** Every file under `dir` as zip entries under `prefix/` (a zip made of the folder itself, as `zip -r` makes it). */
export function zipOf(dir: string, prefix: string): Uint8Array {
  const entries: Record<string, Uint8Array> = {};
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else entries[`${prefix}/${relative(dir, p)}`] = readFileSync(p);
    }
  };
  walk(dir);
  return zipSync(entries);
}
