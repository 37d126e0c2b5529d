/**
 * The unit of sharded work: a run's examples are cut into blocks of consecutive examples, and
 * shard i of N takes the blocks b with b mod N = i. Every sharded command (robustness, attack,
 * text-attack, evaluate, transfer) deals its work with shardBlocks, so that `advx merge` can rely on one rule.
 */
import { AdvxError } from './errors.ts';

/** Shard `index` (from 0) of `count`. */
export interface Shard {
  index: number;
  count: number;
}

/**
 * The blocks a shard evaluates: block b holds the inputs [b·batch, (b+1)·batch), and shard i of N
 * takes the blocks b with b mod N = i. Dealt round-robin rather than in ranges so that every shard
 * gets a share of each part of the set (a test set sorted by class, or harder at its end, would
 * otherwise give one shard most of the work). All blocks without a shard.
 */
export function shardBlocks(count: number, batch: number, shard?: Shard): number[] {
  if (shard && !(Number.isInteger(shard.count) && shard.count >= 1 && Number.isInteger(shard.index) && shard.index >= 0 && shard.index < shard.count)) {
    throw new AdvxError(`shard ${shard.index}/${shard.count}: want i/N with 0 ≤ i < N`);
  }
  const blocks = Array.from({ length: Math.ceil(count / batch) }, (_, b) => b);
  return shard ? blocks.filter((b) => b % shard.count === shard.index) : blocks;
}
