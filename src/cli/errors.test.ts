import { describe, expect, it } from 'vitest';
import { ConfigError, NumericalError } from '../core/errors.js';
import { describeError, errorDetails } from './errors.js';

function errno(code: string, path: string): Error {
  return Object.assign(new Error(`${code}: something, open '${path}'`), { code, path, syscall: 'open' });
}

describe('error messages with remedies', () => {
  it('maps filesystem errors to one line with the path and what to do', () => {
    expect(describeError(errno('ENOSPC', '/r/steps/x.json'), { runDir: '/r' })).toBe(
      'no space left on the device writing /r/steps/x.json: free some space, then continue with `mtsa run --resume /r` (completed steps are kept)',
    );
    expect(describeError(errno('EACCES', '/ro/run'))).toBe('permission denied on /ro/run: choose another --out / --cache, or make it writable');
    expect(describeError(errno('EROFS', '/mnt/run'))).toBe('/mnt/run is on a read-only file system: choose another --out / --cache');
    expect(describeError(errno('ENOTDIR', '/tmp/file/run'))).toBe('/tmp/file/run: part of this path is a file, not a directory: choose another --out / --cache');
    for (const line of ['ENOSPC', 'EACCES', 'EROFS', 'ENOTDIR', 'EISDIR', 'EMFILE'].map((c) => describeError(errno(c, '/p')))) expect(line).not.toMatch(/\n|\s+at /);
  });

  it('finds the errno error in a cause chain and keeps the project message', () => {
    const wrapped = new ConfigError('writing the report failed', { cause: errno('ENOSPC', '/r/report.html') });
    expect(describeError(wrapped)).toBe('no space left on the device writing /r/report.html: free some space, then run the command again (completed steps are kept) (writing the report failed)');
  });

  it("keeps the project's own messages, and calls anything else an internal error without a stack", () => {
    expect(describeError(new NumericalError('model target: weight "w" became NaN'))).toBe('model target: weight "w" became NaN');
    expect(describeError(new SyntaxError('Unexpected token'))).toBe('could not parse input: Unexpected token (run with --verbose to see where)');
    expect(describeError(new TypeError('x is undefined'))).toBe('internal error: TypeError: x is undefined (run with --verbose for the stack trace, and please report it)');
    const details = errorDetails(new ConfigError('outer', { cause: new Error('inner') }));
    expect(details).toMatch(/^ConfigError: outer\n\s+at /);
    expect(details).toMatch(/caused by: Error: inner/);
  });
});
