/**
 * The explorer's transfer card, "craft on A, test on B": the attack chosen above (its ε, steps and
 * goal) runs white-box on a source model A only; a target model B of the same dataset and input
 * shape, never queried by the attack, classifies the same clean and adversarial images. Shown for
 * the explorer's image (clean / perturbation / adversarial, both models' predictions), and as the
 * transfer rate over a small batch of the dataset's test images, defined as `advx transfer` defines
 * it (src/eval/transfer.ts, whose summary this uses): of the images both models classify correctly,
 * the share whose adversarial example crafted on A is misclassified by B.
 */
import * as tf from '@tensorflow/tfjs-core';
import { summarizeTransfer, type TransferRecord } from '../../src/eval/transfer.ts';
import { EXPLORER_ATTACKS, runAttack, type ExplorerAttack } from './attacks.ts';
import { drawImage, drawPerturbation } from './draw.ts';
import { classLabel, datasetOf, type LabModel } from './models.ts';
import { samplesFor } from './samples.ts';
import { clearError, errorMessage, h, nextFrame, showError } from './ui.ts';

export interface TransferDeps {
  /** The models the explorer attacks. */
  models(): Array<{ id: string; label: string }>;
  /** Whether b takes the same images (dataset and input shape) as a. */
  compatible(a: string, b: string): boolean;
  getModel(id: string): Promise<LabModel | null>;
  /** The explorer's attack settings. */
  attack(): { attack: ExplorerAttack; eps: number; steps: number; target: number | null };
  /** The explorer's image and where it came from. */
  current(): { image: Float32Array; shape: [number, number, number]; label: number | null; dataset: string | null };
  setStatus(): void;
}

export interface TransferCard {
  root: HTMLElement;
  /** Refills the menus; `source` is chosen as the source when given (the explorer's model A). */
  setModels(source?: string): void;
}

const pct = (v: number) => (Number.isNaN(v) ? '–' : `${(100 * v).toFixed(1)}%`);

function argmax(p: ArrayLike<number>, from = 0, n = p.length): number {
  let best = 0;
  for (let k = 1; k < n; k++) if (p[from + k] > p[from + best]) best = k;
  return best;
}

/** Class probabilities of a flat batch, numClasses per image. */
function probabilities(m: LabModel, images: Float32Array, count: number): Float32Array {
  const t = tf.tidy(() => m.classifier.probabilities(tf.tensor4d(images, [count, ...m.shape])));
  const p = t.dataSync() as Float32Array;
  t.dispose();
  return p;
}

export function mountTransfer(deps: TransferDeps): TransferCard {
  const sourceSel = h('select', { id: 'transfer-source' });
  const targetSel = h('select', { id: 'transfer-target' });
  const count = h('input', { id: 'transfer-count', type: 'number', min: 1, max: 100, value: 24 });
  const runBtn = h('button', { type: 'button', id: 'transfer-run', class: 'primary' }, 'Craft on A, test on B');
  const size = 28;
  const canvas = (label: string) => h('canvas', { class: 'pixel', width: size, height: size, 'aria-label': label });
  const [clean, perturbation, adversarial] = [canvas('clean image'), canvas('perturbation crafted on the source model'), canvas('adversarial image')];
  const perturbationCaption = h('figcaption', {}, 'perturbation (crafted on A)');
  const table = h('table', { id: 'transfer-table', class: 'transfer-table' });
  const summary = h('p', { id: 'transfer-summary', 'aria-live': 'polite' }, '');
  const hint = h('p', { class: 'hint' }, 'The attack, ε, steps and goal chosen above run white-box on the source model A only; the target model B (same dataset) never sees a gradient or a query. B classifies the same clean and adversarial images.');
  const lbl = (forId: string, text: string) => h('label', { for: forId }, text);
  const fig = (c: HTMLCanvasElement, caption: HTMLElement) => h('figure', {}, c, caption);
  const root = h(
    'div',
    { class: 'card', id: 'transfer', 'data-state': 'idle' },
    h('h2', {}, 'Transfer: craft on A, test on B'),
    hint,
    h('div', { class: 'controls transfer-controls' }, lbl('transfer-source', 'Source A (crafted on)'), sourceSel, lbl('transfer-target', 'Target B (tested on)'), targetSel, lbl('transfer-count', 'Batch (test images)'), count, h('div', { class: 'full' }, runBtn)),
    h('div', { class: 'images' }, fig(clean, h('figcaption', {}, 'clean')), fig(perturbation, perturbationCaption), fig(adversarial, h('figcaption', {}, 'adversarial'))),
    table,
    summary,
  );

  function fillTargets(): void {
    const keep = targetSel.value;
    targetSel.replaceChildren();
    for (const m of deps.models()) if (m.id !== sourceSel.value && deps.compatible(sourceSel.value, m.id)) targetSel.append(h('option', { value: m.id }, m.label));
    const has = (v: string) => [...targetSel.options].some((o) => o.value === v);
    targetSel.value = has(keep) ? keep : (targetSel.options[0]?.value ?? '');
    runBtn.disabled = !targetSel.value;
    if (!targetSel.value) summary.textContent = 'No other model of the source model’s dataset and input shape: upload one to test transfer.';
    else if (root.dataset.state === 'idle') summary.textContent = '';
  }

  function setModels(source?: string): void {
    const keep = source ?? sourceSel.value;
    sourceSel.replaceChildren();
    for (const m of deps.models()) sourceSel.append(h('option', { value: m.id }, m.label));
    sourceSel.value = [...sourceSel.options].some((o) => o.value === keep) ? keep : (sourceSel.options[0]?.value ?? '');
    fillTargets();
  }
  sourceSel.addEventListener('change', fillTargets);

  async function run(): Promise<void> {
    clearError();
    runBtn.disabled = true;
    root.dataset.state = 'running';
    for (const k of ['sourceClean', 'sourceAdv', 'targetClean', 'targetAdv', 'transferRate', 'whiteBox', 'count']) delete root.dataset[k];
    summary.textContent = 'crafting on A…';
    await nextFrame();
    try {
      const [a, b] = [await deps.getModel(sourceSel.value), await deps.getModel(targetSel.value)];
      if (!a || !b) throw new Error('choose a source and a target model');
      const spec = deps.attack();
      const cur = deps.current();
      const found = await samplesFor(a);
      const n = found ? Math.max(1, Math.min(Number(count.value) || 1, found.samples.count)) : 0;
      const per = a.shape[0] * a.shape[1] * a.shape[2];
      // The example: the explorer's image when A takes it, else the dataset's first.
      const own = cur.shape.join(',') === a.shape.join(',');
      if (!own && !found) throw new Error(`no image of ${a.shape.join('×')} to attack`);
      const x0 = own ? cur.image : found!.samples.images[0];
      const y0 = own ? (cur.dataset !== null && cur.dataset === datasetOf(a) ? cur.label : null) : found!.own ? found!.samples.labels[0] : null;
      const flat = new Float32Array((n + 1) * per);
      flat.set(x0, 0);
      for (let i = 0; i < n; i++) flat.set(found!.samples.images[i], (i + 1) * per);
      const k = a.classifier.info.numClasses;
      const cleanA = probabilities(a, flat, n + 1);
      const cleanB = probabilities(b, flat, n + 1);
      // True labels where the images are A's own dataset's; else A's clean predictions.
      const labels = Array.from({ length: n + 1 }, (_, i) => (i === 0 ? (y0 ?? argmax(cleanA, 0, k)) : found!.own ? found!.samples.labels[i - 1] : argmax(cleanA, i * k, k)));
      let last = null;
      for await (const it of runAttack(a.classifier, flat, [n + 1, ...a.shape], { ...spec, labels, every: Math.max(1, spec.steps) })) last = it;
      if (!last) throw new Error('the attack returned nothing');
      const advA = last.probabilities;
      const advB = probabilities(b, last.adversarial, n + 1);
      const pred = (p: Float32Array, i: number) => argmax(p, i * k, k);

      // The explorer's image on both models.
      const c = a.shape[2];
      drawImage(clean, x0, size, size, c);
      drawImage(adversarial, last.adversarial.subarray(0, per), size, size, c);
      const max = drawPerturbation(perturbation, x0, last.adversarial.subarray(0, per), size, size, c);
      perturbationCaption.textContent = max > 0 ? `perturbation crafted on A ×${(1 / max).toFixed(1)} (max |δ| ${max.toFixed(3)})` : 'perturbation (none)';
      const names = a.classifier.info.classNames;
      const cell = (p: Float32Array, i: number) => `${classLabel(names, pred(p, i))} (${(100 * p[i * k + pred(p, i)]).toFixed(1)}%)`;
      const row = (role: string, m: LabModel, cp: Float32Array, ap: Float32Array) =>
        h('tr', { 'data-role': role }, h('th', { scope: 'row' }, `${role === 'source' ? 'A' : 'B'}: ${m.label}`), h('td', {}, cell(cp, 0)), h('td', {}, cell(ap, 0)), h('td', {}, pred(ap, 0) !== labels[0] ? 'fooled' : 'not fooled'));
      table.replaceChildren(
        h('caption', {}, `${y0 !== null ? `label ${classLabel(names, labels[0])}` : `no label: A's clean prediction ${classLabel(names, labels[0])} is the reference`}; ${EXPLORER_ATTACKS[spec.attack].label}${EXPLORER_ATTACKS[spec.attack].usesEps ? `, ε ${spec.eps}` : ''}${spec.target !== null ? `, target ${classLabel(names, spec.target)}` : ''}`),
        h('tr', {}, h('th', {}, 'model'), h('th', {}, 'clean'), h('th', {}, 'adversarial (crafted on A)'), h('th', {}, '')),
        row('source', a, cleanA, advA),
        row('target', b, cleanB, advB),
      );
      Object.assign(root.dataset, { sourceClean: String(pred(cleanA, 0)), sourceAdv: String(pred(advA, 0)), targetClean: String(pred(cleanB, 0)), targetAdv: String(pred(advB, 0)) });

      // The batch: the transfer rate as advx transfer computes it.
      if (n > 0) {
        const records: TransferRecord[] = [];
        for (let i = 1; i <= n; i++) {
          const y = labels[i];
          records.push({ index: i - 1, label: y, correct: [pred(cleanA, i) === y, pred(cleanB, i) === y], fooled: [[pred(advA, i) !== y, pred(advB, i) !== y]] });
        }
        const m = summarizeTransfer([a.label, b.label], [0], records);
        const [white, rate] = m.rates[0];
        const [whiteN, bothN] = m.counts[0];
        Object.assign(root.dataset, { transferRate: String(rate), whiteBox: String(white), count: String(n) });
        const bAdv = records.filter((r, i) => pred(advB, i + 1) === r.label).length / n;
        summary.replaceChildren(
          `On the first ${n} ${found!.samples.title} test images${found!.own ? '' : ' (labelled by A’s predictions)'}: the attack fools A on ${pct(white)} of the ${whiteN} it classifies correctly (white-box); of the ${bothN} both classify correctly, `,
          h('strong', { id: 'transfer-rate' }, `${pct(rate)} transfer to B`),
          `. B's accuracy: ${pct(m.accuracy[1])} clean → ${pct(bAdv)} on A's adversarial examples.`,
        );
      } else summary.textContent = 'The lab ships no test images of this input shape: the transfer rate needs a batch.';
      root.dataset.state = 'done';
    } catch (e) {
      root.dataset.state = 'error';
      summary.textContent = '';
      showError(`transfer: ${errorMessage(e)}`);
    } finally {
      runBtn.disabled = !targetSel.value;
      deps.setStatus();
    }
  }
  runBtn.addEventListener('click', () => void run());
  return { root, setModels };
}
