import { describe, expect, it } from 'vitest';
import { operatorProblem } from './io.js';

const errno = (props: Record<string, unknown>) => Object.assign(new Error('x'), props);

describe('operatorProblem', () => {
  it('names the path and what is wrong with it', () => {
    expect(operatorProblem(errno({ code: 'EACCES', syscall: 'open', path: '/etc/x' }))).toEqual({
      message: 'cannot open /etc/x: permission denied',
      exitCode: 1,
    });
    expect(
      operatorProblem(errno({ code: 'EISDIR', syscall: 'rename', path: '/a.tmp', dest: '/a' }))?.message,
    ).toBe('cannot rename /a.tmp -> /a: it is a directory');
  });

  it('names a host name that does not resolve', () => {
    expect(operatorProblem(errno({ code: 'ENOTFOUND', hostname: 'notahost' }))?.message).toBe(
      'cannot resolve the host name "notahost"',
    );
  });

  it('says a prompt was interrupted (Ctrl-C, Ctrl-D) with the shell’s exit code', () => {
    expect(operatorProblem(errno({ name: 'AbortError', code: 'ABORT_ERR' }))).toEqual({
      message: 'interrupted',
      exitCode: 130,
    });
  });

  it('leaves anything else alone, so a bug keeps its stack trace', () => {
    expect(operatorProblem(new TypeError('x is undefined'))).toBeUndefined();
    expect(operatorProblem(errno({ code: 'EACCES' }))).toBeUndefined();
    expect(operatorProblem(undefined)).toBeUndefined();
  });
});
