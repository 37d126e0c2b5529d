/**
 * advx's public API: the isomorphic core (no Node APIs), the same in Node and the browser.
 * Node-only helpers (datasets from disk, model files, PNG, reports) live in src/node/.
 */
export { AdvxError } from './core/errors.ts';
export { Rng } from './core/rng.ts';
export { batchNorm, clipToBounds, exactSign, normalizeGradient, projectBall, projectToFeasible, type Norm } from './core/norms.ts';
export { BACKENDS, parseBackend, useBackend, type BackendName, type BackendOptions } from './backend/index.ts';

export { Classifier, type ClassifierInfo, type Preprocessing } from './models/classifier.ts';
export { buildModel, cnn, lenet, logistic, mlp, MODELS, type ModelSpec } from './models/zoo.ts';
export { createOptimizer, crossEntropy, fitClassifier, trainLoop, type BatchInfo, type EpochInfo, type FitOptions } from './train/fit.ts';
export { disposeOptimizer, epochRng, globalNorm, guardedUpdate, LossMeter, setLearningRate, statisticsVariables, stepRng, trainableVariables, TrainingDivergedError } from './train/core.ts';

export { subset, take, toTensors, type DatasetSplits, type ImageDataset } from './data/types.ts';
export { gatherBatch } from './data/batch.ts';
export { gridOfGaussians, ringOfGaussians, rotate, twoMoons, type Toy2d } from './data/toy2d.ts';
export { applyTransforms, PRINT_TRANSFORMS, sampleTransforms, type TransformDistribution, type TransformParams } from './data/transforms.ts';

export { ATTACKS, attackDescriptor, checkAccess, checkAttackRequest, getAttack, type Attack, type AttackAccess, type AttackDescriptor, type AttackOptions, type BlackBoxModel, type BudgetKind } from './attacks/index.ts';
export { isRemoteModel, RemoteModel, REMOTE_PROTOCOLS, type RemoteOptions, type RemoteOutputs, type RemoteProtocol } from './models/remote.ts';
export { lossGradient, summarize, type AttackGoal, type AttackResult } from './attacks/types.ts';
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
export { ADAPTATION_METHODS, ALIGNMENT_STRATEGIES, buildDannNetworks, dannFeatures, mlpFeatures, trainDann, type AdaptationMethod, type AlignmentStrategy, type DannNetworks, type DannOptions } from './da/dann.ts';
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

export { accuracy } from './eval/accuracy.ts';
export { evaluateRobustness, modelChecks, recheck, sanityWarnings, SUITES, type AttackBreakdown, type RobustnessOptions, type RobustnessProgress, type RobustnessReport, type SuiteName } from './eval/robustness.ts';
export { transferMatrix } from './eval/transfer.ts';
export { pca2, tsne2, type TsneOptions } from './eval/embedding.ts';
export { decisionGrid, type DecisionGrid, type DecisionGridOptions } from './eval/decision-grid.ts';
export { lineChartSvg, type Series } from './report/plot.ts';
export { decisionBoundarySvg, scatterSvg, type BoundaryOptions, type GridLike, type ScatterGroup, type ScatterOptions } from './report/scatter.ts';
export { renderReport, type Block } from './report/html.ts';

export * from './text/index.ts';
export * from './gan/index.ts';
