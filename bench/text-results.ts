/**
 * The text-attack numbers of RESULTS.md: clean test accuracy of the two spam classifiers, and
 * each attack's success rate and mean edits at budgets of 1, 3 and 5 edits, over a fixed subset
 * of the test set (the first --limit test spam messages the model gets right, ham as the
 * target class).
 *
 *   node --import tsx bench/text-results.ts [--train | --train-only] [--limit 200] [--only word|char|adv] [--attacks a,b] [--no-write]
 *                                           [--train-adv] [--adv-methods hotflip,embedding] [--reuse]
 *
 * --train (or a missing model) first trains models/spam-word and models/spam-char (seeded) on
 * advx's SpamAssassin split. Each attack runs once with a budget of 5: the attacks are greedy (or
 * a beam that never looks ahead), so their first k edits are what a run with budget k does, and
 * success at budget k is success with at most k edits. Writes runs/text-results/results.json and
 * the section of RESULTS.md between the text-attacks markers.
 *
 * The adversarial-training part (run unless --only word|char; alone with --only adv) trains the
 * defended word CNNs of --adv-methods (default: both) with src/text/adversarial-training.ts
 * (--train-adv, or when missing: hotflip → models/spam-word-adv, shipped; embedding →
 * runs/text-results/spam-word-adv-embedding)
 * with models/spam-word's recipe, vocabulary and seed: the same first clean epochs, then
 * adversarial ones. Every attack then runs on both models over the same texts: the first --limit
 * test spam messages models/spam-word gets right (a defended model's clean mistakes among them
 * count as successes with 0 edits). A run of one part keeps the other part's numbers from
 * results.json, so the section is always whole.
 */
import { existsSync, readFileSync, statSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { useBackend } from '../src/backend/index.ts';
import { writeFileAtomic } from '../src/node/io/files.ts';
import { appendSection, replaceSection } from './sections.ts';
import { loadSpam, type TextExample } from '../src/node/datasets/spam.ts';
import { loadTextClassifier, saveTextClassifier } from '../src/node/io/text-model.ts';
import { loadWordNet } from '../src/node/datasets/wordnet.ts';
import { buildTextClassifier, type TextClassifier } from '../src/text/models.ts';
import { tokenize } from '../src/text/tokenize.ts';
import { fitText, textAccuracy } from '../src/text/train.ts';
import { fitTextAdversarial, type TextAdversarialMethod, type TextAdversarialOptions } from '../src/text/adversarial-training.ts';
import { TextCodec, Vocab } from '../src/text/vocab.ts';
import { runTextAttack, TEXT_ATTACKS, type TextAttackName } from '../src/text/attacks/index.ts';
import type { TextAttackResult } from '../src/text/attacks/types.ts';

const BUDGETS = [1, 3, 5];

interface ModelPlan {
  name: 'word' | 'char';
  dir: string;
  window: number;
  epochs: number;
  vocabSize: number;
}

const PLANS: ModelPlan[] = [
  { name: 'word', dir: 'models/spam-word', window: 256, epochs: 3, vocabSize: 12000 },
  { name: 'char', dir: 'models/spam-char', window: 640, epochs: 4, vocabSize: 97 },
];

interface AdvPlan {
  dir: string;
  /** Epochs in all (the first `warmupEpochs` of them clean, as models/spam-word's). */
  epochs: number;
  adversarial: TextAdversarialOptions;
  describe: string;
}

/**
 * The defences. Both attack copies of ham and spam alike (labels: every class): copies of spam
 * alone teach the model to call more texts spam, which resists ham-ward attacks by raising false
 * positives (seen on small models), not by reading texts more robustly.
 */
const ADV_PLANS: Record<TextAdversarialMethod, AdvPlan> = {
  hotflip: {
    dir: 'models/spam-word-adv',
    epochs: 3,
    adversarial: { method: 'hotflip', budget: 3, positions: 32, weight: 0.5, warmupEpochs: 2 },
    describe: '2 clean epochs, then 1 epoch on clean + HotFlip copies (3 greedy word flips per text, 32 positions searched, loss weight 0.5)',
  },
  embedding: {
    dir: 'runs/text-results/spam-word-adv-embedding',
    epochs: 3,
    adversarial: { method: 'embedding', epsilon: 2.5, weight: 0.5, warmupEpochs: 2 },
    describe: '2 clean epochs, then 1 epoch on clean + embedding-space copies (Miyato et al., ε = 2.5 mean row norms ≈ 3 word swaps, loss weight 0.5); not shipped',
  },
};

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? undefined : process.argv[i + 1];
}

function dirBytes(dir: string): number {
  return readdirSync(dir).reduce((n, f) => n + statSync(join(dir, f)).size, 0);
}

async function train(plan: ModelPlan, trainSet: TextExample[], testSet: TextExample[]): Promise<TextClassifier> {
  const vocab = plan.name === 'word' ? Vocab.build(trainSet.map((e) => tokenize(e.text)), plan.vocabSize) : Vocab.ascii();
  const classifier = buildTextClassifier(new TextCodec(plan.name, vocab, plan.window), ['ham', 'spam'], { seed: 1 });
  const data = { texts: trainSet.map((e) => e.text), labels: trainSet.map((e) => e.label) };
  const start = performance.now();
  const history = await fitText(classifier, data, {
    epochs: plan.epochs,
    seed: 1,
    onEpoch: (info) => console.log(`${plan.dir} epoch ${info.epoch}: loss ${info.loss.toFixed(4)}, train accuracy ${(info.accuracy * 100).toFixed(2)}% (${info.seconds.toFixed(1)} s)`),
  });
  const seconds = (performance.now() - start) / 1000;
  const accuracy = await textAccuracy(classifier, { texts: testSet.map((e) => e.text), labels: testSet.map((e) => e.label) });
  await saveTextClassifier(classifier, plan.dir, { testAccuracy: accuracy, epochs: plan.epochs, trainSeconds: seconds, seed: 1, split: 'advx spam split, seed 0, 20% test', finalLoss: history.at(-1)?.loss });
  console.log(`${plan.dir}: test accuracy ${(accuracy * 100).toFixed(2)}%, ${(dirBytes(plan.dir) / 1e6).toFixed(2)} MB, trained in ${seconds.toFixed(0)} s`);
  return classifier;
}

interface AttackRow {
  model: string;
  attack: string;
  count: number;
  success: Record<string, number>;
  meanEdits: Record<string, number>;
  meanQueries: number;
  seconds: number;
}

function summarizeRuns(model: string, attack: string, results: TextAttackResult[], seconds: number): AttackRow {
  const success: Record<string, number> = {};
  const meanEdits: Record<string, number> = {};
  for (const b of BUDGETS) {
    const ok = results.filter((r) => r.success && r.edits.length <= b);
    success[b] = ok.length / results.length;
    meanEdits[b] = ok.length ? ok.reduce((s, r) => s + r.edits.length, 0) / ok.length : NaN;
  }
  const meanQueries = results.reduce((s, r) => s + r.queries, 0) / results.length;
  return { model, attack, count: results.length, success, meanEdits, meanQueries, seconds };
}

function pct(x: number): string {
  return `${(x * 100).toFixed(1)}%`;
}

/** Mean edits at budget 5 (NaN without successes, null once it went through results.json). */
function fmtEdits(r: AttackRow): string {
  const v = r.meanEdits[5] as number | null;
  return v === null || Number.isNaN(v) ? '–' : v.toFixed(2);
}

function table(accuracies: Record<string, number>, rows: AttackRow[], limit: number): string {
  const lines = [
    '## Text attacks (SpamAssassin)',
    '',
    `Written by \`node --import tsx bench/text-results.ts\` (${new Date().toISOString().slice(0, 10)}). Split: advx's SpamAssassin split (Subject + visible body text, duplicates dropped, stratified 80/20, seed 0). Attacks turn the first ${limit} test spam messages each model classifies correctly into ham (targeted at ham); success at budget k = ham with at most k edits; mean edits over the successes.`,
    '',
    '| model | clean test accuracy |',
    '| --- | ---: |',
    ...Object.entries(accuracies).map(([m, a]) => `| ${m} | ${pct(a)} |`),
    '',
    '| model | attack | success @1 | @3 | @5 | mean edits @5 | mean queries | s |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows.map((r) => `| ${r.model} | ${r.attack} | ${pct(r.success[1])} | ${pct(r.success[3])} | ${pct(r.success[5])} | ${fmtEdits(r)} | ${r.meanQueries.toFixed(0)} | ${r.seconds.toFixed(0)} |`),
  ];
  return lines.join('\n');
}

interface AdvModelRow {
  model: string;
  training: string;
  accuracy: number;
  hamAccuracy: number;
  spamAccuracy: number;
  /** Texts of the attacked subset the model already calls ham (successes with 0 edits). */
  cleanMisses: number;
  trainSeconds?: number;
}

interface AdvResults {
  limit: number;
  models: AdvModelRow[];
  rows: AttackRow[];
}

async function trainAdversarial(plan: AdvPlan, base: TextClassifier, trainSet: TextExample[], testSet: TextExample[]): Promise<{ classifier: TextClassifier; seconds: number }> {
  const classifier = buildTextClassifier(base.codec, base.classNames, { seed: 1 });
  const data = { texts: trainSet.map((e) => e.text), labels: trainSet.map((e) => e.label) };
  const start = performance.now();
  const history = await fitTextAdversarial(classifier, data, {
    epochs: plan.epochs,
    seed: 1,
    adversarial: plan.adversarial,
    onEpoch: (i) => console.log(`${plan.dir} epoch ${i.epoch}${i.adversarial ? ' (adversarial)' : ''}: loss ${i.loss.toFixed(4)}, train accuracy ${(i.accuracy * 100).toFixed(2)}%${i.adversarial ? `, accuracy on its ${i.copies} copies ${(i.adversarialAccuracy * 100).toFixed(2)}%, mean flips ${i.meanFlips.toFixed(2)}` : ''} (${i.seconds.toFixed(1)} s)`),
  });
  const seconds = (performance.now() - start) / 1000;
  const accuracy = await textAccuracy(classifier, { texts: testSet.map((e) => e.text), labels: testSet.map((e) => e.label) });
  await saveTextClassifier(classifier, plan.dir, { testAccuracy: accuracy, epochs: plan.epochs, trainSeconds: seconds, seed: 1, split: 'advx spam split, seed 0, 20% test', finalLoss: history.at(-1)?.loss, adversarialTraining: plan.adversarial, recipe: plan.describe });
  console.log(`${plan.dir}: test accuracy ${(accuracy * 100).toFixed(2)}%, ${(dirBytes(plan.dir) / 1e6).toFixed(2)} MB, trained in ${seconds.toFixed(0)} s`);
  return { classifier, seconds };
}

async function classAccuracies(c: TextClassifier, testSet: TextExample[]): Promise<{ accuracy: number; hamAccuracy: number; spamAccuracy: number; pred: number[] }> {
  const pred = await c.predict(testSet.map((e) => e.text));
  const acc = (label?: number) => {
    const idx = testSet.map((e, i) => i).filter((i) => label === undefined || testSet[i].label === label);
    return idx.filter((i) => pred[i] === testSet[i].label).length / idx.length;
  };
  return { accuracy: acc(), hamAccuracy: acc(0), spamAccuracy: acc(1), pred };
}

async function attackRows(model: string, c: TextClassifier, texts: string[], attacks: TextAttackName[], synonyms: ReturnType<typeof loadWordNet>['synonyms']): Promise<AttackRow[]> {
  const rows: AttackRow[] = [];
  for (const name of attacks) {
    const start = performance.now();
    const results: TextAttackResult[] = [];
    for (const text of texts) results.push(await runTextAttack(name, c, text, { label: 0, targeted: true }, { budget: 5, seed: 1, synonyms }));
    const row = summarizeRuns(model, name, results, (performance.now() - start) / 1000);
    rows.push(row);
    console.log(JSON.stringify(row));
  }
  return rows;
}

/** The defended models against models/spam-word, every attack on the same texts. */
/**
 * The defended models against models/spam-word, every attack on the same texts. With `previous`
 * (--reuse), a model not trained in this run keeps its rows from there when they cover the same
 * number of texts (the subset is a function of models/spam-word and --limit).
 */
async function adversarialSection(methods: TextAdversarialMethod[], attacks: TextAttackName[], limit: number, synonyms: ReturnType<typeof loadWordNet>['synonyms'], previous?: AdvResults): Promise<AdvResults> {
  const splits = loadSpam();
  const basePlan = PLANS.find((p) => p.name === 'word')!;
  const base = existsSync(join(basePlan.dir, 'model.json')) ? await loadTextClassifier(basePlan.dir) : await train(basePlan, splits.train, splits.test);
  const baseAcc = await classAccuracies(base, splits.test);
  const texts = splits.test.filter((e, i) => e.label === 1 && baseAcc.pred[i] === 1).slice(0, limit).map((e) => e.text);
  const baseInfo = JSON.parse(readFileSync(join(basePlan.dir, 'text.json'), 'utf8')) as { trainSeconds?: number };
  const models: AdvModelRow[] = [{ model: basePlan.dir, training: `clean, ${basePlan.epochs} epochs (the baseline)`, accuracy: baseAcc.accuracy, hamAccuracy: baseAcc.hamAccuracy, spamAccuracy: baseAcc.spamAccuracy, cleanMisses: 0, trainSeconds: baseInfo.trainSeconds }];
  const reuse = (model: string): AttackRow[] | undefined => {
    if (!previous || previous.limit !== texts.length) return undefined;
    const old = attacks.map((a) => previous.rows.find((r) => r.model === model && r.attack === a));
    return old.every((r) => r !== undefined) ? (old as AttackRow[]) : undefined;
  };
  const rows = reuse(basePlan.dir) ?? (await attackRows(basePlan.dir, base, texts, attacks, synonyms));
  for (const method of methods) {
    const plan = ADV_PLANS[method];
    let defended: TextClassifier;
    let trainSeconds: number | undefined;
    const retrain = process.argv.includes('--train-adv') || !existsSync(join(plan.dir, 'model.json'));
    if (retrain) ({ classifier: defended, seconds: trainSeconds } = await trainAdversarial(plan, base, splits.train, splits.test));
    else {
      defended = await loadTextClassifier(plan.dir);
      const info = JSON.parse(readFileSync(join(plan.dir, 'text.json'), 'utf8')) as { trainSeconds?: number };
      trainSeconds = info.trainSeconds;
    }
    const a = await classAccuracies(defended, splits.test);
    const p = await defended.predict(texts);
    models.push({ model: plan.dir, training: plan.describe, accuracy: a.accuracy, hamAccuracy: a.hamAccuracy, spamAccuracy: a.spamAccuracy, cleanMisses: p.filter((k) => k === 0).length, trainSeconds });
    rows.push(...((!retrain && reuse(plan.dir)) || (await attackRows(plan.dir, defended, texts, attacks, synonyms))));
  }
  return { limit: texts.length, models, rows };
}

function adversarialTable(adv: AdvResults): string {
  const attacks = [...new Set(adv.rows.map((r) => r.attack))];
  // A clean mistake is a success with 0 edits (the attacks stop at once) and no other text
  // succeeds with 0 edits, so the rates on the texts a model still gets right follow from the row.
  const misses = (r: AttackRow) => adv.models.find((m) => m.model === r.model)?.cleanMisses ?? 0;
  const onRight = (r: AttackRow, b: number) => pct((r.success[b] * r.count - misses(r)) / (r.count - misses(r)));
  const edited = (r: AttackRow) => {
    const wins = r.success[5] * r.count - misses(r);
    const mean = r.meanEdits[5] as number | null;
    return wins > 0 && mean !== null && !Number.isNaN(mean) ? ((mean * r.success[5] * r.count) / wins).toFixed(2) : '–';
  };
  return [
    '### Adversarial training (word CNN)',
    '',
    `Written by \`node --import tsx bench/text-results.ts --only adv\` (src/text/adversarial-training.ts). Each defended model has models/spam-word's recipe (vocabulary, seed 1, same batches, same first clean epochs) with its last epoch on clean texts plus adversarial copies of every training text (ham and spam), labelled with their true labels. HotFlip and Liang are white-box (HotFlip is the attack trained against; Liang also deletes, inserts and makes typos); DeepWordBug and synonyms are black-box, never seen in training. All attacks run on the same ${adv.limit} test spam messages models/spam-word gets right, targeted at ham with a budget of 5. A defended model already calls some of them ham: those count as successes with 0 edits in "success", and are left out of "on the texts it gets right" and of the mean edits. Ham accuracy is 1 − the false-positive rate.`,
    '',
    '| model | training | clean test accuracy | ham | spam | subset already ham | train s |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: |',
    ...adv.models.map((m) => `| ${m.model} | ${m.training} | ${pct(m.accuracy)} | ${pct(m.hamAccuracy)} | ${pct(m.spamAccuracy)} | ${m.cleanMisses} | ${m.trainSeconds === undefined ? '–' : m.trainSeconds.toFixed(0)} |`),
    '',
    '| attack | model | success @1 | @3 | @5 | on the texts it gets right @1 | @3 | @5 | mean edits @5 | mean queries | s |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...attacks.flatMap((a) => adv.rows.filter((r) => r.attack === a).map((r) => `| ${r.attack} | ${r.model} | ${pct(r.success[1])} | ${pct(r.success[3])} | ${pct(r.success[5])} | ${onRight(r, 1)} | ${onRight(r, 3)} | ${onRight(r, 5)} | ${edited(r)} | ${r.meanQueries.toFixed(0)} | ${r.seconds.toFixed(0)} |`)),
  ].join('\n');
}

function writeResultsSection(section: string): void {
  replaceSection('RESULTS.md', 'text-attacks', section, { newFile: '', ifMissing: appendSection() });
}

interface SavedResults {
  limit: number;
  budgets: number[];
  accuracies: Record<string, number>;
  rows: AttackRow[];
  adversarial?: AdvResults;
}

const RESULTS_JSON = 'runs/text-results/results.json';

async function main(): Promise<void> {
  await useBackend('wasm');
  const limit = Number(arg('limit') ?? 200);
  const only = arg('only');
  if (only !== undefined && !['word', 'char', 'adv'].includes(only)) throw new Error(`--only takes word, char or adv, got ${only}`);
  const attacks = (arg('attacks')?.split(',') ?? Object.keys(TEXT_ATTACKS)) as TextAttackName[];
  // Both defences by default, so that the README's bare line writes the section whole.
  const methods = (arg('adv-methods')?.split(',') ?? Object.keys(ADV_PLANS)) as TextAdversarialMethod[];
  for (const m of methods) if (!(m in ADV_PLANS)) throw new Error(`--adv-methods: unknown method ${m} (${Object.keys(ADV_PLANS).join(', ')})`);
  const splits = loadSpam();
  const accuracies: Record<string, number> = {};
  const rows: AttackRow[] = [];
  const synonyms = loadWordNet().synonyms;
  for (const plan of PLANS.filter((p) => !only || p.name === only)) {
    const classifier = process.argv.includes('--train') || !existsSync(join(plan.dir, 'model.json')) ? await train(plan, splits.train, splits.test) : await loadTextClassifier(plan.dir);
    if (process.argv.includes('--train-only')) continue;
    const testTexts = splits.test.map((e) => e.text);
    const pred = await classifier.predict(testTexts);
    accuracies[plan.dir] = pred.filter((p, i) => p === splits.test[i].label).length / pred.length;
    const chosen = splits.test.filter((e, i) => e.label === 1 && pred[i] === 1).slice(0, limit).map((e) => e.text);
    rows.push(...(await attackRows(plan.dir, classifier, chosen, attacks, synonyms)));
  }
  if (process.argv.includes('--train-only')) return;
  // Merge with the last run's numbers: a run of one part keeps the others.
  const old: Partial<SavedResults> = existsSync(RESULTS_JSON) ? (JSON.parse(readFileSync(RESULTS_JSON, 'utf8')) as Partial<SavedResults>) : {};
  const adversarial = !only || only === 'adv' ? await adversarialSection(methods, attacks, limit, synonyms, process.argv.includes('--reuse') ? old.adversarial : undefined) : undefined;
  const rerun = new Set(Object.keys(accuracies));
  const merged: SavedResults = {
    limit: rerun.size ? limit : (old.limit ?? limit),
    budgets: BUDGETS,
    accuracies: { ...Object.fromEntries(Object.entries(old.accuracies ?? {}).filter(([m]) => !rerun.has(m))), ...accuracies },
    rows: [...(old.rows ?? []).filter((r) => !rerun.has(r.model)), ...rows],
    adversarial: adversarial ?? old.adversarial,
  };
  const order = PLANS.map((p) => p.dir);
  merged.rows.sort((a, b) => order.indexOf(a.model) - order.indexOf(b.model));
  const section = [table(merged.accuracies, merged.rows, merged.limit), ...(merged.adversarial ? ['', adversarialTable(merged.adversarial)] : [])].join('\n');
  if (process.argv.includes('--no-write')) {
    console.log(section);
    return;
  }
  writeFileAtomic(RESULTS_JSON, JSON.stringify(merged, null, 2));
  writeResultsSection(section);
  console.log(section);
}

await main();
