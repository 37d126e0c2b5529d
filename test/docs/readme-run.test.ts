/** The README re-run script reads the README's command lines and knows how to run each. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { RULES, readmeCommands, shellLine } from '../../scripts/readme-run.ts';
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
