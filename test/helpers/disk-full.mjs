// Preloaded (node --import) into an advx process by test/reliability/file-system-faults.test.ts:
// every write to a file whose path (that of the file a temporary file stands in for) matches the regular expression in ADVX_TEST_DISK_FULL fails as
// on a full disk (ENOSPC), the way the kernel reports it, so the CLI's handling of a full disk can
// be tested without filling one. All of advx's writes go through fs.openSync + fs.writeFileSync(fd).
import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';

const full = new RegExp(process.env.ADVX_TEST_DISK_FULL ?? '$^');
const paths = new Map();
const { openSync, writeFileSync, closeSync } = fs;

fs.openSync = function (path, ...rest) {
  const fd = openSync.call(this, path, ...rest);
  paths.set(fd, String(path));
  return fd;
};
fs.closeSync = function (fd) {
  paths.delete(fd);
  return closeSync.call(this, fd);
};
// The file a temporary file of writeFileAtomic's stands in for: dir/.NAME.PID.RANDOM.tmp → dir/NAME.
const target = (path) => path.replace(/(^|\/)\.([^/]+)\.\d+\.[0-9a-z]+\.tmp$/, '$1$2');

fs.writeFileSync = function (file, ...rest) {
  const path = typeof file === 'number' ? paths.get(file) : String(file);
  if (path !== undefined && full.test(target(path))) {
    // As Node reports a failed write(2) on a descriptor: no path.
    const err = new Error('ENOSPC: no space left on device, write');
    Object.assign(err, { errno: -28, code: 'ENOSPC', syscall: 'write' });
    throw err;
  }
  return writeFileSync.call(this, file, ...rest);
};
syncBuiltinESMExports();
