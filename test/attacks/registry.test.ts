import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ATTACKS, attackDescriptor, checkAttackRequest } from '../../src/attacks/index.ts';
import { AdvxError } from '../../src/core/errors.ts';
import { attackTableMarkdown } from '../../src/report/attack-table.ts';

test('every descriptor states its facts: access, budget kind, norms, targeting, defaults', () => {
  for (const [name, d] of Object.entries(ATTACKS)) {
    assert.equal(d.name, name);
    assert.ok(['white-box', 'score', 'decision'].includes(d.access), name);
    assert.ok(['fixed-eps', 'minimal-norm'].includes(d.budget), name);
    assert.ok(d.norms.length > 0 && d.norms.every((n) => n === 'linf' || n === 'l2'), name);
    assert.equal(typeof d.targeted, 'boolean');
    assert.equal(typeof d.run, 'function');
    assert.ok(d.title.length > 10, name);
  }
  // The facts the evaluation relies on, for the attacks the issue names.
  for (const name of ['deepfool', 'cw', 'szegedy', 'hsj', 'fab', 'fab-t']) assert.equal(ATTACKS[name].budget, 'minimal-norm', name);
  for (const name of ['fgsm', 'pgd', 'apgd-ce', 'apgd-t', 'square']) assert.equal(ATTACKS[name].budget, 'fixed-eps', name);
  assert.equal(ATTACKS.square.access, 'score');
  assert.equal(ATTACKS.hsj.access, 'decision');
});

test('requests an attack cannot serve are refused with one line', () => {
  const refused = (f: () => unknown, message: RegExp) => assert.throws(f, (e: unknown) => e instanceof AdvxError && message.test(e.message) && !e.message.includes('\n'));
  refused(() => attackDescriptor('magic'), /unknown attack "magic": choose one of fgsm, /);
  refused(() => attackDescriptor('toString'), /unknown attack "toString"/);
  refused(() => checkAttackRequest('szegedy', { norm: 'linf' }), /attack "szegedy" does not support --norm linf: it supports l2/);
  refused(() => checkAttackRequest('apgd-t', { targeted: true }), /attack "apgd-t" is untargeted only/);
  assert.equal(checkAttackRequest('pgd', { norm: 'l2', targeted: true }).name, 'pgd');
});

test('the README\'s attack table is the registry\'s (npm run docs:attacks rewrites it)', () => {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  assert.ok(readme.includes(attackTableMarkdown()), 'README.md is out of date: run npm run docs:attacks');
});
