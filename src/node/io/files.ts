/** File helpers for Node. */
import * as fs from 'node:fs';
import * as path from 'node:path';

/** What a file-system error means, in words (ENOENT read as a path that cannot be made, as where folders are created). */
const SYSTEM_ERRORS: Record<string, string> = {
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  EROFS: 'read-only file system',
  ENOENT: 'cannot create a folder there',
  ENOSPC: 'no space left on the device',
  EDQUOT: 'disk quota exceeded',
  ENOTDIR: 'a part of the path is not a folder',
  EISDIR: 'it is a folder',
  EIO: 'input/output error',
  EMFILE: 'too many open files',
  ENFILE: 'too many open files',
  ENAMETOOLONG: 'name too long',
};

export function describeSystemError(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  return (err?.code && SYSTEM_ERRORS[err.code]) ?? err?.code ?? String((err as Error)?.message ?? err);
}

/**
 * A file-system error the user can act on (a full disk, a read-only or vanished folder) as one
 * line naming the file, or undefined for anything else (a bug, which keeps its stack trace).
 */
export function systemErrorLine(e: unknown): string | undefined {
  const err = e as NodeJS.ErrnoException;
  if (!(err instanceof Error) || typeof err.code !== 'string' || typeof err.syscall !== 'string') return undefined;
  const what = err.code === 'ENOENT' ? 'no such file or folder' : describeSystemError(err);
  return `${err.syscall}${err.path ? ` ${err.path}` : ''} failed: ${what} (${err.code})`;
}

/** The name writeFileAtomic gives its temporary file: `.NAME.PID.RANDOM.tmp`. */
const ATOMIC_TEMP = /^\..+\.(\d+)\.[0-9a-z]+\.tmp$/;

/** The pid of the process that wrote `name`, when `name` is one of writeFileAtomic's temporary files. */
export function atomicTempWriter(name: string): number | undefined {
  const m = ATOMIC_TEMP.exec(name);
  return m ? Number(m[1]) : undefined;
}

/**
 * Writes `data` to `file` so that readers see either the old file or the whole new one, never a
 * partial write: creates the parent folders, writes a temporary file in the same folder, fsyncs
 * it and renames it over `file`. The temporary file is removed if anything fails.
 */
export function writeFileAtomic(file: string, data: string | Uint8Array): void {
  const dir = path.dirname(path.resolve(file));
  fs.mkdirSync(dir, { recursive: true });
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${Math.random().toString(36).slice(2, 10)}.tmp`);
  let fd: number | undefined;
  try {
    fd = fs.openSync(tmp, 'wx');
    fs.writeFileSync(fd, data);
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fd = undefined;
    fs.renameSync(tmp, file);
  } catch (err) {
    if (fd !== undefined) {
      try {
        fs.closeSync(fd);
      } catch {
        // already failing; report the first error
      }
    }
    fs.rmSync(tmp, { force: true });
    // Name the file being written, not its temporary stand-in.
    const e = err as NodeJS.ErrnoException;
    if (e.syscall && (e.path === undefined || e.path === tmp)) e.path = file;
    throw err;
  }
  // Make the rename itself durable where the platform allows fsync on a folder (not Windows).
  try {
    const dfd = fs.openSync(dir, 'r');
    try {
      fs.fsyncSync(dfd);
    } finally {
      fs.closeSync(dfd);
    }
  } catch {
    // best effort
  }
}
