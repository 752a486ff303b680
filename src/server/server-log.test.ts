import { describe, expect, it } from 'vitest';
import { serverLogLevel } from './embedded.js';

describe('the embedded PostgreSQL server log in Shenma’s', () => {
  it('warns about failures', () => {
    expect(serverLogLevel('2026-11-30 12:00:00 UTC [41] PANIC:  could not write to file "pg_wal/x"')).toBe(
      'warn',
    );
    expect(
      serverLogLevel('2026-11-30 12:00:00 UTC [41] FATAL:  could not open file "global/pg_control"'),
    ).toBe('warn');
    expect(
      serverLogLevel('2026-11-30 12:00:00 UTC [41] ERROR:  could not extend file: No space left on device'),
    ).toBe('warn');
  });

  it('keeps routine lines at debug, FATAL ones of a normal start or stop included', () => {
    expect(
      serverLogLevel('2026-11-30 12:00:00 UTC [41] LOG:  database system is ready to accept connections'),
    ).toBe('debug');
    expect(serverLogLevel('2026-11-30 12:00:00 UTC [44] FATAL:  the database system is starting up')).toBe(
      'debug',
    );
    expect(
      serverLogLevel('2026-11-30 12:00:00 UTC [44] FATAL:  the database system is in recovery mode'),
    ).toBe('debug');
    expect(
      serverLogLevel(
        '2026-11-30 12:00:00 UTC [50] FATAL:  terminating connection due to administrator command',
      ),
    ).toBe('debug');
  });
});
