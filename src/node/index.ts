/**
 * advx's Node API (`advx/node`): models and datasets from disk, files written safely, images.
 * Everything here needs Node; the isomorphic core is `advx` (src/index.ts).
 */
export { loadClassifier, inspectModel, readInfo, type LoadedModel } from './io/load-model.ts';
export { saveModel, fileSystemHandler, readModelArtifacts } from './io/model-files.ts';
export { loadTextClassifier, saveTextClassifier } from './io/text-model.ts';
export { OnnxRuntimeModel, type OnnxRuntimeOptions } from './io/onnx-runtime.ts';
export { shippedModel, SHIPPED_MODELS_DIR, PACKAGE_ROOT, defaultCacheDir, isInstalled } from './io/packages.ts';
export { writeFileAtomic } from './io/files.ts';
export { encodePng, imageGrid, type ImageGrid } from './io/png.ts';
export { canRenderPng, svgToPng } from './io/svg-png.ts';

export {
  clearDatasetCache,
  DATASET_NAMES,
  DATASET_PACKAGES,
  FASHION_MNIST_CLASSES,
  loadDataset,
  MNIST_CLASSES,
  OTHER_OPTIONAL_PACKAGES,
  parseDatasetName,
  type DatasetName,
  type LoadDatasetOptions,
} from './datasets/index.ts';
export { decodeImage, loadUserData, scanUserData, type UserData, type UserSource, type DataTarget } from './datasets/image-folder.ts';
export { readNpy, encodeNpy, type NpyArray } from './datasets/npy.ts';
export { loadSpam, SPAM_CLASSES, type LoadSpamOptions, type TextExample, type TextSplits } from './datasets/spam.ts';
export { loadWordNet, type WordNet, type WordNetOptions } from './datasets/wordnet.ts';
