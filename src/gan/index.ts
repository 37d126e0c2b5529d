/** GANs (isomorphic): losses, small MLP networks, the vector training loop, diagnostics and toy metrics. */
export { GAN_LOSSES, discriminatorLoss, generatorLoss, gradientPenalty, parseGanLoss, r1Penalty, type Critic, type GanLoss } from './losses.ts';
export { buildMlp, buildToyNetworks, cloneMlp, type Activation, type Mlp, type MlpOptions, type ToyNetworkOptions } from './networks.ts';
export { sampleGenerator, sampleLatent, trainGan, type GanHistory, type GanResult, type GanStepInfo, type GanTrainOptions, type RealSampler } from './train.ts';
export { saturationDiagnostic, type SaturationOptions, type SaturationSeries } from './diagnostics.ts';
export { CAPTURE_SHARE, TOY_MIXTURES, modeCoverage, toyMixture, type CoverageOptions, type ModeCoverage, type ToyMixture, type ToyMixtureName } from './toy-metrics.ts';
export { createGanStepper, type GanStepResult, type GanStepper, type GanStepperOptions } from './step.ts';
