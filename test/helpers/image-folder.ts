/** Writes images of a dataset as PNG files, in the layouts `--data PATH` reads. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ImageDataset } from '../../src/data/types.ts';
import { encodePng } from '../../src/node/png.ts';

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
