/**
 * advx's public API: the isomorphic core (no Node APIs), the same in Node and the browser.
 * Node-only helpers (datasets from disk, model files, PNG, reports) live in src/node/.
 */
export { AdvxError } from './core/errors.ts';
export { Rng } from './core/rng.ts';
export { batchNorm, clipToBounds, exactSign, normalizeGradient, projectBall, projectToFeasible, type Norm } from './core/norms.ts';
export { shardBlocks, type Shard } from './core/shards.ts';
export { BACKEND_PLATFORMS, BACKENDS, parseBackend, useBackend, WASM_FILES, type BackendName, type BackendOptions, type Platform, type WasmFile, type WasmPaths } from './backend/index.ts';

export { Classifier, type ClassifierInfo, type Preprocessing } from './models/classifier.ts';
export { buildModel, cnn, lenet, logistic, mlp, MODELS, type ModelSpec } from './models/zoo.ts';
export { createOptimizer, crossEntropy, fitClassifier, trainLoop, type BatchInfo, type EpochInfo, type FitOptions } from './train/fit.ts';
export { disposeOptimizer, epochRng, globalNorm, guardedUpdate, LossMeter, setLearningRate, statisticsVariables, stepRng, trainableVariables, TrainingDivergedError } from './train/core.ts';

export { subset, take, toTensors, type DatasetSplits, type ImageDataset } from './data/types.ts';
export { gatherBatch } from './data/batch.ts';
export { gridOfGaussians, pointsDataset, ringOfGaussians, rotate, rotatedMoons, twoMoons, type Toy2d } from './data/toy2d.ts';
export { applyTransforms, PRINT_TRANSFORMS, sampleTransforms, type TransformDistribution, type TransformParams } from './data/transforms.ts';

export { ATTACKS, attackDescriptor, checkAccess, checkAttackRequest, getAttack, type Attack, type AttackAccess, type AttackDescriptor, type AttackOptions, type BlackBoxModel, type BudgetKind } from './attacks/index.ts';
export { isRemoteModel, RemoteModel, REMOTE_PROTOCOLS, type RemoteOptions, type RemoteOutputs, type RemoteProtocol } from './models/remote.ts';
export { lossGradient, summarize, type AttackGoal, type AttackResult, type OnStep, type StepProgress } from './attacks/types.ts';
export { fgsm, fgsmStep } from './attacks/fgsm.ts';
export { pgd, pgdRun } from './attacks/pgd.ts';
export { lastIterate, projectedIterates, type ProjectedOptions } from './attacks/projected.ts';
export { mifgsm } from './attacks/mifgsm.ts';
export { apgd, apgdTargeted, dlrLoss, dlrLossTargeted, type ApgdLoss, type ApgdOptions, type ApgdTargetedOptions } from './attacks/apgd.ts';
export { deepfool } from './attacks/deepfool.ts';
export { fab, fabT, type FabOptions, type FabTOptions } from './attacks/fab.ts';
export { carliniWagnerL2 } from './attacks/carlini-wagner.ts';
export { szegedy } from './attacks/szegedy.ts';
export { eot, survival } from './attacks/eot.ts';
export { decisionOracle, scoreOracle, type DecisionModel, type ScoreModel } from './attacks/blackbox.ts';
export { squareAttack } from './attacks/square.ts';
export { nes, spsa } from './attacks/nes.ts';
export { hopSkipJump } from './attacks/hopskipjump.ts';
export { trainSubstitute, transferAttack } from './attacks/substitute.ts';
export { DecisionTree, KNearestNeighbors, trainLinearSvm, trainLogisticRegression } from './models/classic.ts';

export { gradientReversal, lambdaSchedule, lrSchedule } from './da/gradient-reversal.ts';
export { ADAPTATION_METHODS, ALIGNMENT_STRATEGIES, buildDannNetworks, dannFeatures, describeNetworks, mlpFeatures, MOONS_RECIPE, trainDann, type AdaptationMethod, type AlignmentStrategy, type DannNetworks, type DannOptions } from './da/dann.ts';
export { selectLambda } from './da/select-lambda.ts';
export { calibrateOn, domainAccuracies, evaluateEachDomain } from './da/evaluate.ts';
export { coralLoss } from './da/coral.ts';
export { mmdLoss } from './da/mmd.ts';
export { fineTune, labelledPerClass, replaceHead, type FineTuneOptions } from './da/finetune.ts';
export { softNeighbourhoodDensity, sndFromProbabilities } from './da/snd.ts';
export { domainSeparability } from './da/a-distance.ts';
export { blendMnistM } from './data/mnistm.ts';
export { adversarialPerturbation, ADVERSARIAL_METHODS, type AdversarialMethod } from './defenses/adversarial-training.ts';
export { distillationLoss, temperatureCrossEntropy } from './defenses/distillation.ts';
export { klDivergence, TRADES_DEFAULTS, tradesLoss, tradesPerturbation, tradesTraining, type TradesAttackOptions, type TradesOptions } from './defenses/trades.ts';

export { accuracy, classAccuracy } from './eval/accuracy.ts';
export { evaluateRobustness, modelChecks, recheck, sanityWarnings, SUITES, type AttackBreakdown, type AttackOutcome, type ExampleRecord, type RobustnessBlock, type RobustnessCandidates, type RobustnessOptions, type RobustnessProgress, type RobustnessReport, type RobustnessSeconds, type SuiteName } from './eval/robustness.ts';
export { transferMatrix } from './eval/transfer.ts';
export { pca2, tsne2, type TsneOptions } from './eval/embedding.ts';
export { decisionGrid, type DecisionGrid, type DecisionGridOptions } from './eval/decision-grid.ts';
export { lineChartOption, lineChartSvg, type Band, type Series } from './report/plot.ts';
export { decisionBoundarySvg, scatterPanelsSvg, scatterSvg, type BoundaryOptions, type GridLike, type LegendKey, type Marker, type ScatterGroup, type ScatterOptions } from './report/scatter.ts';
export type { ChartOption } from './report/charts.ts';
export { renderReport, type Block } from './report/html.ts';

export * from './text/index.ts';
export * from './gan/index.ts';

// Types that the functions above take or return, exported so that users (and the API docs) can name them.
export type { PgdOptions, PgdRunOptions } from './attacks/pgd.ts';
export type { FgsmOptions } from './attacks/fgsm.ts';
export type { MiFgsmOptions } from './attacks/mifgsm.ts';
export type { DeepFoolOptions } from './attacks/deepfool.ts';
export type { CarliniWagnerOptions } from './attacks/carlini-wagner.ts';
export type { SzegedyOptions } from './attacks/szegedy.ts';
export type { EotOptions } from './attacks/eot.ts';
export type { SquareOptions } from './attacks/square.ts';
export type { NesOptions } from './attacks/nes.ts';
export type { HopSkipJumpOptions } from './attacks/hopskipjump.ts';
export type { AnyModel, BlackBoxAttack } from './attacks/index.ts';
export type { Substitute, SubstituteOptions, SubstituteRound, TransferOptions, TransferResult } from './attacks/substitute.ts';
export type { Forward, OutputKind } from './models/classifier.ts';
export type { ModelBuilder } from './models/zoo.ts';
export type { BlackBoxInfo } from './models/black-box.ts';
// Isomorphic types that advx/node's loaders and ONNX Runtime model take or return.
export type { SavedInfo } from './models/advx-info.ts';
export type { InfoKey, InfoSource, ModelSummary, TensorSummary } from './models/load.ts';
export type { OnnxGraphInfo } from './models/onnx.ts';
export type { OnnxModel } from './models/onnx/graph.ts';
export type { Attribute as OnnxAttribute, ConstantValue, HostArray, OnnxNode, ValueInfo } from './models/onnx/proto.ts';
export type { Value as OnnxValue } from './models/onnx/ops.ts';
export type { OnnxSessionModel, OnnxSessionOptions, Ort, OrtSession, OrtTensor, ProbedShape } from './models/onnx-runtime.ts';
export type { Item } from './data/image-folder.ts';
export type { Pixels } from './data/image-ops.ts';
export type { ClassicModel, KnnOptions, LinearModel, LinearOptions, TreeOptions } from './models/classic.ts';
export type { Batch, LoopOptions, LossFn, LossStep } from './train/fit.ts';
export type { Extras, Keep, Report } from './train/core.ts';
export type { BlendOptions, Photo } from './data/mnistm.ts';
export type { DannBatchInfo, DannEpochInfo, DannResult, FeatureBuilder, NetworkOptions } from './da/dann.ts';
export type { Alignment, AlignmentBatch } from './da/strategies.ts';
export type { DomainSeparability, SeparabilityOptions } from './da/a-distance.ts';
export type { DomainAccuracies, DomainEvaluation } from './da/evaluate.ts';
export type { LambdaRun, LambdaSelection, LambdaTrial } from './da/select-lambda.ts';
export type { SndOptions } from './da/snd.ts';
export type { AdversarialTrainingOptions } from './defenses/adversarial-training.ts';
export type { ClassAccuracy } from './eval/accuracy.ts';
export type { SanityInputs } from './eval/robustness.ts';
export type { TransferMatrix } from './eval/transfer.ts';
export type { ChartOptions } from './report/plot.ts';
export type { TextAttackRunner } from './text/attacks/index.ts';
export type { Discriminator, DiscriminatorNorm, Generator } from './gan/dcgan.ts';
export type { FeatureOptions, KidOptions, KidResult, PrecisionRecallOptions } from './gan/metrics.ts';
export type { Pix2pixDiscriminator, Pix2pixGenerator, Pix2pixHistory, Pix2pixNetOptions, Pix2pixPairs, Pix2pixResult, Pix2pixStepInfo, Pix2pixTrainOptions } from './gan/pix2pix.ts';
export type { GanStepConfig, ImageGanHistory, ImageGanStepInfo } from './gan/train-images.ts';
