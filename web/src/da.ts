/**
 * The domain adaptation view: the DANN paper's toy. Labelled source moons, the same moons rotated
 * as the unlabelled target; train source-only or DANN (λ: the gradient reversal layer's largest
 * weight) and watch, epoch by epoch, the decision boundary and the PCA of source vs target
 * features. Training awaits a frame after every epoch, so the page stays responsive.
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  buildDannNetworks,
  decisionBoundarySvg,
  decisionGrid,
  describeNetworks,
  MOONS_RECIPE,
  pca2,
  rotatedMoons,
  scatterSvg,
  trainDann,
  Classifier,
  type DannNetworks,
  type ImageDataset,
  type ScatterGroup,
} from '../../src/index.ts';
import { LAB_BACKENDS, startBackend, type LabBackend } from './backend.ts';
import { clearError, errorMessage, h, metricList, nextFrame, showError } from './ui.ts';

const POINTS = 400;
const GRID_STEPS = 60;
/** The recipe of test/da/dann.test.ts and results:da (DANN beats source-only on the rotated moons); the epochs come from the form. */
const { epochs: DEFAULT_EPOCHS, seed: DEFAULT_SEED, ...RECIPE } = MOONS_RECIPE;
const CLASS_COLORS = ['#1f77b4', '#d62728'];

type Method = 'source-only' | 'dann';

/** Source moons, and target moons (other points) rotated by `degrees` about (0.5, 0.25). */
function moons(degrees: number): { source: ImageDataset; target: ImageDataset; both: Float32Array; bounds: [number, number, number, number] } {
  const { source, target } = rotatedMoons(degrees, POINTS);
  const both = new Float32Array(4 * POINTS);
  both.set(source.images, 0);
  both.set(target.images, 2 * POINTS);
  let [x0, x1, y0, y1] = [Infinity, -Infinity, Infinity, -Infinity];
  for (let i = 0; i < both.length; i += 2) {
    [x0, x1] = [Math.min(x0, both[i]), Math.max(x1, both[i])];
    [y0, y1] = [Math.min(y0, both[i + 1]), Math.max(y1, both[i + 1])];
  }
  const pad = 0.5;
  return { source, target, both, bounds: [x0 - pad, x1 + pad, y0 - pad, y1 + pad] };
}

/**
 * Groups of the n = 2·POINTS points (source first), coloured by class with the domain as the
 * marker (● source, ✕ target), as the adapt report draws them: whether the classes of the two
 * domains line up is what adaptation is judged by. The target's labels are never trained on;
 * they only colour its points.
 */
function groups(source: ImageDataset, target: ImageDataset): ScatterGroup[] {
  const byClass = (d: ImageDataset, c: number, offset: number) => Array.from(d.labels.keys()).filter((i) => d.labels[i] === c).map((i) => i + offset);
  return [
    { label: 'source, upper', color: CLASS_COLORS[0], indices: byClass(source, 0, 0) },
    { label: 'source, lower', color: CLASS_COLORS[1], indices: byClass(source, 1, 0) },
    { label: 'target, upper (label unseen)', color: CLASS_COLORS[0], indices: byClass(target, 0, POINTS), marker: 'cross' },
    { label: 'target, lower (label unseen)', color: CLASS_COLORS[1], indices: byClass(target, 1, POINTS), marker: 'cross' },
  ];
}

/** Each SVG's clip path gets its own id: two pictures on one page must not share one (nor one in a hidden page). */
function unique(svg: string, id: string): string {
  return svg.replaceAll('plot-area', `plot-area-${id}`);
}

const pct = (v: number) => (Number.isFinite(v) ? `${(100 * v).toFixed(1)}%` : '—');

export async function mountDa(root: HTMLElement, setBackendStatus: (s: string) => void): Promise<void> {
  const params = new URLSearchParams(location.search);
  const requested = (LAB_BACKENDS as readonly string[]).includes(params.get('backend') ?? '') ? (params.get('backend') as LabBackend) : 'wasm';

  const lbl = (forId: string, text: string) => h('label', { for: forId }, text);
  const angle = h('input', { id: 'da-angle', type: 'range', min: 0, max: 90, step: 5, value: 35 });
  const angleValue = h('output', { id: 'da-angle-value', for: 'da-angle' }, '35°');
  const method = h('select', { id: 'da-method' }, h('option', { value: 'source-only' }, 'source only (no adaptation)'), h('option', { value: 'dann' }, 'DANN (gradient reversal)'));
  method.value = params.get('method') === 'source-only' ? 'source-only' : 'dann';
  const lambda = h('input', { id: 'da-lambda', type: 'range', min: 0, max: 2, step: 0.1, value: 1 });
  const lambdaValue = h('output', { id: 'da-lambda-value', for: 'da-lambda' }, '1.0');
  const epochs = h('input', { id: 'da-epochs', type: 'number', min: 1, max: 200, value: DEFAULT_EPOCHS });
  const seed = h('input', { id: 'da-seed', type: 'number', min: 0, max: 100000, value: DEFAULT_SEED });
  const trainBtn = h('button', { type: 'button', id: 'da-train', class: 'primary', disabled: true }, 'Train');
  const stopBtn = h('button', { type: 'button', id: 'da-stop', disabled: true }, 'Stop');
  const resetBtn = h('button', { type: 'button', id: 'da-reset', disabled: true }, 'Reset');
  const progress = h('p', { id: 'da-progress', class: 'hint', 'aria-live': 'polite' }, '');
  const sourceAcc = h('span', { id: 'da-source-acc' }, '—');
  const targetAcc = h('span', { id: 'da-target-acc' }, '—');
  const domainAcc = h('span', { id: 'da-domain-acc' }, '—');
  const metrics = metricList({ id: 'da-metrics' }, [
    ['source accuracy', sourceAcc],
    ['target accuracy', targetAcc],
    ['domain head accuracy', domainAcc],
  ]);
  const boundary = h('figure', { id: 'da-boundary', class: 'da-figure', 'aria-label': 'decision boundary over the input plane' });
  const embedding = h('figure', { id: 'da-features', class: 'da-figure', 'aria-label': 'PCA of source and target features' });

  root.append(
    h('h1', { id: 'da-title' }, 'Domain adaptation: rotated two moons'),
    h(
      'div',
      { class: 'row' },
      h(
        'div',
        { class: 'card controls da-controls' },
        h('h2', { class: 'full' }, 'Problem and training'),
        lbl('da-angle', 'Target rotation'),
        h('span', {}, angle, ' ', angleValue),
        lbl('da-method', 'Method'),
        method,
        lbl('da-lambda', 'λ (GRL, max)'),
        h('span', {}, lambda, ' ', lambdaValue),
        lbl('da-epochs', 'Epochs'),
        epochs,
        lbl('da-seed', 'Seed'),
        seed,
        h('div', { class: 'full' }, trainBtn, ' ', stopBtn, ' ', resetBtn),
        h('p', { class: 'full hint' }, `${POINTS} labelled source points, ${POINTS} unlabelled target points; ${describeNetworks(MOONS_RECIPE)}; SGD momentum 0.9, lr ${RECIPE.learningRate} annealed, batch ${RECIPE.batchSize}, λ ramped up to its max.`),
      ),
      h('div', { class: 'card da-accuracy' }, h('h2', {}, 'Accuracy'), metrics, progress),
    ),
    h('div', { class: 'charts da-charts' }, boundary, embedding),
  );

  // ---- state
  let data = moons(Number(angle.value));
  let nets: DannNetworks | null = null;
  /** Bumped by every action: a training run stops at its next step once the token moved on. */
  let token = 0;
  /** Actions (reset, train) run one after another, so one never disposes networks another draws. */
  let queue: Promise<void> = Promise.resolve();
  const enqueue = (action: (my: number) => Promise<void>) => {
    const my = ++token;
    queue = queue.then(() => (my === token ? action(my) : undefined)).catch((e) => showError(errorMessage(e)));
  };

  const setStatus = () => {
    const tensors = tf.memory().numTensors;
    document.body.dataset.tensors = String(tensors);
    setBackendStatus(`backend: ${tf.getBackend()} · tensors: ${tensors}`);
  };

  const classifierOf = (n: DannNetworks) =>
    new Classifier((x) => n.model.apply(x) as tf.Tensor, { inputShape: [1, 1, 2], numClasses: 2, bounds: [-10, 10], classNames: ['upper', 'lower'] });

  async function accuracyOn(n: DannNetworks, ds: ImageDataset): Promise<number> {
    const pred = tf.tidy(() => tf.argMax(n.model.predict(tf.tensor4d(ds.images, [ds.count, 1, 1, 2])) as tf.Tensor, 1));
    const p = await pred.data();
    pred.dispose();
    let right = 0;
    for (let i = 0; i < ds.count; i++) if (p[i] === ds.labels[i]) right++;
    return right / ds.count;
  }

  /** Redraws both pictures and the accuracies for the networks as they are now. */
  async function show(n: DannNetworks, epoch: number, domainAccuracy: number): Promise<void> {
    const [src, tgt] = [await accuracyOn(n, data.source), await accuracyOn(n, data.target)];
    const grid = await decisionGrid(classifierOf(n), data.bounds, GRID_STEPS);
    const f = tf.tidy(() => n.features.predict(tf.tensor4d(data.both, [2 * POINTS, 1, 1, 2])) as tf.Tensor2D);
    const [count, dim] = f.shape;
    const feats = (await f.data()) as Float32Array;
    f.dispose();
    const g = groups(data.source, data.target);
    const label = method.value === 'dann' ? 'DANN' : 'source only';
    const when = epoch === 0 ? 'untrained' : `epoch ${epoch}`;
    boundary.innerHTML = unique(
      decisionBoundarySvg(grid, data.both, g, { title: `${label}, ${when}: target accuracy ${pct(tgt)}`, classNames: ['upper', 'lower'], width: 560, height: 420 }),
      'da-boundary',
    );
    let embeddingSvg: string;
    try {
      embeddingSvg = scatterSvg(pca2(feats, count, dim), g, { title: `PCA of the features, ${when}`, xLabel: 'PC 1', yLabel: 'PC 2', width: 560, height: 420 });
    } catch (e) {
      // Dead ReLUs can make every feature zero: say so instead of failing the run.
      embeddingSvg = scatterSvg(new Float32Array(2 * count), g, { title: `features degenerate (${errorMessage(e)})`, width: 560, height: 420 });
    }
    embedding.innerHTML = unique(embeddingSvg, 'da-features');
    sourceAcc.textContent = pct(src);
    targetAcc.textContent = pct(tgt);
    domainAcc.textContent = method.value === 'dann' && epoch > 0 ? `${pct(domainAccuracy)} (chance 50%)` : '—';
    Object.assign(root.dataset, { epoch: String(epoch), sourceAcc: src.toFixed(4), targetAcc: tgt.toFixed(4), domainAcc: Number.isFinite(domainAccuracy) ? domainAccuracy.toFixed(4) : '' });
    setStatus();
  }

  const build = () => buildDannNetworks([1, 1, 2], 2, { method: method.value as Method, seed: Number(seed.value), ...RECIPE });

  function setControls(training: boolean): void {
    for (const c of [angle, method, epochs, seed, lambda]) c.disabled = training;
    lambda.disabled = training || method.value !== 'dann';
    trainBtn.disabled = training;
    stopBtn.disabled = !training;
    resetBtn.disabled = false;
  }

  /** Fresh, untrained networks for the current settings, drawn as epoch 0. */
  async function reset(): Promise<void> {
    clearError();
    nets?.dispose();
    nets = build();
    root.dataset.state = 'idle';
    progress.textContent = 'untrained: press Train';
    setControls(false);
    await show(nets, 0, NaN);
  }

  async function train(my: number): Promise<void> {
    clearError();
    const total = Number(epochs.value);
    const m = method.value as Method;
    if (!(Number.isInteger(total) && total >= 1 && total <= 200)) {
      showError('epochs must be an integer from 1 to 200');
      return;
    }
    nets?.dispose();
    nets = build();
    const n = nets;
    root.dataset.state = 'running';
    setControls(true);
    progress.textContent = 'training…';
    await nextFrame();
    try {
      await trainDann(data.source, data.target, {
        method: m,
        epochs: total,
        ...RECIPE,
        seed: Number(seed.value),
        lambda: Number(lambda.value),
        networks: n,
        onEpoch: async (info) => {
          if (my !== token) return;
          progress.textContent = `epoch ${info.epoch}/${total} · label loss ${info.labelLoss.toFixed(3)} · λ ${info.lambda.toFixed(2)} · lr ${info.learningRate.toFixed(3)}`;
          await show(n, info.epoch, info.domainAccuracy);
          await nextFrame();
        },
        shouldStop: () => my !== token,
      });
      root.dataset.state = my === token ? 'done' : 'stopped';
      if (my !== token) progress.textContent += ' — stopped';
    } catch (e) {
      root.dataset.state = 'error';
      showError(`training failed: ${errorMessage(e)}`);
    } finally {
      setControls(false);
      setStatus();
    }
  }

  angle.addEventListener('input', () => (angleValue.textContent = `${angle.value}°`));
  angle.addEventListener('change', () => {
    data = moons(Number(angle.value));
    enqueue(reset);
  });
  lambda.addEventListener('input', () => (lambdaValue.textContent = Number(lambda.value).toFixed(1)));
  method.addEventListener('change', () => enqueue(reset));
  seed.addEventListener('change', () => enqueue(reset));
  trainBtn.addEventListener('click', () => enqueue(train));
  stopBtn.addEventListener('click', () => {
    token++;
  });
  resetBtn.addEventListener('click', () => enqueue(reset));

  // ---- start
  try {
    const started = await startBackend(requested);
    if (started.note) showError(`backend ${requested} did not start, using ${started.name}: ${started.note}`);
  } catch (e) {
    showError(errorMessage(e));
    return;
  }
  enqueue(reset);
  await queue;
  root.dataset.ready = 'true';
}
