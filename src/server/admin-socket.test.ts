import { describe, expect, it } from 'vitest';
import { dataDirModeWarning } from './admin-socket.js';

describe('the data directory mode warning', () => {
  it('stays quiet for 0700, and for 0710 (group search: the embedded database user, as root)', () => {
    expect(dataDirModeWarning('/d', 0o40700)).toBeUndefined();
    expect(dataDirModeWarning('/d', 0o40710)).toBeUndefined();
  });

  it('names the mode when the group may read or write, or others may do anything', () => {
    expect(dataDirModeWarning('/d', 0o40750)).toBe(
      'data directory /d has mode 750; 0700 is expected (chmod 700 it)',
    );
    expect(dataDirModeWarning('/d', 0o40730)).toMatch(/mode 730/);
    expect(dataDirModeWarning('/d', 0o40701)).toMatch(/mode 701/);
    expect(dataDirModeWarning('/d', 0o40755)).toMatch(/mode 755/);
  });
});
