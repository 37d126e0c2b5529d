/** `advx robustness`: robust accuracy per ε and attack, worst case over attacks, a curve, sanity checks. */
import { Command } from 'commander';
import { AdvxError } from '../core/errors.ts';
import { parseSuite, planAttacks, SUITES } from '../eval/robustness.ts';
import { ATTACKS, checkAccess } from '../attacks/index.ts';
import { isRemoteModel } from '../models/remote.ts';
import { parseBackend } from '../backend/index.ts';
import { isDataPath } from '../node/datasets/image-folder.ts';
import { runRobustness, type RobustnessSummary } from '../node/runs/robustness.ts';
import { precheckModel, checkRemoteFlags, type RemoteFlags } from '../node/runs/inputs.ts';
import { DATA_HELP, quietOption, numberList, withRemote, parseNorm, seedInt, positiveInt, positiveNumber, printJson, startBackend, withBackend, type BackendFlags } from './common.ts';
import { COMMANDS } from './commands.ts';
import { poolByDefault, runHere, withDistribution, type DistributionFlags } from './distribute.ts';

interface RobustnessFlags extends DistributionFlags, BackendFlags, RemoteFlags {
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
  quiet?: boolean;
}

export function robustnessCommand(): Command {
  return withDistribution(withRemote(withBackend(new Command('robustness'))))
    .description(COMMANDS.robustness.summary)
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
    .option('--out <dir>', 'folder for config.json, examples.jsonl (per-example results), results.json, curve.svg, curve.png and report.html')
    .option('--shard <i/N>', 'evaluate only shard i of N (i from 0; blocks of --batch inputs dealt round-robin) into --out; `advx merge` joins the N shards into the unsharded run\'s results')
    .option('--json', 'print {"clean_accuracy":…, "robust_accuracy":{…}, "per_attack":{…}, "warnings":[…]} as the last line')
    .addOption(quietOption())
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
  const print = (report: RobustnessSummary) => printReport(report, flags, attacks, eps);
  const here = await runHere('robustness', flags, [flags.model], { workers: poolByDefault(flags, remote), print });
  if (!here) return;
  const { run, shard } = here;
  await startBackend(flags);
  const report = await runRobustness({ ...flags, attacks, suite, eps, norm, shard }, run);
  if (flags.json) printJson(report);
  else {
    if (shard) process.stdout.write(`shard ${shard.index}/${shard.count} of the run: ${report.count} of its images; advx merge joins the shards\n`);
    print(report);
  }
}

function printReport(report: RobustnessSummary, flags: RobustnessFlags, attacks: string[], eps: number[]): void {
  const kind = report.mode === 'cascade' ? 'each attack on the inputs the earlier ones failed on; robust accuracy after it' : 'each attack on every input';
  process.stdout.write(`clean accuracy ${(report.clean_accuracy * 100).toFixed(2)}% on ${report.count} images (${kind})\n`);
  process.stdout.write(`ε        ${attacks.map((a) => a.padStart(10)).join('')}  worst case\n`);
  for (const e of eps) {
    process.stdout.write(`${String(e).padEnd(8)} ${attacks.map((a) => (report.per_attack[a][String(e)] * 100).toFixed(1).padStart(9) + '%').join('')}  ${(report.robust_accuracy[String(e)] * 100).toFixed(1)}%\n`);
  }
  const queried = report.attacks.filter((a) => a.queries);
  if (queried.length) process.stdout.write(`queries per attack (all ε): ${queried.map((a) => `${a.name} ${Object.values(a.queries!).reduce((s, q) => s + q, 0)}`).join(', ')}\n`);
  if (report.endpoint) process.stdout.write(`${flags.model} answered ${report.endpoint.queries} images in ${report.endpoint.requests} requests (attacks, clean predictions and re-checks)\n`);
  const minimal = report.attacks.filter((a) => a.budget === 'minimal-norm').map((a) => a.name);
  if (minimal.length) process.stdout.write(`minimal-norm attacks (counted at ε only where their perturbation, projected onto the ε-ball, still fools): ${minimal.join(', ')}\n`);
}
