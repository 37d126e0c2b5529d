/** `advx robustness`: robust accuracy per ε and attack, worst case over attacks, a curve, sanity checks. */
import { Command } from 'commander';
import * as tf from '@tensorflow/tfjs-core';
import { AdvxError, ServiceError } from '../core/errors.ts';
import { toTensors } from '../data/types.ts';
import { evaluateRobustness, parseSuite, planAttacks, SUITES, type RobustnessReport } from '../eval/robustness.ts';
import { ATTACKS, checkAccess } from '../attacks/index.ts';
import { isRemoteModel, RemoteModel } from '../models/remote.ts';
import { lineChartSvg } from '../report/plot.ts';
import { writeFileAtomic } from '../node/io/files.ts';
import { writeResults as writeRunResults } from '../node/runs/results.ts';
import { openRunFolder, type RunFolder } from '../node/runs/folder.ts';
import { parseBackend } from '../backend/index.ts';
import { writeRobustnessReport } from '../node/runs/reports.ts';
import { svgToPng } from '../node/io/svg-png.ts';
import { progress, type Progress } from '../node/io/progress.ts';
import { isDataPath } from '../node/datasets/image-folder.ts';
import { DATA_HELP, precheckModel, numberList, loadModelAndData, loadRemoteAndData, checkRemoteFlags, withRemote, type RemoteFlags, parseNorm, nonNegativeInt, seedInt, positiveInt, positiveNumber, printJson, startBackend, withBackend, type BackendFlags } from './common.ts';

interface RobustnessFlags extends BackendFlags, RemoteFlags {
  model: string;
  attacks?: string;
  suite?: string;
  eps: string;
  norm: string;
  steps?: number;
  stepSize?: number;
  queries?: number;
  restarts?: number;
  seed: number;
  data: string;
  limit: number;
  batch: number;
  fullTable?: boolean;
  out?: string;
  json?: boolean;
}

export function robustnessCommand(): Command {
  return withRemote(withBackend(new Command('robustness')))
    .description('robust accuracy against several attacks (or a standard suite) over a range of ε, with the worst case per input; of a TF.js model, or of a served one with score- or decision-based attacks')
    .requiredOption('--model <path|url>', 'folder with model.json, or an http(s) endpoint with --protocol')
    .option('--attacks <list>', `comma-separated attacks, run in this order (default fgsm,pgd): ${Object.keys(ATTACKS).join(', ')}`)
    .option('--suite <name>', `a fixed ensemble instead of --attacks: ${Object.entries(SUITES).map(([k, v]) => `${k} (${v.title})`).join('; ')}`)
    .option('--eps <list>', 'comma-separated budgets', '0,0.05,0.1,0.15,0.2,0.25,0.3')
    .option('--norm <name>', 'linf or l2', 'linf')
    .option('--steps <n>', 'iterations of iterative attacks (default: each attack\'s own)', positiveInt('--steps'))
    .option('--queries <n>', 'query budget per example (black-box attacks; default: each attack\'s own)', positiveInt('--queries'))
    .option('--step-size <x>', 'step size α (default per attack)', positiveNumber('--step-size'))
    .option('--restarts <n>', 'random restarts (default: each attack\'s own)', positiveInt('--restarts'))
    .option('--seed <n>', 'seed', seedInt('--seed'), 0)
    .option('--data <name|path>', DATA_HELP, 'mnist')
    .option('--limit <n>', 'first n test images', positiveInt('--limit'), 1000)
    .option('--batch <n>', 'inputs per attack call', positiveInt('--batch'), 128)
    .option('--full-table', 'run every attack on every input (each attack\'s own robust accuracy), not only on the inputs the earlier attacks failed on')
    .option('--out <dir>', 'folder for results.json, curve.svg, curve.png and report.html')
    .option('--json', 'print {"clean_accuracy":…, "robust_accuracy":{…}, "per_attack":{…}, "warnings":[…]} as the last line')
    .action((flags: RobustnessFlags) => robustness(flags));
}

function parseEps(list: string): number[] {
  return [...new Set(numberList('--eps', list))].sort((a, b) => a - b);
}

async function robustness(flags: RobustnessFlags): Promise<void> {
  const norm = parseNorm(flags.norm);
  if (flags.suite && flags.attacks) throw new AdvxError('give --suite or --attacks, not both');
  const suite = flags.suite ? parseSuite(flags.suite) : undefined;
  if (suite) {
    for (const [flag, v] of [['--steps', flags.steps], ['--queries', flags.queries], ['--restarts', flags.restarts], ['--step-size', flags.stepSize]] as const) {
      if (v !== undefined) throw new AdvxError(`${flag} does not apply with --suite: the suite fixes each attack's settings`);
    }
  }
  const attacks = suite ? SUITES[suite].attacks.map((a) => a.name) : (flags.attacks ?? 'fgsm,pgd').split(',').map((s) => s.trim()).filter(Boolean);
  const eps = parseEps(flags.eps);
  // Unknown names, unsupported norms and duplicates fail here, before the model loads.
  const plan = planAttacks({ attacks: suite ? undefined : attacks, suite, eps, norm }, norm);
  checkRemoteFlags(flags.model, flags, flags.data);
  const remote = isRemoteModel(flags.model);
  if (remote) {
    // A served model gives scores (or labels) only: attacks and suites that need more are refused here.
    const access = flags.labelsOnly ? 'decision' : 'score';
    for (const p of plan) {
      try {
        checkAccess(p.descriptor, access, flags.model);
      } catch (e) {
        if (suite && e instanceof AdvxError) throw new AdvxError(`--suite ${suite} runs ${p.descriptor.name}, which needs ${p.descriptor.access} access (${p.descriptor.access === 'white-box' ? 'gradients' : 'scores'}), but ${flags.model} gives ${access} access only: pass --attacks instead (${Object.values(ATTACKS).filter((a) => a.access === access || (access === 'score' && a.access === 'decision')).map((a) => a.name).join(', ')})`);
        throw e;
      }
    }
  } else if (isDataPath(flags.data)) await precheckModel(flags.model, flags.data); // the user's files, before anything is written
  parseBackend(flags.backend);
  const run = flags.out !== undefined ? openRunFolder(flags.out, { command: 'robustness' }) : undefined;
  await startBackend(flags);
  const { classifier, data, labelsNote } = remote ? await loadRemoteAndData(flags.model, flags, flags.data, 'test', flags.limit) : await loadModelAndData(flags.model, flags.data, 'test', flags.limit);
  // What the endpoint answered, all told: clean predictions, the attacks' queries and the re-checks.
  const endpoint = () => (classifier instanceof RemoteModel ? { endpoint: { url: flags.model, protocol: flags.protocol, access: classifier.access, queries: classifier.queries, requests: classifier.requests } } : {});
  const { x, y } = toTensors(data);
  let bar: Progress | undefined;
  const report = await evaluateRobustness(classifier, x, y, {
    attacks: suite ? undefined : attacks,
    suite,
    eps,
    norm,
    steps: flags.steps,
    stepSize: flags.stepSize,
    restarts: flags.restarts,
    queries: flags.queries,
    seed: flags.seed,
    batchSize: flags.batch,
    cascade: !flags.fullTable,
    // Progress goes to stderr, also with --json: stdout keeps only the JSON line.
    onProgress: (p) => {
      if (p.done === 0) {
        bar?.stop();
        bar = progress(`${p.attack} ε=${p.eps} (${p.total} inputs)`, p.total);
      }
      bar?.update(p.done, {});
    },
  }).catch((e) => {
    bar?.stop();
    // A server that stopped answering: the ε values finished are kept, marked partial, then the one line.
    if (e instanceof ServiceError && e.partial && run) writeResults(run, flags, { ...(e.partial as RobustnessReport), ...endpoint(), ...labelsNote });
    throw e;
  });
  bar?.stop();
  tf.dispose([x, y]);
  for (const w of report.warnings) process.stderr.write(`warning: ${w}\n`);
  if (run) {
    const series = [
      ...attacks.map((a) => ({ name: a, x: eps, y: eps.map((e) => report.per_attack[a][String(e)]) })),
      ...(attacks.length > 1 ? [{ name: 'worst case', x: eps, y: eps.map((e) => report.robust_accuracy[String(e)]), dashed: true }] : []),
    ];
    const svg = lineChartSvg(series, { title: `Robust accuracy, ${report.count} ${flags.data} test images`, xLabel: `ε (${flags.norm === 'linf' ? 'L∞' : 'L2'})`, yLabel: 'accuracy', yDomain: [0, 1] });
    writeResults(run, flags, { ...report, ...endpoint(), ...labelsNote });
    writeFileAtomic(run.path('curve.svg'), svg);
    writeFileAtomic(run.path('curve.png'), svgToPng(svg));
    // The cascade at each ε: robust accuracy from clean (0) through each attack in order.
    const cascadeSvg =
      report.mode === 'cascade' && attacks.length > 1
        ? lineChartSvg(
            eps.filter((e) => e > 0).map((e) => ({ name: `ε ${e}`, x: attacks.map((_, i) => i).concat(attacks.length), y: [report.clean_accuracy, ...attacks.map((a) => report.per_attack[a][String(e)])] })),
            { title: 'Robust accuracy after each attack', xLabel: `attacks run (0 = clean; ${attacks.map((a, i) => `${i + 1} = ${a}`).join(', ')})`, yLabel: 'accuracy', yDomain: [0, 1] },
          )
        : undefined;
    writeRobustnessReport(run.dir, report, { model: flags.model, data: flags.data, attacks, curveSvg: svg, cascadeSvg });
  }
  if (flags.json) printJson({ ...report, ...endpoint(), ...labelsNote });
  else {
    const kind = report.mode === 'cascade' ? 'each attack on the inputs the earlier ones failed on; robust accuracy after it' : 'each attack on every input';
    process.stdout.write(`clean accuracy ${(report.clean_accuracy * 100).toFixed(2)}% on ${report.count} images (${kind})\n`);
    process.stdout.write(`ε        ${attacks.map((a) => a.padStart(10)).join('')}  worst case\n`);
    for (const e of eps) {
      process.stdout.write(`${String(e).padEnd(8)} ${attacks.map((a) => (report.per_attack[a][String(e)] * 100).toFixed(1).padStart(9) + '%').join('')}  ${(report.robust_accuracy[String(e)] * 100).toFixed(1)}%\n`);
    }
    const queried = report.attacks.filter((a) => a.queries);
    if (queried.length) process.stdout.write(`queries per attack (all ε): ${queried.map((a) => `${a.name} ${Object.values(a.queries!).reduce((s, q) => s + q, 0)}`).join(', ')}\n`);
    if (classifier instanceof RemoteModel) process.stdout.write(`${flags.model} answered ${classifier.queries} images in ${classifier.requests} requests (attacks, clean predictions and re-checks)\n`);
    const minimal = report.attacks.filter((a) => a.budget === 'minimal-norm').map((a) => a.name);
    if (minimal.length) process.stdout.write(`minimal-norm attacks (counted at ε only where their perturbation, projected onto the ε-ball, still fools): ${minimal.join(', ')}\n`);
  }
}

/** results.json: the report (the line --json prints) with the model and data, `partial` when a served model stopped answering. */
function writeResults(run: RunFolder, flags: RobustnessFlags, report: RobustnessReport & Record<string, unknown>): void {
  writeRunResults(run.dir, 'robustness', { model: flags.model, data: flags.data, ...report });
}
