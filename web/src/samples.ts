/**
 * The test images the lab ships (scripts/lab-data.ts writes them to data/): a few of each dataset
 * the shipped classifiers are trained on, with the dataset's shape and class names. A model gets
 * its own dataset's images; a model that names no dataset (or one the lab does not ship) gets
 * the first shipped dataset of its input shape, labels not used (attacked away from its prediction).
 */
import { datasetOf, type LabModel } from './models.ts';
import { fetchJson } from './ui.ts';

export interface DatasetIndex {
  name: string;
  /** For people: MNIST, Fashion-MNIST, MNIST-M. */
  title: string;
  file: string;
  count: number;
  shape: [number, number, number];
  classNames: string[];
}

export interface Samples extends DatasetIndex {
  labels: number[];
  /** Each image, H×W×C channels last, in [0, 1]. */
  images: Float32Array[];
}

let index: Promise<DatasetIndex[]> | null = null;
const loaded = new Map<string, Promise<Samples>>();

/** The shipped datasets (an empty list when the lab was built without them). */
export function datasetIndex(): Promise<DatasetIndex[]> {
  index ??= fetchJson<{ datasets: DatasetIndex[] }>('data/datasets.json').then((d) => d.datasets);
  return index;
}

/** One shipped dataset's images, fetched once. */
export function loadSamples(entry: DatasetIndex): Promise<Samples> {
  let p = loaded.get(entry.name);
  if (!p) {
    p = fetchJson<{ count: number; shape: [number, number, number]; labels: number[]; pixels: string }>(`data/${entry.file}`).then((data) => {
      const bytes = Uint8Array.from(atob(data.pixels), (c) => c.charCodeAt(0));
      const n = data.shape[0] * data.shape[1] * data.shape[2];
      const images = Array.from({ length: data.count }, (_, i) => Float32Array.from(bytes.subarray(i * n, (i + 1) * n), (v) => v / 255));
      return { ...entry, count: data.count, shape: data.shape, labels: data.labels, images };
    });
    loaded.set(entry.name, p);
  }
  return p;
}

/** The shipped dataset for a model: its own (same input shape), else the first of its input shape, else none. */
export async function samplesFor(model: LabModel): Promise<{ samples: Samples; own: boolean } | null> {
  const all = await datasetIndex().catch(() => []);
  const fits = all.filter((d) => d.shape.join(',') === model.shape.join(','));
  const own = fits.find((d) => d.name === datasetOf(model));
  const chosen = own ?? fits[0];
  return chosen ? { samples: await loadSamples(chosen), own: own !== undefined } : null;
}
