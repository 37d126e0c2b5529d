/**
 * advx's commands as data: what each does (its line in `advx --help`, and its own description)
 * and how it reads in that list. main.ts loads only the module of the command that runs, so that
 * `advx --help` or `advx lab` does not load TF.js and every attack first.
 */
export const COMMANDS = {
  train: { summary: 'train a classifier from the model zoo', term: 'train [options]' },
  evaluate: { summary: 'accuracy of a TF.js model (model.json folder) or a served one on a dataset', term: 'evaluate [options]' },
  attack: { summary: 'craft adversarial examples against a TF.js model or a served one (score- and decision-based attacks)', term: 'attack [options]' },
  robustness: {
    summary: 'robust accuracy against several attacks (or a standard suite) over a range of ε, with the worst case per input; of a TF.js model, or of a served one with score- or decision-based attacks',
    term: 'robustness [options]',
  },
  merge: { summary: 'join the shards of a sharded run (--shard i/N, one folder each) into the results the unsharded run would have written', term: 'merge [options] <runs...>' },
  worker: { summary: 'take jobs (shards of runs submitted with --redis, sweeps) from a Redis queue and run them, until stopped', term: 'worker [options]' },
  sweep: { summary: 'run a grid of advx commands (e.g. methods × seeds) on a local pool or the Redis queue, and collect their results into one table', term: 'sweep [options] <grid>' },
  transfer: { summary: 'transfer matrix: craft adversarial examples white-box on each model, classify them with every model (a served model is a target only)', term: 'transfer [options]' },
  adapt: { summary: 'domain adaptation: train on labelled source images so the model works on unlabelled target images', term: 'adapt [options]' },
  'text-attack': { summary: 'adversarial edits (typos, deletions, insertions, synonyms, flips) against a text classifier', term: 'text-attack [options]' },
  demo: { summary: 'end to end: MNIST CNN → accuracy → FGSM and PGD attacks → report folder', term: 'demo [options]' },
  lab: { summary: 'serve the web lab (attack explorer, runs dashboard) on localhost', term: 'lab [options]' },
  gan: { summary: 'image GANs: train a DCGAN or conditional DCGAN, sample from it, evaluate it (FID, KID, coverage)', term: 'gan' },
  inspect: {
    summary: 'show what advx sees of a model: format, inputs and layout, outputs, classes, head, bounds, preprocessing (and where each came from), ops, forward time',
    term: 'inspect [options] <model>',
  },
} as const;

export type CommandName = keyof typeof COMMANDS;

export function isCommandName(word: string | undefined): word is CommandName {
  return word !== undefined && Object.hasOwn(COMMANDS, word);
}
