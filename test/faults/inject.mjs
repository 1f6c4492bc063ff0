/**
 * Fault injection at the filesystem layer, preloaded into a real `mtsa` process with
 * `node --import ./test/faults/inject.mjs` (no test hook in the product code). MTSA_TEST_FAULT:
 *   enospc:<substring>:<n>  the n-th write to a path containing <substring> fails with ENOSPC
 *                           (likewise erofs:…, eacces:…: a read-only file system, permission denied)
 *   kill:<substring>        the first write to such a path writes half its bytes, then SIGKILLs the process
 * Writes are writeSync/writeFileSync/appendFileSync (what the project uses); a file descriptor's
 * path is remembered from openSync.
 */
import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';

const spec = process.env.MTSA_TEST_FAULT ?? '';
const [kind, pattern, nth] = spec.split(':');
const paths = new Map();
let seen = 0;
const original = { openSync: fs.openSync, closeSync: fs.closeSync, writeSync: fs.writeSync, writeFileSync: fs.writeFileSync, appendFileSync: fs.appendFileSync };

const ERRNO = { enospc: [-28, 'no space left on device'], erofs: [-30, 'read-only file system'], eacces: [-13, 'permission denied'] };

function failure(path) {
  const [errno, text] = ERRNO[kind];
  const code = kind.toUpperCase();
  return Object.assign(new Error(`${code}: ${text}, write '${path}'`), { errno, code, syscall: 'write', path });
}

/** Returns true when the write must not happen (the fault replaced it). */
function fault(path, write, bytesOf) {
  if (typeof path !== 'string' || !path.includes(pattern)) return false;
  if (kind in ERRNO) {
    seen++;
    if (seen === Number(nth ?? 1)) throw failure(path);
    return false;
  }
  if (kind === 'kill') {
    const bytes = bytesOf();
    write(bytes.subarray(0, Math.floor(bytes.length / 2)));
    process.kill(process.pid, 'SIGKILL');
    return true;
  }
  return false;
}

const toBytes = (data) => (typeof data === 'string' ? Buffer.from(data) : Buffer.from(data.buffer, data.byteOffset, data.byteLength));

if (kind) {
  fs.openSync = function (path, ...rest) {
    const fd = original.openSync.call(this, path, ...rest);
    paths.set(fd, String(path));
    return fd;
  };
  fs.closeSync = function (fd) {
    paths.delete(fd);
    return original.closeSync.call(this, fd);
  };
  fs.writeSync = function (fd, data, ...rest) {
    if (
      fault(
        paths.get(fd),
        (b) => original.writeSync.call(this, fd, b),
        () => toBytes(data),
      )
    )
      return 0;
    return original.writeSync.call(this, fd, data, ...rest);
  };
  fs.writeFileSync = function (path, data, ...rest) {
    if (
      fault(
        String(path),
        (b) => original.writeFileSync.call(this, path, b),
        () => toBytes(data),
      )
    )
      return;
    return original.writeFileSync.call(this, path, data, ...rest);
  };
  fs.appendFileSync = function (path, data, ...rest) {
    if (
      fault(
        String(path),
        (b) => original.appendFileSync.call(this, path, b),
        () => toBytes(data),
      )
    )
      return;
    return original.appendFileSync.call(this, path, data, ...rest);
  };
  syncBuiltinESMExports();
}
