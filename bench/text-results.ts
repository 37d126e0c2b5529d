/**
 * The text-attack numbers of RESULTS.md: clean test accuracy of the two spam classifiers, and
 * each attack's success rate and mean edits at budgets of 1, 3 and 5 edits, over a fixed subset
 * of the test set (the first --limit test spam messages the model gets right, ham as the
 * target class).
 *
 *   node --import tsx bench/text-results.ts [--train | --train-only] [--limit 200] [--only word|char] [--attacks a,b] [--no-write]
 *
 * --train (or a missing model) first trains models/spam-word and models/spam-char (seeded) on
 * advx's SpamAssassin split. Each attack runs once with a budget of 5: the attacks are greedy (or
 * a beam that never looks ahead), so their first k edits are what a run with budget k does, and
 * success at budget k is success with at most k edits. Writes runs/text-results/results.json and
 * the section of RESULTS.md between the text-attacks markers.
 */
import { existsSync, readFileSync, statSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { useBackend } from '../src/backend/index.ts';
import { writeFileAtomic } from '../src/node/io.ts';
import { loadSpam, type TextExample } from '../src/node/spam.ts';
import { loadTextClassifier, saveTextClassifier } from '../src/node/text-model.ts';
import { loadWordNet } from '../src/node/wordnet.ts';
import { buildTextClassifier, type TextClassifier } from '../src/text/models.ts';
import { tokenize } from '../src/text/tokenize.ts';
import { fitText, textAccuracy } from '../src/text/train.ts';
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
    ...rows.map((r) => `| ${r.model} | ${r.attack} | ${pct(r.success[1])} | ${pct(r.success[3])} | ${pct(r.success[5])} | ${Number.isNaN(r.meanEdits[5]) ? '–' : r.meanEdits[5].toFixed(2)} | ${r.meanQueries.toFixed(0)} | ${r.seconds.toFixed(0)} |`),
  ];
  return lines.join('\n');
}

function writeResultsSection(section: string): void {
  const file = 'RESULTS.md';
  const start = '<!-- text-attacks:start -->';
  const end = '<!-- text-attacks:end -->';
  const old = existsSync(file) ? readFileSync(file, 'utf8') : '';
  const block = `${start}\n${section}\n${end}`;
  const i = old.indexOf(start);
  const j = old.indexOf(end);
  const next = i >= 0 && j > i ? old.slice(0, i) + block + old.slice(j + end.length) : `${old.replace(/\n*$/, '\n\n')}${block}\n`;
  writeFileAtomic(file, next);
}

async function main(): Promise<void> {
  await useBackend('wasm');
  const limit = Number(arg('limit') ?? 200);
  const only = arg('only');
  const attacks = (arg('attacks')?.split(',') ?? Object.keys(TEXT_ATTACKS)) as TextAttackName[];
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
    for (const name of attacks) {
      const start = performance.now();
      const results: TextAttackResult[] = [];
      for (const text of chosen) results.push(await runTextAttack(name, classifier, text, { label: 0, targeted: true }, { budget: 5, seed: 1, synonyms }));
      const row = summarizeRuns(plan.dir, name, results, (performance.now() - start) / 1000);
      rows.push(row);
      console.log(JSON.stringify(row));
    }
  }
  if (process.argv.includes('--train-only')) return;
  if (process.argv.includes('--no-write')) {
    console.log(table(accuracies, rows, limit));
    return;
  }
  writeFileAtomic('runs/text-results/results.json', JSON.stringify({ limit, budgets: BUDGETS, accuracies, rows }, null, 2));
  writeResultsSection(table(accuracies, rows, limit));
  console.log(table(accuracies, rows, limit));
}

await main();
