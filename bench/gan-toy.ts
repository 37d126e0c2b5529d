/**
 * `npm run results:gan-toy`: toy 2-D GANs side by side — ring of 8 and grid of 25 Gaussians (σ 0.02)
 * trained with the minimax ("vanilla"), non-saturating, hinge and WGAN-GP losses, fixed seeds,
 * scored by the mode-collapse protocol of src/gan/toy-metrics.ts on 2 500 samples — and the
 * minimax vs non-saturating gradient diagnostic. Writes runs/gan-toy/ (<section>.json, report.html,
 * SVGs) and, in RESULTS.md, each section between its own markers inside the gan-toy block, so that
 * `--only` (or two processes, one per section) rewrites just its own.
 *
 *   npm run results:gan-toy -- [--only ring,grid,saturation] [--losses minimax,ns,hinge,wgan-gp,best] [--scale 1] [--threads 1]
 *
 * --scale multiplies every run's steps (0.1 for a quick look; the section then says so).
 */
import * as tf from '@tensorflow/tfjs-core';
import { existsSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { useBackend } from '../src/backend/index.ts';
import type { GanLoss } from '../src/gan/losses.ts';
import type { Rng } from '../src/core/rng.ts';
import { sampleGenerator, trainGan, type GanTrainOptions } from '../src/gan/train.ts';
import { saturationDiagnostic, type SaturationSeries } from '../src/gan/diagnostics.ts';
import { modeCoverage, toyMixture, type ModeCoverage, type ToyMixtureName } from '../src/gan/toy-metrics.ts';
import { lineChartSvg } from '../src/report/plot.ts';
import { scatterSvg } from '../src/report/scatter.ts';
import { renderReport, type Block } from '../src/report/html.ts';
import { writeFileAtomic } from '../src/node/io/files.ts';
import { appendSection, findSection, markSection, replaceSection } from './sections.ts';

const SECTIONS = ['ring', 'grid', 'saturation'] as const;
type Section = (typeof SECTIONS)[number];
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({
  options: {
    only: { type: 'string', default: SECTIONS.join(',') },
    losses: { type: 'string', default: 'minimax,ns,hinge,wgan-gp,best' },
    scale: { type: 'string', default: '1' },
    threads: { type: 'string', default: '1' },
  },
});
const only = values.only.split(',').map((s) => s.trim());
for (const s of only) if (!(SECTIONS as readonly string[]).includes(s)) throw new Error(`unknown section "${s}": ${SECTIONS.join(', ')}`);
const runs = values.losses.split(',').map((s) => s.trim());
const scale = Number(values.scale);
if (!(scale > 0)) throw new Error(`--scale must be positive, got ${values.scale}`);
// One thread: for 128-wide layers the pthreads' synchronisation costs more than it saves.
await useBackend('wasm', { threads: Number(values.threads) });
const outDir = join(root, 'runs/gan-toy');
mkdirSync(outDir, { recursive: true });
const log = (s: string) => console.error(`[gan-toy] ${s}`);
const command = ['npm run results:gan-toy', ...(process.argv.length > 2 ? ['--', ...process.argv.slice(2)] : [])].join(' ');
const SAMPLES = 2500;
const SEED = 1;
const pct = (v: number) => `${(v * 100).toFixed(1)}%`;

/** Shared by every run: ReLU generator 8 → 128 → 128 → 2, leaky-ReLU discriminator 2 → 128 → 128 → 1. */
const BASE = { batchSize: 256, latentDim: 8, generatorHidden: [128, 128], discriminatorHidden: [128, 128], learningRate: 2e-3, ema: 0.999 };

/** The grid's second phase (see recipes). */
const SHARPEN_STEPS = 12000;
const SHARPEN_LR = 1e-3;

interface Recipe {
  name: string;
  options: Omit<GanTrainOptions, 'seed'>;
  /** A second phase that continues training the same networks (fresh Adam state and schedule). */
  then?: Omit<GanTrainOptions, 'seed'>;
}

/**
 * WGAN-GP's penalty weight on the toys: λ = 0.1, the value of the WGAN-GP authors' own toy script
 * (gan_toy.py: "smaller lambda seems to help for toy tasks specifically"); λ = 10 is their image
 * setting. With λ = 10 the critic is held to unit slope on every real–fake line, so the generator is
 * pushed with the same force wherever it is and never settles into modes 0.02 wide: on the ring,
 * 0/8 modes and 0.0% of samples within 3σ after 1 000 generator steps (the penalty itself is
 * right: test/gan/losses.test.ts checks it against closed forms and finite differences). Measured
 * on the ring, 5 critic steps, Adam 0.002 as the others (seed 1, generator's samples):
 *   λ 10:   500 steps 0/8, 0.2%;  1 000 steps 0/8, 0.0%
 *   λ 1:    500 steps 7/8, 13.8%; 1 000 steps 8/8, 61.8%
 *   λ 0.1:  500 steps 5/8, 9.1%;  1 000 steps 8/8, 59.2%; 2 000 steps 8/8, 84.1%
 *   λ 0.03: 1 000 steps 8/8, 51.3%
 * and at λ 0.1 a lower rate for as many steps (Adam 5e-4) 0/8, 0.5%; one critic step instead of
 * five 0/8, 0.2%. Its share within 3σ keeps growing with the steps, so WGAN-GP gets as many
 * generator steps as the other losses — each with 5 critic steps, hence about 4× their time.
 */
const WGAN_GP_LAMBDA = 0.1;

/** The runs of a set. */
function recipes(set: ToyMixtureName): Recipe[] {
  const steps = set === 'ring' ? 4000 : 6000;
  const all: Recipe[] = [
    { name: 'minimax', options: { ...BASE, loss: 'minimax', steps } },
    { name: 'ns', options: { ...BASE, loss: 'ns', steps } },
    { name: 'hinge', options: { ...BASE, loss: 'hinge', steps } },
    { name: 'wgan-gp', options: { ...BASE, loss: 'wgan-gp', gpWeight: WGAN_GP_LAMBDA, dSteps: 5, steps } },
    // R1 keeps the discriminator smooth on the data, which spreads the generator over every mode of
    // the grid, but also blunts it; a second phase without R1, at a lower rate, sharpens the modes.
    ...(set === 'grid' ? [{ name: 'best', options: { ...BASE, loss: 'ns' as GanLoss, r1Gamma: 0.1, steps }, then: { ...BASE, loss: 'ns' as GanLoss, steps: SHARPEN_STEPS, learningRate: SHARPEN_LR } }] : []),
  ];
  return all.filter((r) => runs.includes(r.name));
}

const LABELS: Record<GanLoss, string> = { minimax: 'minimax (vanilla)', ns: 'non-saturating', hinge: 'hinge', lsgan: 'least squares', 'wgan-gp': 'WGAN-GP' };
const describe = (r: Recipe) =>
  `${LABELS[r.options.loss]}${r.options.loss === 'wgan-gp' ? ` (λ ${r.options.gpWeight ?? 10}, ${r.options.dSteps ?? 5} critic steps)` : ''}${r.options.r1Gamma ? ` + R1 (γ ${r.options.r1Gamma})` : ''}${r.then ? `, then ${r.then.steps} steps without R1 at Adam ${r.then.learningRate}` : ''}`;

interface Row {
  recipe: string;
  loss: string;
  steps: number;
  seconds: number;
  generator: ModeCoverage;
  ema: ModeCoverage;
  /** How and when this row was measured: rows of one table may come from different runs (`--losses`). */
  date: string;
  command: string;
  scale: number;
}

/** Every recipe of a set, in table order, including those not run now. */
const ALL_RECIPES = (set: ToyMixtureName) => ['minimax', 'ns', 'hinge', 'wgan-gp', 'best'].filter((n) => set === 'grid' || n !== 'best');

async function toySection(set: ToyMixtureName): Promise<{ lines: string[]; blocks: Block[]; json: unknown }> {
  const mix = toyMixture(set);
  const rows: Row[] = [];
  const sampler = (n: number, rng: Rng) => mix.sample(n, rng);
  for (const recipe of recipes(set)) {
    const { name } = recipe;
    const scaled = (o: Recipe['options']) => ({ ...o, steps: Math.max(1, Math.round(o.steps * scale)), logEvery: 100 });
    const o = scaled(recipe.options);
    log(`${set} ${name}: ${o.steps}${recipe.then ? ` + ${scaled(recipe.then).steps}` : ''} steps…`);
    let r = await trainGan(sampler, { ...o, seed: SEED });
    let seconds = r.seconds;
    if (recipe.then) {
      r.ema?.dispose();
      r = await trainGan(sampler, { ...scaled(recipe.then), seed: SEED + 1, generator: r.generator, discriminator: r.discriminator });
      seconds += r.seconds;
    }
    const raw = await sampleGenerator(r.generator, SAMPLES, SEED + 1000);
    const averaged = await sampleGenerator(r.ema!, SAMPLES, SEED + 1000);
    const steps = o.steps + (recipe.then ? scaled(recipe.then).steps : 0);
    const row: Row = {
      recipe: name,
      loss: describe(recipe),
      steps,
      seconds,
      generator: modeCoverage(raw, mix.centers, mix.std),
      ema: modeCoverage(averaged, mix.centers, mix.std),
      date: new Date().toISOString().slice(0, 10),
      command,
      scale,
    };
    r.dispose();
    rows.push(row);
    const g = row.generator;
    log(`${set} ${name}: ${g.modesCaptured}/${g.totalModes} modes, ${pct(g.highQualityShare)} high quality (EMA ${row.ema.modesCaptured}, ${pct(row.ema.highQualityShare)}), ${row.seconds.toFixed(0)} s`);
    const file = `${set}-${name}.svg`;
    const idx = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);
    const svg = scatterSvg(new Float32Array([...raw, ...mix.centers]), [
      { label: 'samples', color: '#1f77b4', indices: idx(0, SAMPLES) },
      { label: 'mode centres', color: '#d62728', indices: idx(SAMPLES, SAMPLES + mix.centers.length / 2), marker: 'cross' },
    ], { title: `${set}, ${name}: ${g.modesCaptured}/${g.totalModes} modes, ${pct(g.highQualityShare)} within 3σ`, width: 520, height: 420 });
    writeFileAtomic(join(outDir, file), svg);
  }
  // Rows measured earlier (runs/gan-toy/<set>.json, read now: another process may have just written
  // it) stay in the table unless this run remeasured them.
  const stored = join(outDir, `${set}.json`);
  const earlier: Row[] = existsSync(stored) ? ((JSON.parse(readFileSync(stored, 'utf8')) as { result?: { rows?: Row[] } }).result?.rows ?? []) : [];
  for (const r of earlier) if (!rows.some((x) => x.recipe === r.recipe) && typeof r.command === 'string') rows.push(r);
  const order = ALL_RECIPES(set);
  rows.sort((a, b) => order.indexOf(a.recipe) - order.indexOf(b.recipe));
  const commands = [...new Set(rows.map((r) => `${r.date} by \`${r.command}\``))];
  const blocks: Block[] = rows.map((r) => ({ kind: 'image', src: `${set}-${r.recipe}.svg`, caption: `${set}, ${r.loss}` }));
  const lines = [
    `${set === 'ring' ? 'Ring of 8' : 'Grid of 25'} (σ 0.02), ${SAMPLES} samples of the generator, and of the EMA of its weights (β ${BASE.ema}, TF's warm-up):`,
    '',
    '| loss | generator steps | modes captured | high-quality samples | EMA: modes | EMA: high quality | training time |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows.map((r) => `| ${r.loss} | ${r.steps} | ${r.generator.modesCaptured}/${r.generator.totalModes} | ${pct(r.generator.highQualityShare)} | ${r.ema.modesCaptured}/${r.ema.totalModes} | ${pct(r.ema.highQualityShare)} | ${r.seconds.toFixed(0)} s |`),
    '',
    ...(commands.length > 1 ? [`Rows measured ${commands.join('; ')}.`, ''] : []),
  ];
  blocks.unshift({ kind: 'table', columns: ['loss', 'steps', 'modes', 'high quality', 'EMA modes', 'EMA high quality', 'seconds'], rows: rows.map((r) => [r.loss, r.steps, `${r.generator.modesCaptured}/${r.generator.totalModes}`, pct(r.generator.highQualityShare), `${r.ema.modesCaptured}/${r.ema.totalModes}`, pct(r.ema.highQualityShare), Math.round(r.seconds)]) });
  blocks.unshift({ kind: 'heading', text: set });
  return { lines, blocks, json: { set, base: BASE, recipes: recipes(set), rows } };
}

/** The lecture point: a fresh D trained against a fixed, untrained G on the ring; G's gradient under both losses. */
async function saturationSection(): Promise<{ lines: string[]; blocks: Block[]; json: SaturationSeries }> {
  const ring = toyMixture('ring');
  const steps = Math.max(10, Math.round(400 * scale / 10) * 10);
  const s = await saturationDiagnostic((n, rng) => ring.sample(n, rng), { seed: SEED, steps, evalEvery: 10 });
  const log10 = (v: number[]) => v.map((x) => Math.log10(Math.max(x, 1e-12)));
  writeFileAtomic(join(outDir, 'saturation.svg'), lineChartSvg([
    { name: 'minimax', x: s.step, y: log10(s.minimax) },
    { name: 'non-saturating', x: s.step, y: log10(s.nonSaturating) },
    { name: 'log10 D(G(z))', x: s.step, y: log10(s.fakeProbability), dashed: true },
  ], { title: 'Generator gradient while D learns to reject a fixed G', xLabel: 'discriminator steps', yLabel: 'log10 ‖∇θ_G L_G‖' }));
  const marks = [0, 0.125, 0.25, 0.5, 1].map((f) => Math.round((f * steps) / 10) * 10);
  const at = (k: number) => s.step.indexOf(k);
  const lines = [
    'Why the non-saturating generator loss replaces the minimax one: a fresh discriminator (2 → 128 → 128 → 1, leaky ReLU) trained with Adam 2e-3 against a fixed, untrained generator (8 → 128 → 128 → 2, ReLU) on the ring; the norm of the generator\'s parameter gradient under each loss, on the same 256 z (`saturationDiagnostic`):',
    '',
    `| discriminator steps | ${marks.join(' | ')} |`,
    `| --- |${marks.map(() => ' ---: |').join('')}`,
    `| mean D(G(z)) | ${marks.map((k) => s.fakeProbability[at(k)].toExponential(1)).join(' | ')} |`,
    `| ‖∇θ_G‖, minimax log(1 − D(G(z))) | ${marks.map((k) => s.minimax[at(k)].toExponential(1)).join(' | ')} |`,
    `| ‖∇θ_G‖, non-saturating −log D(G(z)) | ${marks.map((k) => s.nonSaturating[at(k)].toExponential(1)).join(' | ')} |`,
    '',
  ];
  return { lines, blocks: [{ kind: 'heading', text: 'saturation' }, { kind: 'image', src: 'saturation.svg', caption: 'minimax vs non-saturating generator gradient' }], json: s };
}

const machine = `${cpus().length} × ${cpus()[0]?.model}, wasm backend, ${values.threads} thread(s), shared with other jobs`;
const path = join(root, 'RESULTS.md');
for (const section of SECTIONS.filter((s) => only.includes(s)) as Section[]) {
  const t0 = performance.now();
  const { lines, blocks, json } = section === 'saturation' ? await saturationSection() : await toySection(section);
  const minutes = (performance.now() - t0) / 60000;
  lines.push(`Measured on ${machine}; the last run, ${new Date().toISOString().slice(0, 10)}, took ${minutes.toFixed(1)} min${scale !== 1 ? ` (steps scaled by ${scale})` : ''}: \`${command}\`.`, '');
  writeFileAtomic(join(outDir, `${section}.json`), JSON.stringify({ command, machine, samples: SAMPLES, seed: SEED, scale, minutes, result: json }, null, 2));
  writeFileAtomic(join(outDir, `${section}.blocks.json`), JSON.stringify(blocks));
  // Read RESULTS.md just before writing: another process may have rewritten another section meanwhile.
  const text = existsSync(path) ? readFileSync(path, 'utf8') : '';
  const kept = new Map(SECTIONS.map((name) => [name, findSection(text, `gan-toy:${name}`)]));
  kept.set(section, markSection(`gan-toy:${section}`, lines.join('\n')));
  const markdown = [
    `Toy GANs (\`src/gan/\`): ${BASE.latentDim}-d Gaussian z, batch ${BASE.batchSize}, Adam ${BASE.learningRate} (β 0.5, 0.9) decayed linearly to 0, seed ${SEED}. Mode-collapse protocol of VEEGAN/PacGAN: a sample is high quality within 3σ (0.06) of its nearest mode (real data: 98.9%), a mode is captured with at least 20 of the ${SAMPLES}. Samples and plots: \`runs/gan-toy/report.html\`.`,
    '',
    ...[...kept.values()].filter(Boolean),
  ].join('\n');
  replaceSection(path, 'gan-toy', markdown, { note: '(written by `npm run results:gan-toy`)', newFile: '# Results\n', ifMissing: appendSection('## Toy GANs') });
  console.log(lines.join('\n'));
}

// The report gathers every section's pictures written so far, this run's or an earlier one's.
const blocks = readdirSync(outDir)
  .filter((f) => f.endsWith('.blocks.json'))
  .sort((a, b) => SECTIONS.indexOf(a.split('.')[0] as Section) - SECTIONS.indexOf(b.split('.')[0] as Section))
  .flatMap((f) => JSON.parse(readFileSync(join(outDir, f), 'utf8')) as Block[]);
writeFileAtomic(join(outDir, 'report.html'), renderReport('Toy 2-D GANs', blocks));
log(`tensors left: ${tf.memory().numTensors}`);
process.exit(0);
