import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config/load.js';
import { renderDockerfile } from '../src/deploy/files/dockerfile.js';

/**
 * The installed command (`npx shenma`, npm's link to bin/shenma.js) runs through its shebang, which
 * passes Node flags the server needs (`--no-memory-reducer`: see bin/shenma.js). The image runs the
 * same file with `node` named in its ENTRYPOINT, so it must pass the same flags.
 */

const ROOT = path.resolve(import.meta.dirname, '..');
const BIN = path.join(ROOT, 'bin/shenma.js');
const shebangFlags = (): string[] => {
  const m = /^#!\/usr\/bin\/env -S node((?: --[\w-]+)*)$/.exec(readFileSync(BIN, 'utf8').split('\n', 1)[0]!);
  expect(m, 'bin/shenma.js starts with `#!/usr/bin/env -S node [--flags]`').not.toBeNull();
  return m![1]!.trim().split(' ').filter(Boolean);
};

describe('bin/shenma.js', () => {
  it('runs as an executable through its shebang, flags and all', async () => {
    const { stdout } = await promisify(execFile)(BIN, ['--version'], { cwd: ROOT });
    expect(stdout.trim()).toMatch(/^shenma \d+\.\d+\.\d+/);
    expect(shebangFlags()).toContain('--no-memory-reducer');
  });

  it("and the image's ENTRYPOINT passes Node the same flags", () => {
    const entrypoint = /^ENTRYPOINT (.+)$/m.exec(renderDockerfile(parseConfig({})))?.[1];
    expect(JSON.parse(entrypoint!)).toEqual(['node', ...shebangFlags(), '/app/bin/shenma.js']);
  });
});
