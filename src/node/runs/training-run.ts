/**
 * The checkpoints and metrics of a training run (train, adapt, gan train), written in one crash
 * order: the checkpoint first — weights, optimizer state and the metrics rows so far, swapped in
 * whole — then metrics.jsonl. metrics.jsonl may run ahead of the checkpoint (rows logged between
 * checkpoints, or a kill between the two writes); a resumed run cuts it back to the checkpoint's
 * rows, so it goes on exactly as the uninterrupted run did.
 */
import type * as tf from '@tensorflow/tfjs-core';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AdvxError } from '../../core/errors.ts';
import { hasCheckpoint, loadCheckpoint, saveCheckpoint, type Checkpointable, type CheckpointState } from '../io/checkpoint.ts';
import { writeFileAtomic } from '../io/files.ts';

export const METRICS_FILE = 'metrics.jsonl';

/** A metrics row: one per epoch or step, numbered by `position` (epoch or step) in the key the run names. */
export type MetricsRow = Record<string, unknown>;

export interface Restored<Row> {
  /** Epochs or steps done. */
  position: number;
  history: Row[];
  state: CheckpointState;
}

export class TrainingRun<Row extends object> {
  /**
   * `dir`: the run folder (or a sub-run's folder, e.g. one λ of a selection); `positionKey`: the
   * field of a row that counts epochs or steps, by which rows of a checkpoint without its history
   * (written before checkpoints held it) are cut.
   */
  constructor(
    readonly dir: string,
    readonly positionKey: string = 'epoch',
  ) {}

  hasCheckpoint(): boolean {
    return hasCheckpoint(this.dir);
  }

  /** Restores the last checkpoint into `weights` and `optimizer`, and cuts metrics.jsonl back to it; undefined when there is none. */
  async restore(weights: Checkpointable, optimizer: tf.Optimizer): Promise<Restored<Row> | undefined> {
    if (!hasCheckpoint(this.dir)) return undefined;
    const state = await loadCheckpoint(this.dir, weights, optimizer);
    const position = Number(state.step ?? state.epoch);
    const history = Array.isArray(state.history) ? (state.history as Row[]) : this.readMetrics(position);
    this.writeMetrics(history);
    return { position, history, state };
  }

  /** Saves a checkpoint at `position` with the rows so far (and `extra` loop state), then metrics.jsonl. */
  async checkpoint(weights: Checkpointable, optimizer: tf.Optimizer, position: number, history: Row[], extra: Record<string, unknown> = {}): Promise<void> {
    await saveCheckpoint(this.dir, weights, optimizer, { ...extra, epoch: position, history });
    this.writeMetrics(history);
  }

  /** Rewrites metrics.jsonl (atomically) with `rows`, one JSON object per line. */
  writeMetrics(rows: Row[]): void {
    writeFileAtomic(join(this.dir, METRICS_FILE), rows.map((r) => JSON.stringify(r)).join('\n') + (rows.length ? '\n' : ''));
  }

  /** metrics.jsonl's rows up to position `upTo`. */
  readMetrics(upTo: number): Row[] {
    const file = join(this.dir, METRICS_FILE);
    if (!existsSync(file)) return [];
    const rows: Row[] = [];
    readFileSync(file, 'utf8')
      .split('\n')
      .forEach((line, i) => {
        if (!line.trim()) return;
        let row: Row;
        try {
          row = JSON.parse(line);
        } catch {
          throw new AdvxError(`${file}: line ${i + 1} is not valid JSON: delete that line or the run folder`);
        }
        const at = (row as unknown as MetricsRow | null)?.[this.positionKey];
        if (typeof row !== 'object' || row === null || !Number.isInteger(at)) {
          throw new AdvxError(`${file}: line ${i + 1} is not a metrics row (it has no ${this.positionKey} number): delete that line or the run folder`);
        }
        if ((at as number) <= upTo) rows.push(row);
      });
    return rows;
  }
}
