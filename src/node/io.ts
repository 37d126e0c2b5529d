/** File helpers for Node. */
import * as fs from 'node:fs';
import * as path from 'node:path';

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
