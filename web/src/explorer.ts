/**
 * The attack explorer: choose a model (only image classifiers are offered: models.ts reads that
 * from each model's advx.json), pick one of its dataset's test images (MNIST, Fashion-MNIST or
 * MNIST-M, shipped by scripts/lab-data.ts) or draw one, choose a second model of the same dataset
 * and an attack with its budget, and watch original / amplified perturbation / adversarial image
 * and the class probabilities, named by the model's classes, change as the attack iterates. The
 * transfer card crafts on one model and tests on another of the same dataset (transfer.ts). Below,
 * the user's own model (TF.js or ONNX, any image size) on the user's own folder of images (batch.ts).
 */
import * as tf from '@tensorflow/tfjs-core';
import { EXPLORER_ATTACKS, runAttack, type ExplorerAttack } from './attacks.ts';
import { mountBatch } from './batch.ts';
import { LAB_BACKENDS, startBackend, type LabBackend } from './backend.ts';
import { drawImage, drawPerturbation } from './draw.ts';
import { classLabel, datasetOf, fitsExplorer, isImageClassifier, loadImageFile, loadShipped, loadUploaded, type LabBlackBox, type LabModel, type ModelEntry, type OnnxRuntimeChoice } from './models.ts';
import { samplesFor, type Samples } from './samples.ts';
import { mountTransfer } from './transfer.ts';
import { $, clearError, errorMessage, fetchJson, h, nextFrame, showError } from './ui.ts';

interface Panel {
  root: HTMLElement;
  title: HTMLElement;
  original: HTMLCanvasElement;
  perturbation: HTMLCanvasElement;
  perturbationCaption: HTMLElement;
  adversarial: HTMLCanvasElement;
  verdict: HTMLElement;
  bars: HTMLElement;
  /** The class names the bars show now. */
  classes: string[];
  clean: HTMLElement[];
  adv: HTMLElement[];
  pct: HTMLElement[];
}

const SIZE = 28;

function makePanel(id: string): Panel {
  const bars = h('div', { class: 'bars', role: 'list', 'aria-label': 'class probabilities' });
  const fig = (canvas: HTMLCanvasElement, caption: HTMLElement) => h('figure', {}, canvas, caption);
  const original = h('canvas', { class: 'pixel', width: SIZE, height: SIZE, 'aria-label': 'original image' });
  const perturbation = h('canvas', { class: 'pixel', width: SIZE, height: SIZE, 'aria-label': 'amplified perturbation' });
  const adversarial = h('canvas', { class: 'pixel', width: SIZE, height: SIZE, 'aria-label': 'adversarial image' });
  const perturbationCaption = h('figcaption', {}, 'perturbation');
  const title = h('h2', {}, '');
  const verdict = h('p', { class: 'verdict', 'aria-live': 'polite' }, '');
  const root = h(
    'div',
    { class: 'card panel', id, 'data-state': 'idle' },
    title,
    h('div', { class: 'images' }, fig(original, h('figcaption', {}, 'original')), fig(perturbation, perturbationCaption), fig(adversarial, h('figcaption', {}, 'adversarial'))),
    verdict,
    bars,
    h('p', { class: 'legend' }, h('i', { style: 'background:#8c96a0' }), 'original', h('i', { style: 'background:#d62728' }), 'adversarial'),
  );
  const panel: Panel = { root, title, original, perturbation, perturbationCaption, adversarial, verdict, bars, classes: [], clean: [], adv: [], pct: [] };
  setClasses(panel, Array.from({ length: 10 }, (_, k) => String(k)));
  return panel;
}

/** One bar per class, labelled with the model's class names (T-shirt/top, Trouser, …; digits for MNIST). */
function setClasses(panel: Panel, names: string[]): void {
  if (names.join('\n') === panel.classes.join('\n')) return;
  panel.classes = names;
  panel.clean = [];
  panel.adv = [];
  panel.pct = [];
  panel.bars.replaceChildren();
  panel.bars.classList.toggle('named', names.some((n, k) => n !== String(k)));
  names.forEach((name, k) => {
    const c = h('span', { class: 'clean', style: 'width:0%' });
    const a = h('span', { class: 'adv', style: 'width:0%' });
    const p = h('span', { class: 'num' }, '');
    panel.clean.push(c);
    panel.adv.push(a);
    panel.pct.push(p);
    panel.bars.append(h('span', { role: 'listitem', class: 'class-name', title: `class ${k}: ${name}` }, classLabel(names, k)), h('span', { class: 'track', 'data-class': k, title: name }, c, a), p);
  });
}

function argmax(p: ArrayLike<number>): number {
  let best = 0;
  for (let k = 1; k < p.length; k++) if (p[k] > p[best]) best = k;
  return best;
}

function setBars(panel: Panel, which: 'clean' | 'adv', probs: ArrayLike<number> | null): void {
  const n = panel.classes.length;
  for (let k = 0; k < n; k++) panel[which][k].style.width = `${((probs ? probs[k] : 0) * 100).toFixed(1)}%`;
  // The numbers show the adversarial probabilities once an attack runs, the clean ones before.
  if (probs && (which === 'adv' || panel.root.dataset.state === 'idle')) {
    for (let k = 0; k < n; k++) panel.pct[k].textContent = `${(probs[k] * 100).toFixed(1)}%`;
  }
}

export async function mountExplorer(root: HTMLElement, setBackendStatus: (s: string) => void): Promise<void> {
  const params = new URLSearchParams(location.search);
  const requested = (LAB_BACKENDS as readonly string[]).includes(params.get('backend') ?? '') ? (params.get('backend') as LabBackend) : 'wasm';

  const thumbs = h('div', { class: 'thumbs', role: 'group', 'aria-label': 'test images' });
  const thumbsHint = h('p', { id: 'thumbs-hint', class: 'hint' }, '');
  const imageSource = h('select', { id: 'image-source', 'aria-label': 'which images', hidden: true });
  const draw = h('canvas', { id: 'draw', class: 'pixel', width: SIZE, height: SIZE, tabindex: 0, 'aria-label': '28 by 28 drawing canvas: drag to draw, shift-drag or right button to erase' });
  const imageInfo = h('p', { id: 'image-info', class: 'hint' }, '');
  const clearBtn = h('button', { type: 'button', id: 'clear' }, 'Clear canvas');
  const uploadImage = h('input', { id: 'upload-image', type: 'file', accept: 'image/*' });
  const modelA = h('select', { id: 'model-a' });
  const modelB = h('select', { id: 'model-b' });
  const upload = h('input', { id: 'upload', type: 'file', multiple: true, accept: '.json,.bin,.onnx,application/json,application/octet-stream' });
  const uploadInfo = h('p', { id: 'upload-info', class: 'hint', 'aria-live': 'polite' }, '');
  const uploadRuntime = h(
    'select',
    { id: 'upload-runtime', title: 'what runs an uploaded .onnx file' },
    h('option', { value: 'importer' }, 'advx importer (white-box; ONNX Runtime Web for an op it lacks)'),
    h('option', { value: 'onnxruntime' }, 'ONNX Runtime Web (black box: score- and decision-based attacks)'),
  );
  const attack = h('select', { id: 'attack' });
  for (const [key, def] of Object.entries(EXPLORER_ATTACKS)) attack.append(h('option', { value: key }, def.label));
  attack.value = 'pgd';
  const eps = h('input', { id: 'eps', type: 'range', min: 0, max: 0.5, step: 0.01, value: 0.3 });
  const epsValue = h('output', { id: 'eps-value', for: 'eps' }, '0.30');
  const steps = h('input', { id: 'steps', type: 'number', min: 1, max: 1000, value: 40 });
  const target = h('select', { id: 'target' }, h('option', { value: '' }, 'untargeted'));
  const backend = h('select', { id: 'backend' });
  for (const b of LAB_BACKENDS) backend.append(h('option', { value: b }, b));
  backend.value = requested;
  const runBtn = h('button', { type: 'button', id: 'run', class: 'primary', disabled: true }, 'Run attack');
  const stopBtn = h('button', { type: 'button', id: 'stop', disabled: true }, 'Stop');
  const panels = [makePanel('panel-a'), makePanel('panel-b')];
  // Declared before the state below: its callbacks run only after mounting.
  const transfer = mountTransfer({
    models: () => explorerModels(),
    compatible: (a, b) => compatible(a, b),
    getModel: (id) => getModel(id),
    attack: () => ({ attack: attack.value as ExplorerAttack, eps: Number(eps.value), steps: Number(steps.value), target: target.value === '' ? null : Number(target.value) }),
    current: () => ({ image, shape: imageShape(), label, dataset: source?.dataset ?? null }),
    setStatus: () => void setStatus(),
  });
  const batch = mountBatch({
    getModel: (id) => Promise.resolve(blackBoxes.get(id) ?? getModel(id)),
    isBlackBox: (id) => blackBoxes.has(id),
    setStatus: () => void setStatus(),
    onFolder: ({ data, labels, classNames }) => {
      const size = data.shape[0] * data.shape[1] * data.shape[2];
      userFolder = {
        name: `folder:${data.root}`,
        title: `your folder ${data.root}`,
        file: '',
        count: data.count,
        shape: data.shape,
        classNames: classNames ?? Array.from({ length: Math.max(...labels) + 1 }, (_, k) => String(k)),
        labels,
        images: Array.from({ length: data.count }, (_, i) => data.images.slice(i * size, (i + 1) * size)),
      };
      userFolderLabelled = data.labels !== null;
      void modelAChanged(undefined, true);
    },
  });
  const lbl = (forId: string, text: string) => h('label', { for: forId }, text);

  root.append(
    h('h1', { id: 'explorer-title' }, 'Attack explorer'),
    h(
      'div',
      { class: 'row' },
      h('div', { class: 'card' }, h('h2', {}, 'Image'), imageSource, thumbs, thumbsHint, draw, h('div', {}, clearBtn), h('div', { class: 'upload-image' }, h('label', { for: 'upload-image' }, 'Upload an image '), uploadImage), imageInfo),
      h(
        'div',
        { class: 'card controls' },
        h('h2', { class: 'full' }, 'Attack'),
        lbl('model-a', 'Model'),
        modelA,
        lbl('model-b', 'Side by side'),
        modelB,
        lbl('upload-runtime', 'ONNX runs in'),
        uploadRuntime,
        lbl('upload', 'Upload model'),
        h('span', {}, upload, h('br'), h('span', { class: 'hint' }, 'model.json + weight files (+ advx.json), TF.js Layers or Graph; or NAME.onnx (+ NAME.advx.json). 28×28 grey or RGB classifiers go in the panels, any other image size below.'), uploadInfo),
        lbl('attack', 'Attack'),
        attack,
        lbl('eps', 'ε'),
        h('span', {}, eps, ' ', epsValue),
        lbl('steps', 'Steps'),
        steps,
        lbl('target', 'Goal'),
        target,
        lbl('backend', 'Backend'),
        backend,
        h('div', { class: 'full' }, runBtn, ' ', stopBtn),
      ),
    ),
    h('div', { class: 'panels' }, panels[0].root, panels[1].root),
    transfer.root,
    batch.root,
  );

  // ---- state
  /** The images the thumbnails show: model A's dataset's (null: none shipped for its input shape). */
  let samples: Samples | null = null;
  /** Channels of the image: model A's (1 grey, 3 RGB). */
  let channels = 1;
  let image: Float32Array = new Float32Array(SIZE * SIZE);
  let label: number | null = null; // the dataset's label; null once the user draws
  /** Where the image came from: a shipped dataset's test image, or null (drawn or uploaded). */
  let source: { dataset: string; index: number } | null = null;
  /** The folder of images the folder card last loaded (fitted to its model), offered as images when model A takes their shape. */
  let userFolder: Samples | null = null;
  /** Whether its labels are its class folders (else the card's model's predictions). */
  let userFolderLabelled = false;
  let entries: ModelEntry[] = [];
  const loaded = new Map<string, Promise<LabModel>>();
  const uploaded = new Map<string, LabModel>();
  /** Uploaded ONNX files in ONNX Runtime Web: no gradients, so only the folder card's black-box attacks. */
  const blackBoxes = new Map<string, LabBlackBox>();
  let uploads = 0;
  let runToken = 0;
  let running: Promise<void> | null = null;

  const setStatus = async () => {
    const tensors = tf.memory().numTensors;
    document.body.dataset.tensors = String(tensors);
    setBackendStatus(`backend: ${tf.getBackend()} · tensors: ${tensors}`);
  };
  /** The image's dataset label means something to a model of that dataset only; others are attacked away from their own prediction. */
  const labelFor = (m: LabModel) => {
    if (label === null || source === null) return null;
    // A folder's class-folder labels were matched to the card's model's class names: they hold for a model with the same names.
    if (source.dataset === userFolder?.name) return userFolderLabelled && (m.classifier.info.classNames ?? []).join('\n') === userFolder.classNames.join('\n') ? label : null;
    return datasetOf(m) === source.dataset ? label : null;
  };
  const className = (m: LabModel, k: number) => {
    const name = m.classifier.info.classNames?.[k];
    return name && name !== String(k) ? `${k} (${name})` : String(k);
  };
  const imageShape = (): [number, number, number] => [SIZE, SIZE, channels];
  const show = (canvas: HTMLCanvasElement, values: ArrayLike<number>) => drawImage(canvas, values, SIZE, SIZE, channels);
  /** The image in `c` channels: grey copied to RGB, RGB averaged to grey. */
  const toChannels = (x: Float32Array, from: number, c: number): Float32Array => {
    if (from === c) return x;
    const out = new Float32Array(SIZE * SIZE * c);
    for (let i = 0; i < SIZE * SIZE; i++) {
      let v = 0;
      for (let k = 0; k < from; k++) v += x[i * from + k] / from;
      for (let k = 0; k < c; k++) out[i * c + k] = v;
    }
    return out;
  };

  // ---- image
  function showImage(): void {
    show(draw, image);
    for (const p of panels) show(p.original, image);
  }
  /** A label with its class name where the name says more (3 (Dress), but 7 for MNIST's 7). */
  const named = (k: number) => (classLabel(samples?.classNames, k) === String(k) ? String(k) : `${k} (${classLabel(samples?.classNames, k)})`);
  function selectSample(i: number, redraw = true): void {
    if (!samples) return;
    image = Float32Array.from(samples.images[i]);
    label = samples.labels[i];
    source = { dataset: samples.name, index: i };
    imageInfo.textContent = samples.name === userFolder?.name
      ? `${samples.title}, image #${i}, ${userFolderLabelled ? 'label' : 'predicted by the folder card’s model:'} ${named(label)}`
      : `${samples.title} test image #${i}, label ${named(label)}`;
    imageInfo.dataset.label = String(label);
    imageInfo.dataset.dataset = samples.name;
    for (const b of thumbs.querySelectorAll('button')) b.setAttribute('aria-pressed', String(b.dataset.index === String(i)));
    showImage();
    if (redraw) void refresh();
  }

  /** The thumbnails of model A's dataset (loaded when A's dataset or input shape changes), and an image of it. */
  async function syncImages(m: LabModel | null, first?: number, folder = false): Promise<void> {
    if (!m) return;
    const found = await samplesFor(m);
    const fits = userFolder && userFolder.shape.join(',') === m.shape.join(',') ? userFolder : null;
    // The image menu: the dataset's test images, and the user's folder when it fits model A.
    imageSource.replaceChildren(...[found?.samples, fits].filter((x): x is Samples => !!x).map((x) => h('option', { value: x.name }, x.title === x.name ? x.name : x.title.startsWith('your') ? `${x.title} (${x.count} images)` : `${x.title} test images`)));
    imageSource.hidden = imageSource.options.length < 2;
    if (folder && fits) imageSource.value = fits.name;
    else if (![...imageSource.options].some((o) => o.value === samples?.name)) imageSource.value = imageSource.options[0]?.value ?? '';
    else imageSource.value = samples!.name;
    const next = imageSource.value === fits?.name ? fits : (found?.samples ?? null);
    const from = channels;
    channels = m.shape[2];
    if (next?.name === samples?.name && next?.count === samples?.count && from === channels && !folder) return;
    samples = next;
    thumbs.replaceChildren();
    thumbs.dataset.dataset = samples?.name ?? '';
    thumbs.setAttribute('aria-label', samples ? `${samples.title} test images` : 'no test images');
    thumbsHint.textContent = samples
      ? samples === fits
        ? `${samples.title}: ${samples.count} images as the folder card fitted them (click one); draw below, or upload a picture.`
        : `${samples.title} test images (click one)${found!.own ? '' : `: ${m.label} names no dataset the lab ships, so they are attacked away from its prediction`}; draw below, or upload a picture.`
      : `The lab ships no test images of ${m.shape.join('×')}: draw below, upload a picture, or attack a folder of your images below.`;
    samples?.images.forEach((img, i) => {
      const c = h('canvas', { width: SIZE, height: SIZE });
      drawImage(c, img, SIZE, SIZE, samples!.shape[2]);
      const name = classLabel(samples!.classNames, samples!.labels[i]);
      const b = h('button', { type: 'button', 'data-index': i, 'aria-pressed': 'false', 'aria-label': `test image ${i}, label ${name}`, title: `#${i}: ${name}` }, c);
      b.addEventListener('click', () => selectSample(i));
      thumbs.append(b);
    });
    if (samples?.count) selectSample((first ?? 0) % samples.count, false);
    else {
      image = toChannels(image, from, channels);
      label = null;
      source = null;
      showImage();
    }
  }

  // drawing: pointer → 28×28 with a soft round brush
  let drawing: null | 'ink' | 'erase' = null;
  const paint = (ev: PointerEvent) => {
    const r = draw.getBoundingClientRect();
    const cx = ((ev.clientX - r.left) / r.width) * SIZE;
    const cy = ((ev.clientY - r.top) / r.height) * SIZE;
    for (let y = Math.floor(cy - 2); y <= cy + 2; y++) {
      for (let x = Math.floor(cx - 2); x <= cx + 2; x++) {
        if (x < 0 || y < 0 || x >= SIZE || y >= SIZE) continue;
        const d = Math.hypot(x + 0.5 - cx, y + 0.5 - cy);
        const v = Math.max(0, Math.min(1, 1.6 - d * 0.75));
        for (let k = 0; k < channels; k++) {
          const i = (y * SIZE + x) * channels + k;
          image[i] = drawing === 'erase' ? Math.min(image[i], 1 - v) : Math.max(image[i], v);
        }
      }
    }
    if (label !== null) for (const b of thumbs.querySelectorAll('button')) b.setAttribute('aria-pressed', 'false');
    label = null;
    source = null;
    imageInfo.textContent = 'your drawing (attacked away from each model\u2019s prediction of it)';
    delete imageInfo.dataset.label;
    showImage();
  };
  draw.addEventListener('contextmenu', (e) => e.preventDefault());
  draw.addEventListener('pointerdown', (e) => {
    drawing = e.button === 2 || e.shiftKey ? 'erase' : 'ink';
    draw.setPointerCapture(e.pointerId);
    paint(e);
  });
  draw.addEventListener('pointermove', (e) => drawing && paint(e));
  const endDraw = () => {
    if (!drawing) return;
    drawing = null;
    void refresh();
  };
  draw.addEventListener('pointerup', endDraw);
  draw.addEventListener('pointercancel', endDraw);
  clearBtn.addEventListener('click', () => {
    image = new Float32Array(SIZE * SIZE * channels);
    label = null;
    source = null;
    imageInfo.textContent = 'empty canvas: draw a digit';
    delete imageInfo.dataset.label;
    for (const b of thumbs.querySelectorAll('button')) b.setAttribute('aria-pressed', 'false');
    showImage();
    void refresh();
  });

  // ---- models
  /** The models the panels and the transfer card attack: image classifiers on 28×28 grey or RGB images, as [id, label, dataset, shape]. */
  function explorerModels(): Array<{ id: string; label: string; dataset: string | null; shape: string }> {
    return [
      ...entries.filter(fitsExplorer).map((e) => ({ id: `shipped:${e.name}`, label: `${e.name}${e.info?.dataset ? ` (${e.info.dataset})` : ''}`, dataset: datasetOf(e), shape: e.info!.inputShape!.join('×') })),
      ...[...uploaded.values()].filter(fitsExplorer).map((m) => ({ id: m.id, label: m.label, dataset: datasetOf(m), shape: m.shape.join('×') })),
    ];
  }

  /** Whether model b can stand beside (or be the transfer target of) model a: the same input shape and dataset. */
  function compatible(a: string, b: string): boolean {
    const all = explorerModels();
    const [ma, mb] = [all.find((m) => m.id === a), all.find((m) => m.id === b)];
    return !!ma && !!mb && ma.shape === mb.shape && ma.dataset === mb.dataset;
  }

  function fillModelSelects(): void {
    const keepA = modelA.value;
    modelA.replaceChildren();
    for (const m of explorerModels()) modelA.append(h('option', { value: m.id }, m.label));
    batch.setModels(batchModels());
    const has = (s: HTMLSelectElement, v: string) => [...s.options].some((o) => o.value === v);
    const paramA = params.get('model') ? `shipped:${params.get('model')}` : '';
    modelA.value = has(modelA, keepA) ? keepA : has(modelA, paramA) ? paramA : has(modelA, 'shipped:mnist-cnn') ? 'shipped:mnist-cnn' : (modelA.options[0]?.value ?? '');
    fillModelB();
    transfer.setModels(modelA.value);
  }

  /** Model B: none, or a model of model A's dataset and input shape (the same images mean the same to both). */
  function fillModelB(): void {
    const keepB = modelB.value;
    modelB.replaceChildren(h('option', { value: '' }, 'none'));
    for (const m of explorerModels()) if (m.id !== modelA.value && compatible(modelA.value, m.id)) modelB.append(h('option', { value: m.id }, m.label));
    const has = (v: string) => [...modelB.options].some((o) => o.value === v);
    // The robust model, when shipped, goes beside the undefended one by default.
    // (Unless the user chose none: that choice stays.)
    const keep = keepB !== '' ? has(keepB) : modelB.dataset.chosen === 'true';
    modelB.value = keep ? keepB : has('shipped:mnist-robust') && modelA.value !== 'shipped:mnist-robust' ? 'shipped:mnist-robust' : '';
  }

  /** Goal menu: untargeted, or a target class named as model A names it. */
  function fillTargets(m: LabModel | null): void {
    const keep = target.value;
    const names = m?.classifier.info.classNames ?? Array.from({ length: m?.classifier.info.numClasses ?? 10 }, (_, k) => String(k));
    target.replaceChildren(h('option', { value: '' }, 'untargeted'));
    names.forEach((_, k) => target.append(h('option', { value: k }, `target ${className(m!, k)}`)));
    target.value = [...target.options].some((o) => o.value === keep) ? keep : '';
  }

  /** Every image classifier, whatever its input size, for the folder card. */
  function batchModels(): Array<[string, string]> {
    const dataset = (e: ModelEntry) => (e.info?.dataset ? ` (${e.info.dataset})` : '');
    return [...entries.filter(isImageClassifier).map((e): [string, string] => [`shipped:${e.name}`, `${e.name}${dataset(e)}`]), ...[...uploaded.values(), ...blackBoxes.values()].map((m): [string, string] => [m.id, m.label])];
  }

  async function getModel(id: string): Promise<LabModel | null> {
    if (!id) return null;
    if (uploaded.has(id)) return uploaded.get(id)!;
    // The promise is kept, not the model: two refreshes while a model loads share one load, where
    // each would load its own copy of the weights and the one overwritten would never be freed.
    if (!loaded.has(id)) {
      const entry = entries.find((e) => `shipped:${e.name}` === id);
      if (!entry) throw new Error(`unknown model ${id}`);
      const loading = loadShipped(entry);
      loaded.set(id, loading);
      loading.catch(() => loaded.delete(id));
    }
    return loaded.get(id)!;
  }

  /** Models of the visible panels, in order (A, then B when chosen). */
  async function activeModels(): Promise<Array<LabModel | null>> {
    return [await getModel(modelA.value), modelB.value ? await getModel(modelB.value) : null];
  }

  // ---- predictions on the clean image
  /** What the panels showed no longer holds while a newly chosen model or image loads: the page
   * (and a test waiting on it) must not read the old model's prediction as the new one's. */
  function forgetPredictions(): void {
    for (const panel of panels) for (const k of ['model', 'cleanPred', 'advPred', 'success', 'step']) delete panel.root.dataset[k];
  }
  let refreshSerial = 0;
  async function refresh(): Promise<void> {
    const serial = ++refreshSerial;
    forgetPredictions();
    try {
      const models = await activeModels();
      if (serial !== refreshSerial) return;
      panels.forEach((panel, i) => {
        const m = models[i];
        panel.root.hidden = !m;
        panel.root.dataset.state = 'idle';
        if (!m) return;
        panel.root.dataset.model = m.id;
        panel.title.textContent = m.label;
        setClasses(panel, m.classifier.info.classNames ?? Array.from({ length: m.classifier.info.numClasses }, (_, k) => String(k)));
        const probsTensor = tf.tidy(() => m.classifier.probabilities(tf.tensor4d(image, [1, ...imageShape()])));
        const probs = probsTensor.dataSync();
        probsTensor.dispose();
        const pred = argmax(probs);
        panel.root.dataset.cleanPred = String(pred);
        setBars(panel, 'clean', probs);
        setBars(panel, 'adv', null);
        show(panel.original, image);
        show(panel.adversarial, image);
        drawPerturbation(panel.perturbation, image, image, SIZE, SIZE, channels);
        panel.perturbationCaption.textContent = 'perturbation';
        panel.verdict.className = 'verdict';
        const known = labelFor(m);
        panel.verdict.textContent = `predicts ${className(m, pred)} (${(probs[pred] * 100).toFixed(1)}%)${known !== null ? `, label ${className(m, known)}` : ''}`;
      });
      runBtn.disabled = !models[0];
    } catch (e) {
      showError(errorMessage(e));
    }
    void setStatus();
  }

  // ---- attack
  function syncAttackControls(): void {
    const def = EXPLORER_ATTACKS[attack.value as ExplorerAttack];
    eps.disabled = !def.usesEps;
    eps.max = def.norm === 'l2' ? '5' : '0.5';
    eps.step = def.norm === 'l2' ? '0.05' : '0.01';
    if (Number(eps.value) > Number(eps.max)) eps.value = eps.max;
    epsValue.textContent = def.usesEps ? `${Number(eps.value).toFixed(2)} (${def.norm === 'l2' ? 'L2' : 'L∞'})` : 'minimal (no ε)';
    steps.disabled = def.steps === 1;
    // DeepFool crosses the nearest boundary, whatever lies beyond: it has no targeted mode.
    target.disabled = !def.targeted;
    if (!def.targeted) target.value = '';
  }
  attack.addEventListener('change', () => {
    const def = EXPLORER_ATTACKS[attack.value as ExplorerAttack];
    steps.value = String(def.steps);
    if (def.norm === 'l2' && Number(eps.value) < 0.5) eps.value = '2';
    if (def.norm === 'linf' && Number(eps.value) > 0.5) eps.value = '0.3';
    syncAttackControls();
  });
  eps.addEventListener('input', syncAttackControls);

  async function runOne(panel: Panel, model: LabModel, token: number): Promise<void> {
    const def = EXPLORER_ATTACKS[attack.value as ExplorerAttack];
    const cleanPred = Number(panel.root.dataset.cleanPred);
    const goalLabel = labelFor(model) ?? cleanPred;
    const targetClass = target.value === '' ? null : Number(target.value);
    panel.root.dataset.state = 'running';
    panel.verdict.className = 'verdict';
    panel.verdict.textContent = def.live ? 'starting…' : `running ${def.label}…`;
    await nextFrame();
    const x = Float32Array.from(image);
    let last = null;
    for await (const it of runAttack(model.classifier, x, [1, ...imageShape()], { attack: attack.value as ExplorerAttack, eps: Number(eps.value), steps: Number(steps.value), target: targetClass, labels: [goalLabel] })) {
      if (token !== runToken) break; // stopped or superseded: the generator frees its tensors
      last = it;
      show(panel.adversarial, it.adversarial);
      const max = drawPerturbation(panel.perturbation, x, it.adversarial, SIZE, SIZE, channels);
      panel.perturbationCaption.textContent = max > 0 ? `perturbation ×${(1 / max).toFixed(1)} (max |δ| ${max.toFixed(3)})` : 'perturbation (none yet)';
      setBars(panel, 'adv', it.probabilities);
      panel.root.dataset.step = String(it.step);
      panel.root.dataset.advPred = String(it.predictions[0]);
      panel.verdict.textContent = `${def.live ? `step ${it.step}/${it.total}: ` : ''}${className(model, cleanPred)} → ${className(model, it.predictions[0])} (${(it.probabilities[it.predictions[0]] * 100).toFixed(1)}%)`;
      void setStatus();
      await nextFrame();
    }
    if (token !== runToken || !last) {
      panel.root.dataset.state = 'stopped';
      panel.verdict.textContent += ' — stopped';
      return;
    }
    const success = targetClass === null ? last.predictions[0] !== goalLabel : last.predictions[0] === targetClass;
    panel.root.dataset.success = String(success);
    panel.root.dataset.state = 'done';
    panel.verdict.className = `verdict ${success ? 'success' : 'fail'}`;
    const goalText = targetClass === null ? (labelFor(model) === null ? `away from its clean prediction ${className(model, goalLabel)}` : `label ${className(model, goalLabel)}`) : `target ${className(model, targetClass)}`;
    panel.verdict.textContent = `${className(model, cleanPred)} → ${className(model, last.predictions[0])} (${(last.probabilities[last.predictions[0]] * 100).toFixed(1)}%): ${success ? 'attack succeeded' : 'attack failed'} (${goalText})`;
  }

  async function run(): Promise<void> {
    const token = ++runToken;
    if (running) await running;
    clearError();
    runBtn.disabled = true;
    stopBtn.disabled = false;
    const job = (async () => {
      try {
        await refresh();
        const models = await activeModels();
        await Promise.all(panels.map((p, i) => (models[i] ? runOne(p, models[i]!, token) : Promise.resolve())));
      } catch (e) {
        showError(`the attack failed: ${errorMessage(e)}`);
        for (const p of panels) if (p.root.dataset.state === 'running') p.root.dataset.state = 'error';
      } finally {
        runBtn.disabled = false;
        stopBtn.disabled = true;
        void setStatus();
      }
    })();
    running = job;
    await job;
    if (running === job) running = null;
  }
  runBtn.addEventListener('click', () => void run());
  stopBtn.addEventListener('click', () => {
    runToken++;
  });

  // ---- model choice, upload, backend
  /** Model A chosen: its dataset's images, its class names, and the models of its dataset beside it. */
  async function modelAChanged(first?: number, folder = false): Promise<void> {
    forgetPredictions();
    try {
      const m = await getModel(modelA.value);
      fillModelB();
      fillTargets(m);
      await syncImages(m, first, folder);
      transfer.setModels(modelA.value);
    } catch (e) {
      showError(errorMessage(e));
    }
    await refresh();
  }
  modelA.addEventListener('change', () => void modelAChanged());
  imageSource.addEventListener('change', async () => {
    samples = null;
    await modelAChanged(undefined, imageSource.value === userFolder?.name);
  });
  modelB.addEventListener('change', () => {
    modelB.dataset.chosen = 'true';
    void refresh();
  });
  target.addEventListener('change', () => void refresh());
  upload.addEventListener('change', async () => {
    const files = [...(upload.files ?? [])];
    upload.value = '';
    if (!files.length) return;
    clearError();
    try {
      const m = await loadUploaded(files, ++uploads, uploadRuntime.value as OnnxRuntimeChoice);
      if ('blackBox' in m) {
        blackBoxes.set(m.id, m);
        const { numClasses, output } = m.blackBox.info;
        uploadInfo.textContent = `${m.label}: ${m.shape.join('×')} images, ${numClasses} classes (${output}), black box in ONNX Runtime Web (${m.why}): score- and decision-based attacks on a folder of your images below`;
        batch.setModels(batchModels(), m.id);
        return;
      }
      uploaded.set(m.id, m);
      fillModelSelects();
      const { numClasses, output } = m.classifier.info;
      uploadInfo.textContent = `${m.label}: ${m.shape.join('×')} images, ${numClasses} classes (${output}), white-box`;
      batch.setModels(batchModels(), m.id);
      if (fitsExplorer(m)) {
        modelA.value = m.id;
        await modelAChanged();
      } else {
        uploadInfo.textContent += '; it takes other images than the panels’ 28×28 ones: attack it on a folder of your images below';
      }
    } catch (e) {
      showError(`upload: ${errorMessage(e)}`);
    }
  });
  uploadImage.addEventListener('change', async () => {
    const file = uploadImage.files?.[0];
    uploadImage.value = '';
    if (!file) return;
    clearError();
    try {
      image = toChannels(await loadImageFile(file, SIZE), 1, channels);
    } catch (e) {
      showError(`image upload: ${errorMessage(e)}`);
      return;
    }
    label = null;
    source = null;
    imageInfo.textContent = `uploaded image ${file.name} (attacked away from each model\u2019s prediction of it)`;
    delete imageInfo.dataset.label;
    for (const b of thumbs.querySelectorAll('button')) b.setAttribute('aria-pressed', 'false');
    showImage();
    await refresh();
  });
  backend.addEventListener('change', async () => {
    runToken++;
    if (running) await running;
    try {
      const started = await startBackend(backend.value as LabBackend);
      if (started.note) showError(`backend ${backend.value} did not start, using ${started.name}: ${started.note}`);
      backend.value = started.name;
      await refresh();
    } catch (e) {
      showError(errorMessage(e));
    }
  });

  // ---- start
  syncAttackControls();
  try {
    const started = await startBackend(requested);
    if (started.note) showError(`backend ${requested} did not start, using ${started.name}: ${started.note}`);
    backend.value = started.name;
  } catch (e) {
    showError(errorMessage(e));
    return;
  }
  void setStatus();
  try {
    ({ models: entries } = await fetchJson<{ models: ModelEntry[] }>('api/models'));
  } catch (e) {
    showError(`could not load the lab's models: ${errorMessage(e)}`);
  }
  fillModelSelects();
  if (!modelA.options.length) showError('no 28×28 image classifier found: upload one, or start advx lab with --models pointing at a folder of models (each with an advx.json saying its input shape and classes)');
  await modelAChanged(Number(params.get('image') ?? 0));
  root.dataset.ready = 'true';
}
