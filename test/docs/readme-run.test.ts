/** The README re-run script reads the README's command lines and knows how to run each. */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { carryResults, goOnLine, park, progressPaths, RULES, readmeCommands, runLine, shellLine, unpark, unparkDone } from '../../scripts/readme-run.ts';
import { advxAsync } from '../helpers/cli.ts';

const README = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

test('readme-run: the first block and the Commands block, comments cut, nothing else', () => {
  const lines = readmeCommands(README);
  assert.equal(lines[0], 'npm ci && npm run demo');
  assert.equal(lines[1], 'npm ci && npm test');
  assert.ok(lines.every((l) => !l.includes('#')), 'comments cut');
  assert.ok(!lines.includes('npm install advx'), 'the Install block is not a command list to run here');
  const commandsBlock = README.slice(README.indexOf('## Commands')).split('```sh\n')[1]!.split('```')[0]!;
  const advxLines = commandsBlock.split('\n').filter((l) => l.startsWith('npx advx'));
  assert.ok(advxLines.length > 20);
  assert.equal(lines.filter((l) => l.startsWith('npx advx')).length, advxLines.length);
});

test('readme-run: npx advx is the clone\'s bin; elided and serving lines are not run as they stand', () => {
  assert.equal(shellLine('npm ci && npm run demo'), 'npm run demo');
  assert.equal(shellLine('npx advx attack --model m --out runs/x'), 'node bin/advx.js attack --model m --out runs/x');
  const rule = (line: string) => RULES.find((r) => r.match.test(line));
  for (const line of readmeCommands(README)) {
    const r = rule(line);
    if (line.includes('…')) assert.ok(r?.skip, line);
    if (/advx (worker|lab)\b/.test(line)) assert.ok(r?.skip || r?.serves, line);
    if (/\bnet\.onnx\b|grid\.json/.test(line)) assert.ok(r?.standIn || r?.skip, `${line}: a user's file needs a stand-in`);
  }
});

test('readme-run: the test lines are quoted by their counts, not by the runner\'s last lines', () => {
  const rule = (line: string) => RULES.find((r) => r.match.test(line));
  for (const line of ['npm ci && npm test', 'npm run test:e2e']) assert.ok(rule(line)?.quote?.test('# pass 755'), line);
  assert.equal(rule('npm run bench')?.quote, undefined);
});

test('readme-run: a robustness line is quoted by its table, not by the notes after it', () => {
  const quote = RULES.find((r) => r.match.test('npx advx robustness --model m --suite standard --eps 0.3 --out runs/aa'))?.quote;
  const printed = ['clean accuracy 98.70% on 10000 images (each attack on the inputs the earlier ones failed on; robust accuracy after it)', 'ε           apgd-ce    apgd-t  worst case', '0.3           88.1%     87.6%  87.3%', 'queries per attack (all ε): square 43741871', 'minimal-norm attacks (counted at ε only where their perturbation, projected onto the ε-ball, still fools): fab-t', 'ran in 2 shards (2 local processes), merged into runs/aa; the shards in runs/aa/shards'];
  assert.deepEqual(printed.filter((l) => quote?.test(l)), printed.slice(0, 3));
  assert.equal(RULES.find((r) => r.match.test('npx advx robustness --model m --eps 0.1 --out runs/rob --json'))?.quote, undefined);
});

test('readme-run: results:attacks is quoted by each robust model\'s worst case, not by the section markers it ends with', () => {
  const quote = RULES.find((r) => r.match.test('npm run results:attacks'))?.quote;
  const printed = ['<!-- robust:models/mnist-trades:end -->', '<!-- attacks:robust:end -->', '<!-- attacks:end -->', 'models/mnist-robust: robust accuracy 87.33%, worst case per image (RESULTS.md has the attacks and the protocol)', 'models/mnist-trades: robust accuracy 84.50%, worst case per image (RESULTS.md has the attacks and the protocol)'];
  assert.deepEqual(printed.filter((l) => quote?.test(l)), printed.slice(3));
});

test('readme-run: the served-model line\'s stand-in answers at the README\'s address as TF Serving, for the line\'s run only', async () => {
  const line = readmeCommands(README).find((l) => l.includes('--protocol tfserving'))!;
  const url = /--model (\S+)/.exec(line)![1]!;
  const stop = await RULES.find((r) => r.match.test(line))!.standIn!.make(new URL('../..', import.meta.url).pathname);
  assert.ok(stop, 'the stand-in is stopped after the line');
  try {
    const child = advxAsync(['evaluate', '--model', url, '--protocol', 'tfserving', '--limit', '50', '--json']);
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    const code = await new Promise<number | null>((done) => child.on('close', done));
    assert.equal(code, 0);
    const { accuracy, count } = JSON.parse(out.trim().split('\n').at(-1)!) as { accuracy: number; count: number };
    assert.equal(count, 50);
    assert.ok(accuracy > 0.9, `models/mnist-cnn behind the stand-in: accuracy ${accuracy}`);
  } finally {
    stop();
  }
  await assert.rejects(fetch(`${url}:predict`, { method: 'POST', body: '{}' }), 'stopped after the line');
});

test('readme-run carries a line\'s results into the checkout: its changed sections and docs/ files, nothing else', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'advx-carry-'));
  const [clone, root] = [join(tmp, 'clone'), join(tmp, 'root')];
  const git = (...args: string[]) => execFileSync('git', ['-c', 'user.email=t@t', '-c', 'user.name=t', ...args], { cwd: clone });
  const results = (a: string, b: string, tail = '') => `# Results\n\n<!-- a:start -->\n${a}\n<!-- b:start -->\ninner\n<!-- b:end -->\n<!-- a:end -->\n\n<!-- c:start -->\n${b}\n<!-- c:end -->\n${tail}`;
  for (const d of [join(clone, 'docs'), join(root, 'docs')]) mkdirSync(d, { recursive: true });
  writeFileSync(join(clone, 'RESULTS.md'), results('old a', 'old c'));
  writeFileSync(join(clone, 'docs', 'kept.png'), 'old picture');
  execFileSync('git', ['init', '-q'], { cwd: clone });
  git('add', '-A');
  git('commit', '-qm', 'start');
  // This checkout moved on meanwhile: a newer section c and more text.
  writeFileSync(join(root, 'RESULTS.md'), results('old a', 'newer c here', 'more text here\n'));
  // The line rewrites section a, a picture, makes a new picture and the user's files.
  writeFileSync(join(clone, 'RESULTS.md'), results('new a', 'old c'));
  writeFileSync(join(clone, 'docs', 'kept.png'), 'new picture');
  writeFileSync(join(clone, 'docs', 'made.svg'), '<svg/>');
  writeFileSync(join(clone, 'grid.png'), 'a user file');
  assert.deepEqual(carryResults(clone, root).sort(), ['RESULTS.md a', 'docs/kept.png', 'docs/made.svg']);
  assert.equal(readFileSync(join(root, 'RESULTS.md'), 'utf8'), results('new a', 'newer c here', 'more text here\n'));
  assert.equal(readFileSync(join(root, 'docs', 'kept.png'), 'utf8'), 'new picture');
  assert.equal(readFileSync(join(root, 'docs', 'made.svg'), 'utf8'), '<svg/>');
  assert.ok(!existsSync(join(root, 'grid.png')));
  rmSync(tmp, { recursive: true });
});

test('readme-run stops a line still running at the deadline as unfinished (to go on next time), at its timeout as timed out', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'advx-readme-deadline-'));
  try {
    // A line that leaves a child of its own: the whole group is stopped, the child too.
    const line = 'sleep 30 & echo started; wait';
    const t0 = performance.now();
    const unfinished = await runLine(dir, line, 1, Date.now() + 1000);
    assert.equal(unfinished.status, 'unfinished');
    const timedOut = await runLine(dir, line, 1 / 60, Date.now() + 60_000);
    assert.equal(timedOut.status, 'timed out');
    assert.ok((performance.now() - t0) / 1000 < 10, 'both stopped within seconds, not after the 30 s the line takes');
    const finished = await runLine(dir, 'echo done', 1, Date.now() + 60_000);
    assert.deepEqual([finished.status, finished.output], ['ok', ['done']]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('readme-run: an unfinished training line goes on with --resume, as the README says; a robustness line goes on as it stands', () => {
  const lines = readmeCommands(readFileSync('README.md', 'utf8'));
  const rule = (line: string) => RULES.find((r) => r.match.test(line));
  const trades = lines.find((l) => / --adv trades /.test(l))!;
  assert.equal(goOnLine(trades, rule(trades)), `${trades} --resume`);
  const resumed = lines.find((l) => /^npx advx train .*--resume/.test(l))!;
  assert.equal(goOnLine(resumed, rule(resumed)), resumed, 'not twice');
  const aa = lines.find((l) => /--suite standard .*--limit 10000 --out runs\/aa$/.test(l))!;
  assert.equal(goOnLine(aa, rule(aa)), aa);
});

test('readme-run parks an unfinished line\'s progress in the checkout, puts it back into a clone that lacks it, and drops it once the line ends', () => {
  const lines = readmeCommands(readFileSync('README.md', 'utf8'));
  const rule = (line: string) => RULES.find((r) => r.match.test(line));
  const aa = lines.find((l) => /--suite standard .*--limit 10000 --out runs\/aa$/.test(l))!;
  assert.deepEqual(progressPaths(aa, rule(aa)), ['runs/aa'], 'an advx line: its --out folder');
  assert.deepEqual(progressPaths('npm run results:attacks', rule('npm run results:attacks')), ['.cache/results-attacks.json'], 'a script: what its rule names');
  assert.deepEqual(progressPaths('npx advx evaluate --model m --json', undefined), []);
  // train:models retrains the clone's models/: its tables describe those, so nothing is carried, and its output quotes each model's line.
  const retrain = rule('npm run train:models');
  assert.equal(retrain?.carry, false);
  assert.ok(retrain?.quote?.test('{"model":"mnist-cnn","data":"mnist","test_accuracy":0.9932}'));
  // Its hours go on in a fresh clone from its run folders (runs/models/<name>).
  assert.deepEqual(progressPaths('npm run train:models', retrain), ['runs/models']);

  const dir = mkdtempSync(join(tmpdir(), 'advx-park-'));
  const [machineA, machineB, parked] = ['a', 'b', 'parked'].map((d) => join(dir, d));
  try {
    // What a stopped robustness run leaves: its blocks, config, the run's file list, and a lock of the stopped process.
    for (const shard of ['0', '1']) {
      mkdirSync(join(machineA, 'runs/aa/shards', shard, 'blocks'), { recursive: true });
      writeFileSync(join(machineA, 'runs/aa/shards', shard, 'blocks/00000.json'), `{"block":${shard}}`);
      writeFileSync(join(machineA, 'runs/aa/shards', shard, 'config.json'), '{}');
      writeFileSync(join(machineA, 'runs/aa/shards', shard, '.advx-lock'), '{"pid":1}');
    }
    park(machineA, ['runs/aa'], parked);
    assert.equal(readFileSync(join(parked, 'runs/aa/shards/1/blocks/00000.json'), 'utf8'), '{"block":1}');
    assert.equal(existsSync(join(parked, 'runs/aa/shards/0/.advx-lock')), false, 'no lock parked');

    // A fresh clone on another machine gets it back; a clone that has its own copy keeps it.
    assert.deepEqual(unpark(machineB, ['runs/aa'], parked), ['runs/aa']);
    assert.equal(readFileSync(join(machineB, 'runs/aa/shards/0/blocks/00000.json'), 'utf8'), '{"block":0}');
    writeFileSync(join(machineA, 'runs/aa/shards/0/blocks/00001.json'), '{"block":2}');
    assert.deepEqual(unpark(machineA, ['runs/aa'], parked), []);
    assert.equal(existsSync(join(machineA, 'runs/aa/shards/0/blocks/00001.json')), true);

    // Parked again at the next stop: the parked copy is the clone's, not a mix.
    rmSync(join(machineA, 'runs/aa/shards/1'), { recursive: true });
    park(machineA, ['runs/aa'], parked);
    assert.equal(existsSync(join(parked, 'runs/aa/shards/1')), false);
    assert.equal(existsSync(join(parked, 'runs/aa/shards/0/blocks/00001.json')), true);

    unparkDone(['runs/aa'], parked);
    assert.equal(existsSync(parked), false, 'nothing left, not even empty folders');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
