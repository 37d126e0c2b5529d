/**
 * Progress (issue 20): every command that can run longer than a few seconds reports progress on
 * stderr, also with --json (stdout keeps only the JSON line), and --quiet silences it. stderr is a
 * pipe here, so progress is lines: `label step/total[ | metric value…] | ETA Ns`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { advxRun } from '../helpers/cli.ts';

const tmp = mkdtempSync(join(tmpdir(), 'advx-progress-'));
const PROGRESS = /^\S.* (\d+)\/(\d+)(?: \| \S+ -?[\d.]+)* \| ETA \d+s$/m;

const grid = join(tmp, 'grid.json');
writeFileSync(grid, JSON.stringify({ command: 'evaluate', args: ['--model', 'models/mnist-cnn', '--limit', '8'], grid: { '--batch': [8] } }));

/** Each long command with cheap settings; `out` gives it a fresh folder where it needs one. */
const COMMANDS: Record<string, (out: string) => string[]> = {
  attack: () => ['attack', '--model', 'models/mnist-cnn', '--attack', 'pgd', '--steps', '3', '--limit', '8', '--batch', '4'],
  evaluate: () => ['evaluate', '--model', 'models/mnist-cnn', '--limit', '16', '--batch', '8'],
  transfer: () => ['transfer', '--models', 'models/mnist-cnn,models/mnist-robust', '--attack', 'fgsm', '--limit', '8', '--batch', '4'],
  'text-attack': () => ['text-attack', '--model', 'models/spam-word', '--attack', 'liang', '--limit', '3', '--budget', '2'],
  robustness: () => ['robustness', '--model', 'models/mnist-cnn', '--attacks', 'fgsm', '--eps', '0,0.1', '--limit', '8', '--batch', '4'],
  demo: (out) => ['demo', '--limit', '4', '--out', out],
  train: (out) => ['train', '--model', 'mlp', '--epochs', '1', '--limit', '512', '--out', out],
  adapt: (out) => ['adapt', '--method', 'dann', '--epochs', '1', '--limit', '128', '--target-limit', '128', '--test-limit', '64', '--batch', '32', '--embed', '20', '--no-tsne', '--out', out],
  'gan train': (out) => ['gan', 'train', '--steps', '4', '--width', '8', '--batch', '16', '--limit', '64', '--sample-every', '4', '--checkpoint-every', '4', '--out', out],
  sweep: (out) => ['sweep', grid, '--workers', '1', '--out', out],
};

function assertJsonOnly(stdout: string, what: string): void {
  const lines = stdout.split('\n').filter((l) => l.trim() !== '');
  assert.ok(lines.length >= 1, `${what}: a JSON line on stdout`);
  for (const l of lines) assert.doesNotThrow(() => JSON.parse(l), `${what}: stdout holds only JSON lines, got ${JSON.stringify(l)}`);
}

for (const [name, args] of Object.entries(COMMANDS)) {
  test(`${name} --json: progress lines on stderr, only JSON on stdout; --quiet: no progress`, async () => {
    const dir = join(tmp, name.replace(' ', '-'));
    // The two runs at once: 2 processes, on the 2 cores the tests are sized for.
    const [loud, quiet] = await Promise.all([advxRun([...args(`${dir}-json`), '--json']), advxRun([...args(`${dir}-quiet`), '--json', '--quiet'])]);
    assert.equal(loud.status, 0, loud.stderr);
    assertJsonOnly(loud.stdout, name);
    const m = loud.stderr.match(PROGRESS);
    assert.ok(m, `${name}: a progress line on stderr, got ${JSON.stringify(loud.stderr)}`);
    assert.ok(Number(m[1]) <= Number(m[2]) && Number(m[2]) > 0, m[0]);
    assert.equal(quiet.status, 0, quiet.stderr);
    assertJsonOnly(quiet.stdout, `${name} --quiet`);
    assert.doesNotMatch(quiet.stderr, PROGRESS, `${name} --quiet: no progress line`);
    // The same results with and without progress (seconds aside).
    const strip = (s: string) => s.trim().split('\n').pop()!.replace(/"[a-z_]*seconds[a-z_]*":[\d.e-]+/g, '').replace(/advx-progress-[^"/]+\/[^"/]+-(json|quiet)/g, 'DIR');
    if (name !== 'sweep' && name !== 'demo') assert.equal(strip(quiet.stdout), strip(loud.stdout), `${name}: same JSON line with --quiet`);
  });
}

test('attack --attack hsj in one block: progress lines within the block, from the attack\'s iterations', async () => {
  // 2 examples, one block of the default 128: before this the bar went from 0/2 to 2/2 with nothing between.
  const r = await advxRun(['attack', '--model', 'models/mnist-cnn', '--attack', 'hsj', '--limit', '2', '--queries', '1000', '--json']);
  assert.equal(r.status, 0, r.stderr);
  assertJsonOnly(r.stdout, 'attack hsj');
  const lines = r.stderr.split('\n').filter((l) => PROGRESS.test(l));
  const steps = lines.map((l) => l.match(PROGRESS)!.slice(1, 3).map(Number));
  assert.deepEqual(steps[0], [0, 2], lines.join('\n'));
  assert.deepEqual(steps.at(-1), [2, 2], lines.join('\n'));
  const within = lines.slice(1, -1);
  assert.ok(within.length >= 2, `at least 2 lines within the block, got:\n${lines.join('\n')}`);
  assert.ok(within.length <= 12, `about a line per 10%, got:\n${lines.join('\n')}`);
  for (let i = 1; i < steps.length; i++) assert.ok(steps[i][0] >= steps[i - 1][0], lines.join('\n'));
});

test('gan evaluate --json: a progress line per phase on stderr, only JSON on stdout; --quiet: none, the same numbers', async () => {
  const dir = join(tmp, 'gan-evaluate');
  const train = await advxRun(['gan', 'train', '--steps', '2', '--width', '8', '--batch', '16', '--limit', '64', '--sample-every', '2', '--checkpoint-every', '2', '--out', dir, '--quiet']);
  assert.equal(train.status, 0, train.stderr);
  const args = ['gan', 'evaluate', '--model', join(dir, 'model'), '--n', '64', '--json'];
  const [loud, quiet] = await Promise.all([advxRun(args), advxRun([...args, '--quiet'])]);
  assert.equal(loud.status, 0, loud.stderr);
  assertJsonOnly(loud.stdout, 'gan evaluate');
  const steps = loud.stderr.split('\n').filter((l) => PROGRESS.test(l)).map((l) => l.match(PROGRESS)!.slice(1, 3).join('/'));
  assert.deepEqual(steps, ['0/6', '1/6', '2/6', '3/6', '4/6', '5/6', '6/6'], loud.stderr);
  assert.equal(quiet.status, 0, quiet.stderr);
  assert.doesNotMatch(quiet.stderr, PROGRESS);
  assert.equal(quiet.stdout, loud.stdout);
});
