/** GANs (isomorphic): losses, small MLP networks, the vector training loop, diagnostics and toy metrics. */
export { GAN_LOSSES, LOSS_DEFAULTS, discriminatorLoss, generatorLoss, gradientPenalty, parseGanLoss, r1Penalty, type Critic, type GanLoss } from './losses.ts';
export { buildMlp, buildToyNetworks, cloneMlp, type Activation, type Mlp, type MlpOptions, type ToyNetworkOptions } from './networks.ts';
export { GanDivergedError, type GanOptions } from './update.ts';
export { sampleGenerator, sampleLatent, trainGan, type GanHistory, type GanResult, type GanStepInfo, type GanTrainOptions, type RealSampler } from './train.ts';
export { saturationDiagnostic, type SaturationOptions, type SaturationSeries } from './diagnostics.ts';
export { CAPTURE_SHARE, TOY_MIXTURES, modeCoverage, toyMixture, type CoverageOptions, type ModeCoverage, type ToyMixture, type ToyMixtureName } from './toy-metrics.ts';
export { createGanStepper, type GanStepResult, type GanStepper, type GanStepperOptions } from './step.ts';
export { GAN_ARCHS, buildDcgan, buildDiscriminator, buildGenerator, dcganConfig, generate, latentInterpolation, parseGanArch, type DcganConfig, type DcganNetworks, type DcganOptions, type GanArch } from './dcgan.ts';
export { createImageGanState, disposeImageGanState, imageGanStep, sampleImages, trainImageGan, type ImageGanOptions, type ImageGanResult, type ImageGanState } from './train-images.ts';
export { classCoverage, classifierFeatures, evaluateGenerator, frechetDistance, kernelInceptionDistance, precisionRecall, type GeneratorEvaluation, type GeneratorJudge } from './metrics.ts';
export { buildPix2pixDiscriminator, buildPix2pixGenerator, trainPix2pix, translateImages } from './pix2pix.ts';
