/**
 * An error caused by what the user asked for (an option, a file, a shape), as opposed to a bug.
 * The CLI prints its message alone, without a stack trace.
 */
export class AdvxError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AdvxError';
  }
}

export function assertOption(condition: unknown, message: string): asserts condition {
  if (!condition) throw new AdvxError(message);
}

/**
 * A fault outside advx and outside what the user asked for: a served model that stopped
 * answering (refused connections, timeouts, 5xx after every retry). The CLI prints its message
 * alone and exits 1, as for a full disk: the input was fine, the machine behind it was not.
 * `partial` holds what was finished before it, for the caller to write marked as partial.
 */
export class ServiceError extends AdvxError {
  partial?: unknown;
  constructor(message: string) {
    super(message);
    this.name = 'ServiceError';
  }
}

/**
 * A run folder that another advx process is writing right now: nothing wrong with the input, and
 * the same command later may succeed. The CLI exits with 75 (EX_TEMPFAIL) rather than 2, so that a
 * queue retries a job whose shard another worker still runs, instead of failing it for good.
 */
export class FolderInUse extends AdvxError {
  constructor(message: string) {
    super(message);
    this.name = 'FolderInUse';
  }
}

/** The exit code of a command refused only for now (FolderInUse). */
export const EXIT_TRY_LATER = 75;

/**
 * Not a failure: a shard (`--shard i/N`) whose run folder already holds the finished shard of the
 * same run (the same options, and the hashes of the model and of a --data PATH). The CLI says so
 * and exits 0 without running it again; `summary` is that run's, for --json.
 */
export class FinishedShard extends Error {
  constructor(
    readonly dir: string,
    readonly shard: { index: number; count: number },
    readonly results: { summary: object },
  ) {
    super(`shard ${shard.index}/${shard.count} in ${dir} has already finished with the same options, model and data: kept, not run again`);
    this.name = 'FinishedShard';
  }
}
