/**
 * Bad inputs to the CLI, table-driven: each is refused with exit code 2 and exactly one line on
 * stderr that names the problem, without a stack trace, before any file is written (the --out
 * folder does not exist afterwards).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { advx } from '../helpers/cli.ts';
import { tried } from '../helpers/tried.ts';

const tmp = mkdtempSync(join(tmpdir(), 'advx-bad-inputs-'));
const SHIPPED = 'models/mnist-cnn';
const shippedInfo = JSON.parse(readFileSync(join(SHIPPED, 'advx.json'), 'utf8'));

/** A copy of the shipped MNIST CNN whose advx.json is `info` (an object merged into the shipped one, or raw text). */
function modelWith(name: string, info: Record<string, unknown> | string): string {
  const dir = join(tmp, name);
  cpSync(SHIPPED, dir, { recursive: true });
  writeFileSync(join(dir, 'advx.json'), typeof info === 'string' ? info : JSON.stringify({ ...shippedInfo, ...info }));
  return dir;
}

/** A copy of the shipped MNIST CNN whose class names come from labels.txt (`text`; null: no such file). */
function modelWithLabels(name: string, text: string | null): string {
  const { classNames: _, ...rest } = shippedInfo;
  const dir = modelWith(name, JSON.stringify({ ...rest, labelsFile: 'labels.txt' }));
  if (text !== null) writeFileSync(join(dir, 'labels.txt'), text);
  return dir;
}

function doubledWeights(): string {
  const dir = join(tmp, 'doubled');
  cpSync(SHIPPED, dir, { recursive: true });
  const w = readFileSync(join(dir, 'weights.bin'));
  writeFileSync(join(dir, 'weights.bin'), Buffer.concat([w, w]));
  return dir;
}

interface Case {
  name: string;
  /** The arguments; OUT stands for a fresh folder that must not exist afterwards. */
  args: string[];
  message: RegExp;
}

const OUT = '<out>';
/** Small runs: were a case not refused, it would end soon. */
const trainSmall = ['train', '--model', 'mlp', '--limit', '100', '--epochs', '1', '--quiet'];
const adaptSmall = ['adapt', '--epochs', '1', '--limit', '64', '--target-limit', '64', '--test-limit', '64', '--embed', '16', '--no-tsne', '--quiet'];
const attackOn = (model: string) => ['attack', '--model', model, '--limit', '2', '--images', '0', '--out', OUT];

const cases: Case[] = [
  // advx.json
  { name: 'advx.json bounds "abc"', args: attackOn(modelWith('bounds-abc', { bounds: 'abc' })), message: /bounds-abc\/advx\.json: bounds must be \[low, high\] with low < high \(got "abc"\)$/ },
  { name: 'advx.json bounds [1, 0]', args: attackOn(modelWith('bounds-reversed', { bounds: [1, 0] })), message: /bounds-reversed\/advx\.json: bounds must be \[low, high\] with low < high \(got \[1,0\]\)$/ },
  { name: 'advx.json an array', args: attackOn(modelWith('array', '[0, 1]')), message: /array\/advx\.json must hold a JSON object .*got an array$/ },
  { name: 'advx.json not JSON', args: attackOn(modelWith('not-json', '{"bounds": [0, 1]')), message: /not-json\/advx\.json is not valid JSON/ },
  { name: 'advx.json unknown key', args: attackOn(modelWith('unknown-key', { bound: [0, 1] })), message: /unknown-key\/advx\.json: unknown key "bound" \(allowed: .*bounds/ },
  { name: 'advx.json preprocessing a string', args: attackOn(modelWith('pre-string', { preprocessing: 'x/255' })), message: /pre-string\/advx\.json: preprocessing must be an object .*\(got "x\/255"\)$/ },
  { name: 'advx.json preprocessing.std a string', args: attackOn(modelWith('pre-std', { preprocessing: { std: '0.3' } })), message: /pre-std\/advx\.json: preprocessing\.std must be a list of positive numbers .*\(got "0\.3"\)$/ },
  { name: 'advx.json preprocessing unknown key', args: attackOn(modelWith('pre-key', { preprocessing: { sd: [0.3] } })), message: /pre-key\/advx\.json: unknown key "preprocessing\.sd"/ },
  { name: 'advx.json classNames a string', args: attackOn(modelWith('names-string', { classNames: '0123456789' })), message: /names-string\/advx\.json: classNames must be a list of at least 2 strings \(got "0123456789"\)$/ },
  { name: 'advx.json classNames numbers', args: attackOn(modelWith('names-numbers', { classNames: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9] })), message: /names-numbers\/advx\.json: classNames must be a list of at least 2 strings/ },
  { name: 'advx.json classNames of the wrong count', args: attackOn(modelWith('names-count', { classNames: ['a', 'b', 'c'] })), message: /names-count\/advx\.json: classNames has 3 names but the model has 10 classes/ },
  { name: 'advx.json output "maybe"', args: attackOn(modelWith('output-maybe', { output: 'maybe' })), message: /output-maybe\/advx\.json: output must be "logits", "probabilities", "sigmoid" \(one unit, a probability\) or "logit" \(one unit, a logit\) \(got "maybe"\)$/ },
  { name: 'advx.json labelsFile of the wrong count', args: attackOn(modelWithLabels('labels-count', 'a\nb\nc\n')), message: /labels-count\/labels\.txt names 3 classes but the model has 10$/ },
  { name: 'advx.json labelsFile missing', args: attackOn(modelWithLabels('labels-missing', null)), message: /labels-missing\/advx\.json: could not read the labels file .*labels-missing\/labels\.txt: no such file$/ },
  { name: 'advx.json classNames and labelsFile', args: attackOn(modelWith('names-and-labels', { labelsFile: 'labels.txt' })), message: /names-and-labels\/advx\.json: give classNames or labelsFile, not both$/ },
  { name: 'advx.json outputName not an output', args: ['evaluate', '--model', modelWith('output-name', { outputName: 'logits' }), '--limit', '2'], message: /output-name has no output "logits" \(its outputs: "dense_Dense2"\)$/ },
  { name: 'advx.json numClasses a string', args: attackOn(modelWith('classes-string', { numClasses: '10' })), message: /classes-string\/advx\.json: numClasses must be an integer ≥ 2 \(got "10"\)$/ },
  { name: 'advx.json inputShape not the model\'s', args: attackOn(modelWith('shape-wrong', { inputShape: [28, 28, 3] })), message: /shape-wrong\/advx\.json: inputShape \[28,28,3\] does not match the model's input \[28,28,1\]/ },
  // weights
  { name: 'weights.bin twice its size', args: attackOn(doubledWeights()), message: /doubled\/weights\.bin holds 1800272 bytes, but .*doubled\/model\.json describes 900136 bytes of weights/ },
  // a model on another dataset's labels
  { name: 'a Fashion-MNIST model attacked on MNIST', args: ['attack', '--model', 'models/fashion-cnn', '--data', 'mnist', '--limit', '2', '--out', OUT], message: /models\/fashion-cnn was trained on fashion-mnist .*not on mnist .*pass --data fashion-mnist$/ },
  { name: 'transfer with a Fashion-MNIST model among MNIST ones', args: ['transfer', '--models', 'models/mnist-cnn,models/fashion-cnn', '--limit', '2', '--out', OUT], message: /models\/fashion-cnn was trained on fashion-mnist/ },
  // options checked before any work
  { name: 'train --distill-from without --temperature', args: [...trainSmall, '--distill-from', SHIPPED, '--out', OUT], message: /^advx: --distill-from needs --temperature$/ },
  { name: 'train --adv-ramp without --adv', args: [...trainSmall, '--adv-ramp', '2', '--out', OUT], message: /^advx: --adv-ramp is only used with --adv$/ },
  { name: 'train --adv-eps without --adv', args: [...trainSmall, '--adv-eps', '0.1', '--out', OUT], message: /^advx: --adv-eps is only used with --adv$/ },
  { name: 'train --static-models with --adv pgd', args: [...trainSmall, '--adv', 'pgd', '--static-models', SHIPPED, '--out', OUT], message: /^advx: --static-models is only used with --adv ensemble$/ },
  { name: 'train --adv ensemble without --static-models', args: [...trainSmall, '--adv', 'ensemble', '--out', OUT], message: /--adv ensemble needs --static-models/ },
  { name: 'train --distill-from a model of other inputs', args: [...trainSmall, '--distill-from', 'models/dann-mnist-mnistm', '--temperature', '10', '--out', OUT], message: /--distill-from models\/dann-mnist-mnistm expects inputs of shape 28×28×3, but mnist images are 28×28×1$/ },
  { name: 'train --static-models with a model of other inputs', args: [...trainSmall, '--adv', 'ensemble', '--static-models', `${SHIPPED},models/dann-mnist-mnistm`, '--out', OUT], message: /--static-models models\/dann-mnist-mnistm expects inputs of shape 28×28×3/ },
  { name: 'train --static-models with an empty item', args: [...trainSmall, '--adv', 'ensemble', '--static-models', `${SHIPPED},`, '--out', OUT], message: /--static-models: item 2 of ".*," is empty/ },
  { name: 'train --distill-from a folder without a model', args: [...trainSmall, '--distill-from', join(tmp, 'nowhere'), '--temperature', '10', '--out', OUT], message: /--distill-from .*nowhere: no model there/ },
  { name: 'train --shift past the image', args: [...trainSmall, '--shift', '100', '--out', OUT], message: /^advx: --shift must be at most 27, got "100"$/ },
  { name: 'adapt --test-limit 1', args: [...adaptSmall, '--test-limit', '1', '--out', OUT], message: /^advx: --test-limit must be at least 2: .*got 1$/ },
  { name: 'adapt --embed 1', args: [...adaptSmall, '--embed', '1', '--out', OUT], message: /^advx: --embed must be at least 2/ },
  { name: 'adapt --embed past its bound', args: [...adaptSmall, '--embed', '100000', '--out', OUT], message: /^advx: --embed must be at most 5000, got "100000"$/ },
  { name: 'adapt dann --batch 1', args: [...adaptSmall, '--batch', '1', '--out', OUT], message: /^advx: --method dann compares batches of features: --batch must be at least 2, got 1$/ },
  { name: 'adapt --select-lambda with an empty item', args: [...adaptSmall, '--method', 'coral', '--select-lambda', '0.1,1,', '--out', OUT], message: /^advx: --select-lambda: item 3 of "0\.1,1," is empty$/ },
  { name: 'adapt --select-lambda with a repeat', args: [...adaptSmall, '--method', 'coral', '--select-lambda', '0.1,0.1', '--out', OUT], message: /^advx: --select-lambda: "0\.1" is listed twice$/ },
  // lists and sizes
  { name: 'attack --eps "0.1,"', args: ['attack', '--model', SHIPPED, '--eps', '0.1,', '--limit', '2', '--out', OUT], message: /^advx: --eps must be a non-negative number, got "0\.1,"$/ },
  { name: 'transfer --eps "0.1,"', args: ['transfer', '--models', `${SHIPPED},models/mnist-robust`, '--eps', '0.1,', '--limit', '2', '--out', OUT], message: /^advx: --eps must be a non-negative number, got "0\.1,"$/ },
  { name: 'robustness --eps "0.1,"', args: ['robustness', '--model', SHIPPED, '--eps', '0.1,', '--limit', '2', '--out', OUT], message: /^advx: --eps: item 2 of "0\.1," is empty$/ },
  { name: 'transfer --models with an empty item', args: ['transfer', '--models', `${SHIPPED},models/mnist-robust,`, '--limit', '2', '--out', OUT], message: /^advx: --models: item 3 of ".*," is empty$/ },
  { name: 'transfer --models with a repeat', args: ['transfer', '--models', `${SHIPPED},${SHIPPED}`, '--limit', '2', '--out', OUT], message: /^advx: --models: models\/mnist-cnn is listed twice$/ },
  { name: 'attack --print-scale 3000', args: ['attack', '--model', SHIPPED, '--limit', '2', '--print-scale', '3000', '--out', OUT], message: /^advx: --print-scale must be at most 64, got "3000"$/ },
  { name: 'attack --steps past its bound', args: ['attack', '--model', SHIPPED, '--limit', '2', '--steps', '1e9', '--out', OUT], message: /^advx: --steps must be at most 100000, got "1e9"$/ },
  { name: 'train --batch past its bound', args: [...trainSmall, '--batch', '10000000', '--out', OUT], message: /^advx: --batch must be at most 65536, got "10000000"$/ },
  { name: 'train --threads past its bound', args: [...trainSmall, '--threads', '100000', '--out', OUT], message: /^advx: --threads must be at most 256, got "100000"$/ },
  // A served model: its flags are checked before the run folder exists (no server needed for these).
  { name: 'an endpoint without --protocol', args: ['attack', '--model', 'http://127.0.0.1:9/v1/models/m', '--attack', 'square', '--limit', '2', '--out', OUT], message: /--model http:\/\/127\.0\.0\.1:9\/v1\/models\/m is an endpoint: pass --protocol tfserving or kserve$/ },
  { name: 'an unknown --protocol', args: ['attack', '--model', 'http://127.0.0.1:9/v1/models/m', '--protocol', 'grpc', '--attack', 'square', '--limit', '2', '--out', OUT], message: /pass --protocol tfserving or kserve \(got "grpc"\)$/ },
  { name: 'an unknown --outputs', args: ['attack', '--model', 'http://127.0.0.1:9/v1/models/m', '--protocol', 'kserve', '--outputs', 'scores', '--attack', 'square', '--limit', '2', '--out', OUT], message: /--outputs must be auto, logits or probabilities, got "scores"$/ },
  { name: 'a white-box attack on an endpoint', args: ['attack', '--model', 'http://127.0.0.1:9/v1/models/m', '--protocol', 'kserve', '--attack', 'pgd', '--limit', '2', '--out', OUT], message: /attack "pgd" needs white-box access/ },
  { name: '--protocol on a model folder', args: ['attack', '--model', 'models/mnist-cnn', '--protocol', 'kserve', '--limit', '2', '--out', OUT], message: /--protocol and --labels-only are for an http\(s\) --model, not models\/mnist-cnn$/ },
];

cases.forEach((c, i) => {
  test(`refused with one line: ${c.name}`, () => {
    const out = join(tmp, `out-${i}`);
    const r = advx(c.args.map((a) => (a === OUT ? out : a)));
    const lines = r.stderr.replace(/\x1b\[[0-9;]*m/g, '').trimEnd().split('\n');
    assert.equal(r.status, 2, `exit code 2, got ${r.status}: ${r.stderr}`);
    assert.equal(lines.length, 1, `exactly one line on stderr, got:\n${r.stderr}`);
    assert.match(lines[0], /^advx: /);
    assert.match(lines[0], c.message);
    assert.doesNotMatch(r.stderr, /at .*\.ts:|\n\s+at /, 'no stack trace');
    assert.ok(!existsSync(out), `nothing written: ${out} holds ${existsSync(out) ? readdirSync(out).join(', ') : ''}`);
    tried('bad CLI input');
  });
});
