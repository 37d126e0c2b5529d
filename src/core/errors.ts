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
