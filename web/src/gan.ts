/**
 * The GAN playground, in the spirit of GAN Lab: a 2-D data distribution (a ring of 8 Gaussians,
 * a 5×5 grid, or points the user draws on the plane), the generator's samples and its manifold
 * (a grid of latent points z ∈ [−2.5, 2.5]² pushed through G, drawn as a warped mesh), the
 * discriminator's D(x) = σ(logit) as a heat map over the plane, and the two losses per step.
 * Training runs one generator step at a time through src/gan's stepper (the same losses and
 * networks as trainGan); play / pause / step / reset, the loss and both learning rates can be
 * changed at any time. Every frame's tensors are freed: the tensor count stays flat.
 */
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '../../src/core/rng.ts';
import { toyMixture, type GanLoss } from '../../src/gan/index.ts';
import { createGanStepper, type GanStepper } from '../../src/gan/step.ts';
import { LAB_BACKENDS, startBackend, type LabBackend } from './backend.ts';
import { clearError, errorMessage, h, metricList, nextFrame, showError } from './ui.ts';

type DataName = 'ring' | 'grid' | 'drawn';
type Bounds = [number, number, number, number];

const PLANE = 480;
const HEAT = 48;
const SHOWN = 300;
const MESH = 15;
const MESH_RANGE = 2.5;
const LATENT = 2;
const HIDDEN = [64, 64];
const DRAWN_STD = 0.08;
/** The mixtures' σ here: wider than the benchmark's 0.02 so the modes are visible and learnt in a few hundred steps. */
const TOY_STD = 0.1;
const LOSSES: Array<[GanLoss, string]> = [
  ['ns', 'non-saturating (−log D(G(z)))'],
  ['minimax', 'minimax (log(1 − D(G(z))))'],
  ['hinge', 'hinge'],
];
const REAL = '#1b7a3a';
const FAKE = '#7b3fa0';
const BOUNDS: Record<DataName, Bounds> = { ring: [-3, 3, -3, 3], grid: [-5.5, 5.5, -5.5, 5.5], drawn: [-3, 3, -3, 3] };

/** Light purple (D → 0, "fake") – white – light green (D → 1, "real"). */
function heatColor(p: number): [number, number, number] {
  const t = Math.max(-1, Math.min(1, 2 * p - 1));
  const end = t < 0 ? [186, 150, 214] : [140, 200, 150];
  const a = Math.abs(t);
  return [0, 1, 2].map((k) => Math.round(255 + (end[k] - 255) * a)) as [number, number, number];
}

export async function mountGan(root: HTMLElement, setBackendStatus: (s: string) => void): Promise<void> {
  const params = new URLSearchParams(location.search);
  const requested = (LAB_BACKENDS as readonly string[]).includes(params.get('backend') ?? '') ? (params.get('backend') as LabBackend) : 'wasm';

  const lbl = (forId: string, text: string) => h('label', { for: forId }, text);
  const dataSel = h('select', { id: 'gan-data' }, h('option', { value: 'ring' }, 'ring of 8 Gaussians'), h('option', { value: 'grid' }, 'grid of 25 Gaussians'), h('option', { value: 'drawn' }, 'your points (draw on the plane)'));
  const lossSel = h('select', { id: 'gan-loss' });
  for (const [v, text] of LOSSES) lossSel.append(h('option', { value: v }, text));
  const lrG = h('input', { id: 'gan-lr-g', type: 'number', min: 0.00001, max: 0.1, step: 0.0005, value: 0.003 });
  const lrD = h('input', { id: 'gan-lr-d', type: 'number', min: 0.00001, max: 0.1, step: 0.0005, value: 0.003 });
  const playBtn = h('button', { type: 'button', id: 'gan-play', class: 'primary', disabled: true }, 'Play');
  const pauseBtn = h('button', { type: 'button', id: 'gan-pause', disabled: true }, 'Pause');
  const stepBtn = h('button', { type: 'button', id: 'gan-step-once', disabled: true }, 'Step');
  const resetBtn = h('button', { type: 'button', id: 'gan-reset', disabled: true }, 'Reset');
  const clearBtn = h('button', { type: 'button', id: 'gan-clear-points', hidden: true }, 'Clear points');
  const stepOut = h('output', { id: 'gan-step', 'aria-live': 'off' }, '0');
  const dLossOut = h('output', { id: 'gan-d-loss' }, '—');
  const gLossOut = h('output', { id: 'gan-g-loss' }, '—');
  const hint = h('p', { id: 'gan-hint', class: 'full hint', 'aria-live': 'polite' }, '');
  const plane = h('canvas', {
    id: 'gan-plane',
    width: PLANE,
    height: PLANE,
    tabindex: 0,
    'aria-label': 'the data plane: discriminator heat map, real points (green), generated points (purple) and the generator manifold. With your points chosen, click or drag to add points, or move the cross with the arrow keys and press Enter.',
  });
  const lossCanvas = h('canvas', { id: 'gan-loss-canvas', width: 480, height: 220, 'aria-label': 'discriminator and generator loss per step' });
  const lossFigure = h(
    'figure',
    { id: 'gan-loss-curve', class: 'gan-figure', 'data-points': 0 },
    lossCanvas,
    h('figcaption', { class: 'legend' }, h('i', { style: `background:${REAL}` }), 'discriminator loss', h('i', { style: `background:${FAKE}` }), 'generator loss'),
  );
  const planeFigure = h(
    'figure',
    { id: 'gan-plane-figure', class: 'gan-figure' },
    plane,
    h(
      'figcaption',
      { class: 'legend' },
      h('i', { style: `background:${REAL}` }),
      'real data',
      h('i', { style: `background:${FAKE}` }),
      'generated G(z)',
      h('i', { style: 'background:rgba(123,63,160,0.35)' }),
      'manifold G(grid of z)',
      h('i', { style: 'background:linear-gradient(90deg,#ba96d6,#fff,#8cc896)' }),
      'D(x): fake → real',
    ),
  );

  root.append(
    h('h1', { id: 'gan-title' }, 'GAN playground'),
    h(
      'div',
      { class: 'row' },
      h('div', { class: 'gan-main' }, planeFigure),
      h(
        'div',
        { class: 'gan-side' },
        h(
          'div',
          { class: 'card controls gan-controls' },
          h('h2', { class: 'full' }, 'Data and training'),
          lbl('gan-data', 'Data'),
          dataSel,
          lbl('gan-loss', 'Loss'),
          lossSel,
          lbl('gan-lr-g', 'Learning rate G'),
          lrG,
          lbl('gan-lr-d', 'Learning rate D'),
          lrD,
          h('div', { class: 'full gan-buttons' }, playBtn, ' ', pauseBtn, ' ', stepBtn, ' ', resetBtn, ' ', clearBtn),
          metricList({ class: 'full' }, [
            ['step', stepOut],
            ['discriminator loss', dLossOut],
            ['generator loss', gLossOut],
          ]),
          hint,
          h('p', { class: 'full hint' }, `z ∈ ℝ², N(0, I); G: 2 → ${HIDDEN.join(' → ')} → 2 (ReLU), D: 2 → ${HIDDEN.join(' → ')} → 1 (leaky ReLU); Adam β = (0.5, 0.9), batch 128.`),
        ),
        lossFigure,
      ),
    ),
  );

  // ---- state
  let dataName: DataName = 'ring';
  let bounds = BOUNDS.ring;
  const drawn: Array<[number, number]> = [];
  let shownReal: Float32Array = new Float32Array(0);
  let stepper: GanStepper | null = null;
  let history = { d: [] as number[], g: [] as number[] };
  let playing = false;
  /** Actions run one after another, so none disposes networks another is using. */
  let queue: Promise<void> = Promise.resolve();
  const enqueue = (action: () => Promise<void>) => {
    queue = queue.then(action).catch((e) => {
      playing = false;
      setControls();
      showError(errorMessage(e));
    });
    return queue;
  };
  const seed = Number(params.get('seed') ?? 1) | 0;
  const latentRng = new Rng(seed + 101);
  const fixedZ = Float32Array.from({ length: SHOWN * LATENT }, () => latentRng.normal());
  const meshZ = new Float32Array(MESH * MESH * LATENT);
  for (let i = 0; i < MESH; i++) {
    for (let j = 0; j < MESH; j++) {
      meshZ[2 * (i * MESH + j)] = -MESH_RANGE + (2 * MESH_RANGE * j) / (MESH - 1);
      meshZ[2 * (i * MESH + j) + 1] = -MESH_RANGE + (2 * MESH_RANGE * i) / (MESH - 1);
    }
  }
  const heatX = new Float32Array(HEAT * HEAT * 2);
  const heatCanvas = h('canvas', { width: HEAT, height: HEAT });
  let cursor: [number, number] | null = null;

  const setStatus = () => {
    const tensors = tf.memory().numTensors;
    document.body.dataset.tensors = String(tensors);
    root.dataset.tensors = String(tensors);
    setBackendStatus(`backend: ${tf.getBackend()} · tensors: ${tensors}`);
  };

  const toPx = (x: number, y: number): [number, number] => [((x - bounds[0]) / (bounds[1] - bounds[0])) * PLANE, PLANE - ((y - bounds[2]) / (bounds[3] - bounds[2])) * PLANE];
  const toData = (px: number, py: number): [number, number] => [bounds[0] + (px / PLANE) * (bounds[1] - bounds[0]), bounds[2] + ((PLANE - py) / PLANE) * (bounds[3] - bounds[2])];

  function realSampler(): (n: number, rng: Rng) => Float32Array {
    if (dataName !== 'drawn') {
      const mixture = toyMixture(dataName, TOY_STD);
      return (n, rng) => mixture.sample(n, rng);
    }
    return (n, rng) => {
      const out = new Float32Array(2 * n);
      for (let i = 0; i < n; i++) {
        const p = drawn[rng.int(drawn.length)];
        out[2 * i] = p[0] + DRAWN_STD * rng.normal();
        out[2 * i + 1] = p[1] + DRAWN_STD * rng.normal();
      }
      return out;
    };
  }

  function refreshShownReal(): void {
    if (dataName === 'drawn') shownReal = Float32Array.from(drawn.flat());
    else shownReal = toyMixture(dataName, TOY_STD).sample(SHOWN, new Rng(seed + 7));
    for (let i = 0; i < HEAT; i++) {
      for (let j = 0; j < HEAT; j++) {
        const [x, y] = toData(((j + 0.5) / HEAT) * PLANE, ((i + 0.5) / HEAT) * PLANE);
        heatX[2 * (i * HEAT + j)] = x;
        heatX[2 * (i * HEAT + j) + 1] = y;
      }
    }
  }

  const canTrain = () => stepper !== null && (dataName !== 'drawn' || drawn.length > 0);

  function setControls(): void {
    const ok = canTrain();
    playBtn.disabled = playing || !ok;
    pauseBtn.disabled = !playing;
    stepBtn.disabled = playing || !ok;
    resetBtn.disabled = false;
    clearBtn.hidden = dataName !== 'drawn';
    clearBtn.disabled = drawn.length === 0;
    root.dataset.state = playing ? 'playing' : 'paused';
    hint.textContent =
      dataName === 'drawn'
        ? drawn.length
          ? `${drawn.length} points drawn: click or drag on the plane to add more.`
          : 'Click or drag on the plane to add points (or focus it, move with the arrow keys, press Enter); then press Play or Step.'
        : 'Play trains continuously; Step takes one generator step.';
  }

  function drawLosses(): void {
    const ctx = lossCanvas.getContext('2d')!;
    const [W, H] = [lossCanvas.width, lossCanvas.height];
    const m = { left: 48, right: 10, top: 10, bottom: 26 };
    ctx.fillStyle = '#fff';
    ctx.fillRect(0, 0, W, H);
    const n = history.d.length;
    lossFigure.dataset.points = String(n);
    if (n === 0) {
      ctx.fillStyle = '#5b6570';
      ctx.font = '13px system-ui, sans-serif';
      ctx.fillText('no steps yet', m.left + 8, H / 2);
      return;
    }
    const all = [...history.d, ...history.g];
    let [lo, hi] = [Math.min(...all), Math.max(...all)];
    if (hi - lo < 1e-6) [lo, hi] = [lo - 0.5, hi + 0.5];
    const px = (i: number) => m.left + (n === 1 ? 0 : (i / (n - 1)) * (W - m.left - m.right));
    const py = (v: number) => H - m.bottom - ((v - lo) / (hi - lo)) * (H - m.top - m.bottom);
    ctx.strokeStyle = '#d8dde2';
    ctx.strokeRect(m.left, m.top, W - m.left - m.right, H - m.top - m.bottom);
    ctx.fillStyle = '#5b6570';
    ctx.font = '11px system-ui, sans-serif';
    ctx.textAlign = 'right';
    for (const v of [lo, (lo + hi) / 2, hi]) ctx.fillText(v.toFixed(2), m.left - 4, py(v) + 4);
    ctx.textAlign = 'center';
    ctx.fillText('step 1', m.left + 14, H - 8);
    ctx.fillText(`step ${n}`, W - m.right - 24, H - 8);
    // At most ~W points a line: every k-th step.
    const stride = Math.max(1, Math.ceil(n / (W - m.left - m.right)));
    for (const [series, color] of [[history.d, REAL], [history.g, FAKE]] as const) {
      ctx.strokeStyle = color;
      ctx.lineWidth = 1.5;
      ctx.beginPath();
      for (let i = 0; i < n; i += stride) (i === 0 ? ctx.moveTo : ctx.lineTo).call(ctx, px(i), py(series[i]));
      ctx.lineTo(px(n - 1), py(series[n - 1]));
      ctx.stroke();
    }
  }

  /** Redraws the plane: heat map, manifold, real and generated points. */
  async function render(): Promise<void> {
    const ctx = plane.getContext('2d')!;
    ctx.fillStyle = '#fff';
    ctx.fillRect(0, 0, PLANE, PLANE);
    let fake: Float32Array | null = null;
    let mesh: Float32Array | null = null;
    if (stepper) {
      const s = stepper;
      const [heatT, fakeT, meshT] = tf.tidy(() => [
        tf.sigmoid(s.discriminator.apply(tf.tensor2d(heatX, [HEAT * HEAT, 2]))),
        s.generator.apply(tf.tensor2d(fixedZ, [SHOWN, LATENT])),
        s.generator.apply(tf.tensor2d(meshZ, [MESH * MESH, LATENT])),
      ]);
      try {
        const [heat, f, me] = await Promise.all([heatT.data(), fakeT.data(), meshT.data()]);
        fake = f as Float32Array;
        mesh = me as Float32Array;
        const hctx = heatCanvas.getContext('2d')!;
        const img = hctx.createImageData(HEAT, HEAT);
        for (let i = 0; i < HEAT * HEAT; i++) img.data.set([...heatColor(heat[i]), 255], 4 * i);
        hctx.putImageData(img, 0, 0);
        ctx.imageSmoothingEnabled = true;
        ctx.drawImage(heatCanvas, 0, 0, PLANE, PLANE);
      } finally {
        tf.dispose([heatT, fakeT, meshT]);
      }
    }
    // axes through the origin
    ctx.strokeStyle = 'rgba(0,0,0,0.15)';
    ctx.lineWidth = 1;
    const [ox, oy] = toPx(0, 0);
    ctx.beginPath();
    ctx.moveTo(0, oy);
    ctx.lineTo(PLANE, oy);
    ctx.moveTo(ox, 0);
    ctx.lineTo(ox, PLANE);
    ctx.stroke();
    if (mesh) {
      ctx.strokeStyle = 'rgba(123,63,160,0.35)';
      ctx.beginPath();
      for (let i = 0; i < MESH; i++) {
        for (let j = 0; j < MESH; j++) {
          const [ax, ay] = toPx(mesh[2 * (i * MESH + j)], mesh[2 * (i * MESH + j) + 1]);
          if (j + 1 < MESH) {
            const [bx, by] = toPx(mesh[2 * (i * MESH + j + 1)], mesh[2 * (i * MESH + j + 1) + 1]);
            ctx.moveTo(ax, ay);
            ctx.lineTo(bx, by);
          }
          if (i + 1 < MESH) {
            const [bx, by] = toPx(mesh[2 * ((i + 1) * MESH + j)], mesh[2 * ((i + 1) * MESH + j) + 1]);
            ctx.moveTo(ax, ay);
            ctx.lineTo(bx, by);
          }
        }
      }
      ctx.stroke();
    }
    const dots = (points: Float32Array, color: string, r: number) => {
      ctx.fillStyle = color;
      for (let i = 0; i + 1 < points.length; i += 2) {
        const [x, y] = toPx(points[i], points[i + 1]);
        ctx.beginPath();
        ctx.arc(x, y, r, 0, 2 * Math.PI);
        ctx.fill();
      }
    };
    dots(shownReal, REAL, dataName === 'drawn' ? 3.5 : 2.5);
    if (fake) dots(fake, FAKE, 2.5);
    if (cursor && dataName === 'drawn') {
      const [cx, cy] = toPx(...cursor);
      ctx.strokeStyle = '#1d232a';
      ctx.beginPath();
      ctx.moveTo(cx - 8, cy);
      ctx.lineTo(cx + 8, cy);
      ctx.moveTo(cx, cy - 8);
      ctx.lineTo(cx, cy + 8);
      ctx.stroke();
    }
    const n = stepper?.steps ?? 0;
    stepOut.textContent = String(n);
    root.dataset.step = String(n);
    root.dataset.realPoints = String(shownReal.length / 2);
    const [d, g] = [history.d.at(-1), history.g.at(-1)];
    dLossOut.textContent = d === undefined ? '—' : d.toFixed(4);
    gLossOut.textContent = g === undefined ? '—' : g.toFixed(4);
    if (d !== undefined && g !== undefined) Object.assign(root.dataset, { dLoss: String(d), gLoss: String(g) });
    else for (const k of ['dLoss', 'gLoss']) delete root.dataset[k];
    drawLosses();
    setStatus();
  }

  function learningRates(): [number, number] {
    const [g, d] = [Number(lrG.value), Number(lrD.value)];
    for (const [name, v] of [['G', g], ['D', d]] as const) {
      if (!(Number.isFinite(v) && v > 0 && v <= 1)) throw new Error(`the learning rate of ${name} must be a number in (0, 1], got "${name === 'G' ? lrG.value : lrD.value}"`);
    }
    return [g, d];
  }

  /** Fresh networks for the chosen data, drawn as step 0. */
  async function reset(): Promise<void> {
    playing = false;
    // Checked first: a bad input leaves the current networks and data as they are.
    const [g, d] = learningRates();
    clearError();
    stepper?.dispose();
    stepper = null;
    history = { d: [], g: [] };
    dataName = dataSel.value as DataName;
    cursor = null;
    bounds = BOUNDS[dataName];
    root.dataset.data = dataName;
    refreshShownReal();
    stepper = createGanStepper(realSampler(), {
      loss: lossSel.value as GanLoss,
      seed,
      latentDim: LATENT,
      generatorHidden: HIDDEN,
      discriminatorHidden: HIDDEN,
      learningRate: g,
      discriminatorLearningRate: d,
    });
    setControls();
    await render();
  }

  async function trainSteps(n: number): Promise<void> {
    if (!stepper || !canTrain()) return;
    const r = await stepper.run(n);
    history.d.push(...r.dLoss);
    history.g.push(...r.gLoss);
  }

  async function play(): Promise<void> {
    if (!canTrain()) return;
    clearError();
    playing = true;
    setControls();
    // Steps per frame adapt so that a frame's training takes about 40 ms.
    let perFrame = 2;
    try {
      while (playing && canTrain()) {
        const t0 = performance.now();
        await trainSteps(perFrame);
        const ms = (performance.now() - t0) / perFrame;
        perFrame = Math.max(1, Math.min(20, Math.round(40 / Math.max(ms, 1))));
        await render();
        await nextFrame();
      }
    } finally {
      playing = false;
      setControls();
    }
  }

  // ---- events
  playBtn.addEventListener('click', () => {
    if (playing) return;
    void enqueue(play);
  });
  pauseBtn.addEventListener('click', () => {
    playing = false;
    setControls();
  });
  stepBtn.addEventListener('click', () =>
    void enqueue(async () => {
      clearError();
      await trainSteps(1);
      await render();
    }),
  );
  resetBtn.addEventListener('click', () => {
    playing = false;
    void enqueue(reset);
  });
  dataSel.addEventListener('change', () => {
    playing = false;
    void enqueue(reset);
  });
  lossSel.addEventListener('change', () => {
    // The loss switches between steps; the networks and the Adam moments carry on.
    if (stepper) stepper.loss = lossSel.value as GanLoss;
    root.dataset.loss = lossSel.value;
  });
  for (const input of [lrG, lrD]) {
    input.addEventListener('change', () => {
      try {
        const [g, d] = learningRates();
        clearError();
        // A reset that failed on a bad rate (or a data change it blocked) happens now.
        if (!stepper || dataSel.value !== dataName) void enqueue(reset);
        else stepper.setLearningRates(g, d);
      } catch (e) {
        showError(errorMessage(e));
      }
    });
  }
  clearBtn.addEventListener('click', () => {
    drawn.length = 0;
    refreshShownReal();
    if (!canTrain()) playing = false;
    setControls();
    void enqueue(render);
  });

  const addPoint = (p: [number, number]) => {
    drawn.push([Math.round(p[0] * 1000) / 1000, Math.round(p[1] * 1000) / 1000]);
    refreshShownReal();
    setControls();
  };
  let drawingPointer: number | null = null;
  let lastAdded: [number, number] | null = null;
  let renderPending = false;
  const renderSoon = () => {
    if (renderPending) return;
    renderPending = true;
    void enqueue(async () => {
      renderPending = false;
      if (!playing) await render();
    });
  };
  const eventPoint = (e: PointerEvent): [number, number] => {
    const r = plane.getBoundingClientRect();
    return toData(((e.clientX - r.left) / r.width) * PLANE, ((e.clientY - r.top) / r.height) * PLANE);
  };
  plane.addEventListener('pointerdown', (e) => {
    if (dataName !== 'drawn' || e.button !== 0) return;
    drawingPointer = e.pointerId;
    plane.setPointerCapture(e.pointerId);
    lastAdded = eventPoint(e);
    addPoint(lastAdded);
    renderSoon();
  });
  plane.addEventListener('pointermove', (e) => {
    if (drawingPointer !== e.pointerId || !lastAdded) return;
    const p = eventPoint(e);
    // Dragging adds a point every 0.15 units of distance.
    if (Math.hypot(p[0] - lastAdded[0], p[1] - lastAdded[1]) < 0.15) return;
    lastAdded = p;
    addPoint(p);
    renderSoon();
  });
  const endPointer = () => {
    drawingPointer = null;
    lastAdded = null;
  };
  plane.addEventListener('pointerup', endPointer);
  plane.addEventListener('pointercancel', endPointer);
  plane.addEventListener('keydown', (e) => {
    if (dataName !== 'drawn') return;
    const step = (bounds[1] - bounds[0]) / 40;
    const moves: Record<string, [number, number]> = { ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, step], ArrowDown: [0, -step] };
    if (e.key in moves) {
      cursor ??= [0, 0];
      cursor = [Math.max(bounds[0], Math.min(bounds[1], cursor[0] + moves[e.key][0])), Math.max(bounds[2], Math.min(bounds[3], cursor[1] + moves[e.key][1]))];
    } else if (e.key === 'Enter' || e.key === ' ') {
      cursor ??= [0, 0];
      addPoint(cursor);
    } else return;
    e.preventDefault();
    renderSoon();
  });

  // ---- start
  try {
    const started = await startBackend(requested);
    if (started.note) showError(`backend ${requested} did not start, using ${started.name}: ${started.note}`);
  } catch (e) {
    showError(errorMessage(e));
    return;
  }
  root.dataset.loss = lossSel.value;
  await enqueue(reset);
  root.dataset.ready = 'true';
}

/** Pauses a playing playground when its page is hidden (called by the router). */
export function ganVisible(root: HTMLElement, visible: boolean): void {
  if (!visible && root.dataset.state === 'playing') root.querySelector<HTMLButtonElement>('#gan-pause')?.click();
}
