import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { rootReachableBy } from './binaries.js';

// Root runs the server as an unprivileged user; giving files away to it needs root, so the copy is
// checked where the suite runs as root (CI does), as the data-dir tests that switch users are.
const asRoot = process.getuid?.() === 0;
const nobody = { uid: 65534, gid: 65534 };
const made: string[] = [];
afterEach(() => {
  for (const d of made.splice(0)) rmSync(d, { recursive: true, force: true });
});

function fakePackage(mode: number): string {
  const outer = mkdtempSync(join(tmpdir(), 'shenma-pkg-'));
  made.push(outer);
  const root = join(outer, 'pkg');
  mkdirSync(join(root, 'native', 'bin'), { recursive: true, mode: 0o755 });
  writeFileSync(join(root, 'native', 'bin', 'postgres'), '#!/bin/sh\n', { mode: 0o755 });
  chmodSync(outer, mode);
  chmodSync(root, 0o755);
  chmodSync(join(root, 'native'), 0o755);
  chmodSync(join(root, 'native', 'bin'), 0o755);
  return root;
}

describe.runIf(asRoot)('the binaries when the server user cannot reach node_modules', () => {
  it('copies them into the data dir, owned by the server user, once', async () => {
    const root = fakePackage(0o700); // a checkout under a private directory (e.g. /root)
    const copyDir = join(mkdtempSync(join(tmpdir(), 'shenma-data-')), 'pg-native');
    made.push(copyDir);
    const used = await rootReachableBy(root, nobody, copyDir);
    expect(used.startsWith(copyDir)).toBe(true);
    const binary = join(used, 'native', 'bin', 'postgres');
    expect(existsSync(binary)).toBe(true);
    expect(statSync(binary).uid).toBe(nobody.uid);
    // Private like the rest of the data dir: nothing open to group or others, still executable.
    expect(statSync(binary).mode & 0o777).toBe(0o700);
    expect(statSync(join(used, 'native')).mode & 0o777).toBe(0o700);
    expect(await rootReachableBy(root, nobody, copyDir)).toBe(used);
  });

  it('uses the package in place when the server user can reach it, and drops an old copy', async () => {
    const hidden = fakePackage(0o700);
    const copyDir = join(mkdtempSync(join(tmpdir(), 'shenma-data-')), 'pg-native');
    made.push(copyDir);
    await rootReachableBy(hidden, nobody, copyDir);
    const open = fakePackage(0o755);
    expect(await rootReachableBy(open, nobody, copyDir)).toBe(open);
    expect(existsSync(copyDir)).toBe(false);
  });
});
