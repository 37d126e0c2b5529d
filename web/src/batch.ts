/**
 * The explorer's "your model on your images" card: a folder or .zip of images (ImageFolder layout)
 * fitted to a chosen model, its clean accuracy, and an attack on the whole batch with the lab's
 * attack code (attacks.ts): the flip rate, and clean/adversarial pairs with true → predicted labels.
 * A model in ONNX Runtime Web is a black box: its gradient attacks are off, with the reason shown;
 * score- and decision-based attacks (for any model) report the queries they used.
 */
import * as tf from '@tensorflow/tfjs-core';
import { predictLabels } from '../../src/attacks/index.ts';
import { BLACK_BOX_ATTACKS, EXPLORER_ATTACKS, runAttack, runBlackBoxAttack, type BlackBoxAttack, type ExplorerAttack } from './attacks.ts';
import { drawImage } from './draw.ts';
import { folderFiles, loadFolder, zipFiles, type FolderData, type ImageFiles } from './folder.ts';
import { anyModel, type UploadedModel } from './models.ts';
import { clearError, errorMessage, h, metricList, nextFrame, showError } from './ui.ts';

/** Images per attack batch: a bound on the memory one attack step takes. */
const CHUNK = 32;
/** Clean/adversarial pairs shown. */
const PAIRS = 8;

export interface BatchDeps {
  getModel(id: string): Promise<UploadedModel | null>;
  /** Whether the model runs as a black box (no gradients), known without loading it. */
  isBlackBox(id: string): boolean;
  setStatus(): void;
  /** The folder's images as fitted to a model, once evaluated: the explorer offers them too. */
  onFolder?(folder: { data: FolderData; labels: number[]; classNames: string[] | undefined }): void;
}

const isBlackBoxAttack = (key: string): key is BlackBoxAttack => Object.hasOwn(BLACK_BOX_ATTACKS, key);

export interface BatchCard {
  root: HTMLElement;
  /** The models offered ([id, label]), keeping the choice when it is still there, else `select`. */
  setModels(models: Array<[string, string]>, select?: string): void;
}

const pct = (k: number, n: number) => `${k}/${n} = ${n ? ((100 * k) / n).toFixed(1) : '0.0'}%`;

export function mountBatch(deps: BatchDeps): BatchCard {
  const model = h('select', { id: 'batch-model' });
  const folderInput = h('input', { id: 'upload-folder', type: 'file', webkitdirectory: true, multiple: true });
  const zipInput = h('input', { id: 'upload-zip', type: 'file', accept: '.zip,application/zip' });
  const limit = h('input', { id: 'batch-limit', type: 'number', min: 1, max: 2000, value: 64 });
  const whiteBox = h('optgroup', { label: 'gradient (white-box)' }, ...Object.entries(EXPLORER_ATTACKS).map(([key, def]) => h('option', { value: key }, def.label)));
  const blackBox = h('optgroup', { label: 'scores or labels only (black box)' }, ...Object.entries(BLACK_BOX_ATTACKS).map(([key, def]) => h('option', { value: key }, def.label)));
  const attack = h('select', { id: 'batch-attack' }, whiteBox, blackBox);
  attack.value = 'pgd';
  const access = h('p', { id: 'batch-access', class: 'hint', 'aria-live': 'polite' }, '');
  const eps = h('input', { id: 'batch-eps', type: 'number', min: 0, max: 100, step: 0.01, value: 0.03 });
  const norm = h('span', { class: 'hint', id: 'batch-norm' }, '');
  const steps = h('input', { id: 'batch-steps', type: 'number', min: 1, max: 100000, value: EXPLORER_ATTACKS.pgd.steps });
  const stepsLabel = h('label', { for: 'batch-steps' }, 'Steps');
  const runBtn = h('button', { type: 'button', id: 'batch-run', class: 'primary', disabled: true }, 'Attack the images');
  const dataInfo = h('p', { id: 'batch-data', class: 'hint', 'aria-live': 'polite' }, 'no images yet');
  const clean = h('span', { id: 'batch-clean' }, '–');
  const flip = h('span', { id: 'batch-flip' }, '–');
  const robust = h('span', { id: 'batch-robust' }, '–');
  const queries = h('span', { id: 'batch-queries' }, '–');
  const progress = h('p', { id: 'batch-progress', class: 'hint', 'aria-live': 'polite' }, '');
  const pairs = h('div', { id: 'batch-pairs', class: 'pairs' });
  const lbl = (forId: string, text: string) => h('label', { for: forId }, text);
  const root = h(
    'div',
    { class: 'card', id: 'batch', 'data-state': 'idle' },
    h('h2', {}, 'Your model on your images'),
    h('p', { class: 'hint' }, 'A folder of images, or a .zip of one: class subfolders are the labels (as torchvision’s ImageFolder), matched to the model’s class names; a flat folder has no labels and is labelled by the model’s own predictions. Images are fitted to the model’s input (channels, centre crop, resize) as the CLI does.'),
    h(
      'div',
      { class: 'controls' },
      lbl('batch-model', 'Model'),
      model,
      lbl('upload-folder', 'Folder'),
      folderInput,
      lbl('upload-zip', 'or a .zip'),
      zipInput,
      lbl('batch-limit', 'Images'),
      h('span', {}, limit, ' ', h('span', { class: 'hint' }, 'at most')),
      lbl('batch-attack', 'Attack'),
      attack,
      lbl('batch-eps', 'ε'),
      h('span', {}, eps, ' ', norm),
      stepsLabel,
      steps,
      h('div', { class: 'full' }, runBtn),
    ),
    access,
    dataInfo,
    metricList({ id: 'batch-metrics' }, [
      ['clean accuracy', clean],
      ['flip rate', flip],
      ['robust accuracy', robust],
      ['queries per image', queries],
    ]),
    progress,
    pairs,
  );

  let source: ImageFiles | null = null;
  /** The folder fitted to the model it was loaded for, with the model's clean predictions. */
  let loaded: { modelId: string; limit: number; data: FolderData; labels: number[]; clean: number[]; m: UploadedModel } | null = null;
  let serial = 0;

  const chosen = () => (isBlackBoxAttack(attack.value) ? BLACK_BOX_ATTACKS[attack.value] : EXPLORER_ATTACKS[attack.value as ExplorerAttack]);
  const syncAttack = () => {
    const def = chosen();
    eps.disabled = !def.usesEps;
    norm.textContent = def.usesEps ? (def.norm === 'l2' ? 'L2' : 'L∞') : 'minimal (no ε)';
    stepsLabel.textContent = 'queries' in def ? 'Queries' : 'Steps';
    steps.disabled = 'steps' in def && def.steps === 1;
  };
  const onAttackChange = () => {
    const def = chosen();
    steps.value = String('queries' in def ? def.queries : def.steps);
    syncAttack();
  };
  attack.addEventListener('change', onAttackChange);
  syncAttack();

  /** A black box gives no gradients: its white-box attacks are off, and the page says why. */
  const syncAccess = () => {
    const off = model.value !== '' && deps.isBlackBox(model.value);
    const why = 'this model runs in ONNX Runtime Web, a black box without gradients';
    for (const o of whiteBox.querySelectorAll('option')) {
      o.disabled = off;
      o.title = off ? why : '';
    }
    access.textContent = off ? `Gradient attacks are off: ${why}. Score- and decision-based attacks query it like a remote model.` : '';
    if (off && !isBlackBoxAttack(attack.value)) {
      attack.value = 'square';
      onAttackChange();
    }
  };

  const fail = (where: string, e: unknown) => {
    root.dataset.state = 'error';
    progress.textContent = '';
    showError(`${where}: ${errorMessage(e)}`);
  };

  /** Loads the images for the chosen model and shows its clean accuracy; null when there is nothing to evaluate. */
  async function evaluate(): Promise<NonNullable<typeof loaded> | null> {
    const token = ++serial;
    if (!source || !model.value) return null;
    const n = Math.max(1, Math.floor(Number(limit.value) || 64));
    if (loaded && loaded.modelId === model.value && loaded.limit === n) return loaded;
    loaded = null;
    runBtn.disabled = true;
    root.dataset.state = 'loading';
    for (const el of [clean, flip, robust, queries]) el.textContent = '–';
    delete root.dataset.cleanAccuracy;
    pairs.replaceChildren();
    const m = await deps.getModel(model.value);
    if (!m || token !== serial) return null;
    const data = await loadFolder(source, m.shape, anyModel(m).info, n, (done, total) => (progress.textContent = `decoding images ${done}/${total}…`));
    if (token !== serial) return null;
    const x = tf.tensor4d(data.images, [data.count, ...data.shape]);
    const predicted = [...(await predictLabels(anyModel(m), x).finally(() => x.dispose()))];
    if (token !== serial) return null;
    const labels = data.labels ?? predicted;
    const correct = predicted.filter((p, i) => p === labels[i]).length;
    clean.textContent = pct(correct, data.count);
    root.dataset.cleanAccuracy = String(correct / data.count);
    root.dataset.count = String(data.count);
    const what = data.labels ? 'labelled by their class folders' : 'no class folders, so labelled by the model’s own predictions (clean accuracy 100% by construction)';
    dataInfo.textContent = `${data.root}: ${data.count} of ${data.total} images, fitted to ${data.shape.join('×')}, ${what}`;
    root.dataset.labels = data.labels ? 'folders' : 'predictions';
    progress.textContent = '';
    root.dataset.state = 'evaluated';
    root.dataset.evaluations = String(Number(root.dataset.evaluations ?? 0) + 1);
    runBtn.disabled = false;
    loaded = { modelId: model.value, limit: n, data, labels, clean: predicted, m };
    deps.onFolder?.({ data, labels, classNames: anyModel(m).info.classNames });
    deps.setStatus();
    return loaded;
  }

  const reevaluate = () => {
    clearError();
    loaded = null;
    evaluate().catch((e) => fail('images', e));
  };

  async function attackBatch(): Promise<void> {
    clearError();
    try {
      const ev = await evaluate();
      if (!ev) return;
      const { data, labels, clean: cleanPred, m } = ev;
      const key = attack.value;
      const def = chosen();
      const classifier = 'classifier' in m ? m.classifier : null;
      if (!isBlackBoxAttack(key) && !classifier) throw new Error(`${def.label} needs gradients, and ${m.label} runs in ONNX Runtime Web as a black box: choose a score- or decision-based attack`);
      runBtn.disabled = true;
      root.dataset.state = 'running';
      const size = data.shape[0] * data.shape[1] * data.shape[2];
      const adv = new Float32Array(data.images.length);
      const advPred: number[] = [];
      const used: number[] = [];
      for (let start = 0; start < data.count; start += CHUNK) {
        const n = Math.min(CHUNK, data.count - start);
        const images = data.images.subarray(start * size, (start + n) * size);
        const where = `${def.label}: images ${start + 1}–${start + n} of ${data.count}`;
        if (isBlackBoxAttack(key)) {
          progress.textContent = `${where}…`;
          await nextFrame();
          const out = await runBlackBoxAttack(anyModel(m), images, [n, ...data.shape], { attack: key, eps: Number(eps.value), queries: Number(steps.value), labels: labels.slice(start, start + n) });
          adv.set(out.adversarial, start * size);
          advPred.push(...out.predictions);
          used.push(...out.queries);
          deps.setStatus();
          continue;
        }
        const spec = { attack: key as ExplorerAttack, eps: Number(eps.value), steps: Number(steps.value), target: null, labels: labels.slice(start, start + n), every: 10 };
        let last = null;
        for await (const it of runAttack(classifier!, images, [n, ...data.shape], spec)) {
          last = it;
          progress.textContent = `${where}${'live' in def && def.live ? `, step ${it.step}/${it.total}` : ''}…`;
          deps.setStatus();
          await nextFrame();
        }
        if (!last) throw new Error('the attack gave no result');
        adv.set(last.adversarial, start * size);
        advPred.push(...last.predictions);
      }
      const correct = labels.map((l, i) => cleanPred[i] === l);
      const flipped = advPred.filter((p, i) => correct[i] && p !== labels[i]).length;
      const still = advPred.filter((p, i) => p === labels[i]).length;
      const nCorrect = correct.filter(Boolean).length;
      flip.textContent = `${pct(flipped, nCorrect)} of the correctly classified`;
      robust.textContent = pct(still, data.count);
      Object.assign(root.dataset, { flipped: String(flipped), correct: String(nCorrect), flipRate: String(nCorrect ? flipped / nCorrect : 0), robustAccuracy: String(still / data.count) });
      if (used.length) {
        const total = used.reduce((a, b) => a + b, 0);
        queries.textContent = `${(total / used.length).toFixed(1)} on average, at most ${Math.max(...used)} (budget ${Math.floor(Number(steps.value))})`;
        Object.assign(root.dataset, { queries: String(total), maxQueries: String(Math.max(...used)) });
      } else {
        delete root.dataset.queries;
        delete root.dataset.maxQueries;
      }
      const budget = def.usesEps ? ` ${def.norm === 'l2' ? 'L2' : 'L∞'} ε ${Number(eps.value)}` : '';
      progress.textContent = `${def.label}${budget} on ${data.count} images`;
      showPairs(m, data, labels, cleanPred, adv, advPred);
      root.dataset.state = 'done';
    } catch (e) {
      fail('the attack on the images failed', e);
    } finally {
      runBtn.disabled = !loaded;
      deps.setStatus();
    }
  }

  function showPairs(m: UploadedModel, data: FolderData, labels: number[], cleanPred: number[], adv: Float32Array, advPred: number[]): void {
    const [hgt, wid, ch] = data.shape;
    const size = hgt * wid * ch;
    const name = (k: number) => anyModel(m).info.classNames?.[k] ?? String(k);
    pairs.replaceChildren();
    for (let i = 0; i < Math.min(PAIRS, data.count); i++) {
      const a = h('canvas', { class: 'pixel', 'aria-label': `clean image ${data.names[i]}` });
      const b = h('canvas', { class: 'pixel', 'aria-label': `adversarial image ${data.names[i]}` });
      drawImage(a, data.images.subarray(i * size, (i + 1) * size), wid, hgt, ch);
      drawImage(b, adv.subarray(i * size, (i + 1) * size), wid, hgt, ch);
      const changed = advPred[i] !== cleanPred[i];
      pairs.append(
        h(
          'figure',
          { class: `pair ${changed ? 'flipped' : ''}`, 'data-true': labels[i], 'data-clean': cleanPred[i], 'data-adv': advPred[i], title: data.names[i] },
          a,
          b,
          h('figcaption', {}, `${data.labels ? 'true' : 'predicted'} ${name(labels[i])}: ${name(cleanPred[i])} → ${name(advPred[i])}`),
        ),
      );
    }
  }

  folderInput.addEventListener('change', () => {
    const files = [...(folderInput.files ?? [])];
    folderInput.value = '';
    if (!files.length) return;
    source = folderFiles(files);
    dataInfo.textContent = `${source.root}: ${source.files.size} files`;
    reevaluate();
  });
  zipInput.addEventListener('change', async () => {
    const file = zipInput.files?.[0];
    zipInput.value = '';
    if (!file) return;
    clearError();
    try {
      source = await zipFiles(file);
      dataInfo.textContent = `${source.root}: ${source.files.size} image files`;
    } catch (e) {
      source = null;
      loaded = null;
      runBtn.disabled = true;
      dataInfo.textContent = 'no images yet';
      fail('zip', e);
      return;
    }
    reevaluate();
  });
  model.addEventListener('change', () => {
    syncAccess();
    reevaluate();
  });
  limit.addEventListener('change', reevaluate);
  runBtn.addEventListener('click', () => void attackBatch());

  return {
    root,
    setModels(models, select) {
      const keep = model.value;
      model.replaceChildren(...models.map(([id, label]) => h('option', { value: id }, label)));
      const has = (v: string | undefined) => v !== undefined && models.some(([id]) => id === v);
      model.value = has(select) ? select! : has(keep) ? keep : (models[0]?.[0] ?? '');
      syncAccess();
      if (model.value !== keep && source) reevaluate();
    },
  };
}
