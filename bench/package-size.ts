/**
 * What installing advx costs a user, before and after it became a built package: the tarball,
 * the consumer's node_modules (library only; and the whole CLI with every dataset package), and
 * how long `advx --help` and `import 'advx'` take to start. Writes BENCHMARKS.md's "package"
 * section.
 *
 *   npm run build && npm run bench:package [-- --before <git ref>]
 *
 * "Before" is the package as it was at `--before` (default: the last commit before the build),
 * packed from a `git archive` of that commit. Installs take packages from npm's cache where it has
 * them (--prefer-offline). Sizes are the files' bytes (MB = 10^6 bytes), not disk blocks.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { DATASET_PACKAGES, OTHER_OPTIONAL_PACKAGES } from '../src/node/datasets/index.ts';
import { markSection, replaceSection } from './sections.ts';

const ROOT = new URL('..', import.meta.url).pathname;
const { values } = parseArgs({ options: { before: { type: 'string', default: '068828e' }, runs: { type: 'string', default: '7' } } });
const RUNS = Number(values.runs);

function npm(args: string[], cwd: string): string {
  return execFileSync('npm', [...args, '--no-audit', '--no-fund', '--loglevel=error'], { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
}

/** Bytes of every file under `path` (links counted as links, not followed). */
function bytes(path: string): number {
  const s = lstatSync(path);
  if (!s.isDirectory()) return s.size;
  return readdirSync(path).reduce((sum, name) => sum + bytes(join(path, name)), 0);
}

const mb = (n: number) => `${(n / 1e6).toFixed(1)} MB`;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/**
 * Median wall times of each command over RUNS rounds (after one unmeasured warm-up round), the
 * commands taking turns within a round so that a change in the machine's load hits all alike;
 * and whether each always succeeded.
 */
function startTimes(commands: { args: string[]; cwd: string }[]): { ms: number; ok: boolean }[] {
  const times = commands.map(() => [] as number[]);
  const ok = commands.map(() => true);
  for (let round = -1; round < RUNS; round++) {
    commands.forEach(({ args, cwd }, c) => {
      const t0 = performance.now();
      const r = spawnSync(process.execPath, args, { cwd, encoding: 'utf8' });
      if (round < 0) return;
      times[c].push(performance.now() - t0);
      ok[c] &&= r.status === 0;
    });
  }
  return times.map((t, c) => ({ ms: median(t), ok: ok[c] }));
}

interface Packed {
  tarball: string;
  size: number;
  unpacked: number;
  files: number;
}

function pack(dir: string, into: string): Packed {
  const [info] = JSON.parse(npm(['pack', '--ignore-scripts', '--json', '--pack-destination', into], dir)) as { filename: string; size: number; unpackedSize: number; files: unknown[] }[];
  return { tarball: join(into, info.filename), size: info.size, unpacked: info.unpackedSize, files: info.files.length };
}

interface Measured extends Packed {
  installSeconds: number;
  nodeModules: number;
  tfjs: number;
  advx: number;
  /** `advx --help` and `import 'advx'`, to time. */
  help: { args: string[]; cwd: string };
  importAdvx: { args: string[]; cwd: string };
}

function consumer(packed: Packed, work: string, name: string): { dir: string; measured: Measured } {
  const dir = join(work, name);
  mkdirSync(dir);
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: `consumer-${name}`, private: true, type: 'module' }));
  const t0 = performance.now();
  npm(['install', packed.tarball, '--prefer-offline'], dir);
  const installSeconds = (performance.now() - t0) / 1000;
  const modules = join(dir, 'node_modules');
  writeFileSync(join(dir, 'import.mjs'), "await import('advx');\n");
  return {
    dir,
    measured: {
      ...packed,
      installSeconds,
      nodeModules: bytes(modules),
      tfjs: existsSync(join(modules, '@tensorflow')) ? bytes(join(modules, '@tensorflow')) : 0,
      advx: bytes(join(modules, 'advx')),
      help: { args: [join(modules, '.bin', 'advx'), '--help'], cwd: dir },
      importAdvx: { args: ['import.mjs'], cwd: dir },
    },
  };
}

const work = mkdtempSync(join(tmpdir(), 'advx-package-size-'));
try {
  if (!existsSync(join(ROOT, 'dist', 'index.js'))) throw new Error('dist/ is not built: run npm run build first');
  const beforeSource = join(work, 'before-source');
  mkdirSync(beforeSource);
  execFileSync('sh', ['-c', `git -C "${ROOT}" archive "${values.before}" | tar -x -C "${beforeSource}"`]);
  const beforeCommit = execFileSync('git', ['-C', ROOT, 'rev-parse', '--short', values.before!], { encoding: 'utf8' }).trim();
  const afterCommit = execFileSync('git', ['-C', ROOT, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
  const before = consumer(pack(beforeSource, work), work, 'before').measured;
  const afterRun = consumer(pack(ROOT, work), work, 'after');
  const after = afterRun.measured;
  // The whole CLI: every optional package a command reads (datasets, WordNet, fonts, resvg).
  const optional = [...new Set([...Object.values(DATASET_PACKAGES).flat(), ...Object.values(OTHER_OPTIONAL_PACKAGES).flat()])].sort();
  npm(['install', ...optional, '--prefer-offline'], afterRun.dir);
  const full = bytes(join(afterRun.dir, 'node_modules'));

  const [beforeHelp, afterHelp, beforeImport, afterImport] = startTimes([before.help, after.help, before.importAdvx, after.importAdvx]);
  const start = (s: { ms: number; ok: boolean }) => (s.ok ? `${(s.ms / 1000).toFixed(2)} s` : `fails (${(s.ms / 1000).toFixed(2)} s)`);
  const lines = [
    '| | before (' + beforeCommit + ') | after (' + afterCommit + ') |',
    '| --- | ---: | ---: |',
    `| tarball (packed) | ${mb(before.size)} | ${mb(after.size)} |`,
    `| tarball (unpacked), files | ${mb(before.unpacked)}, ${before.files} | ${mb(after.unpacked)}, ${after.files} |`,
    `| consumer's node_modules after \`npm install advx\` | ${mb(before.nodeModules)} | ${mb(after.nodeModules)} |`,
    `| of which TF.js (@tensorflow/*) | ${mb(before.tfjs)} | ${mb(after.tfjs)} |`,
    `| of which advx itself | ${mb(before.advx)} | ${mb(after.advx)} |`,
    `| of which everything else | ${mb(before.nodeModules - before.tfjs - before.advx)} | ${mb(after.nodeModules - after.tfjs - after.advx)} |`,
    `| \`npm install\` from npm's cache | ${before.installSeconds.toFixed(0)} s | ${after.installSeconds.toFixed(0)} s |`,
    `| \`advx --help\` (median of ${RUNS}, taking turns) | ${start(beforeHelp)} | ${start(afterHelp)} |`,
    `| \`import 'advx'\` in plain Node (median of ${RUNS}) | ${start(beforeImport)} | ${start(afterImport)} |`,
    '',
    `The whole CLI with every dataset, WordNet, the fonts and resvg (\`npm install advx ${optional.join(' ')}\`): ${mb(full)} of node_modules.`,
    '',
    `Measured ${new Date().toISOString().slice(0, 10)} on ${cpus().length} × ${cpus()[0]?.model}, Node ${process.version} (load average at the end ${loadavg()[0].toFixed(1)}), by \`npm run bench:package${values.before === '068828e' ? '' : ` -- --before ${values.before}`}\`.`,
  ];
  const markdown = lines.join('\n');
  const note = '(written by `npm run bench:package`; do not edit by hand)';
  replaceSection(join(ROOT, 'BENCHMARKS.md'), 'package', markdown, { note });
  console.log(markSection('package', markdown, note));
} finally {
  rmSync(work, { recursive: true, force: true });
}
