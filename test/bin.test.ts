import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config/load.js';
import { renderDockerfile } from '../src/deploy/files/dockerfile.js';
import { SERVER_NODE_FLAGS, shebangNodeFlags } from '../src/server/node-flags.js';

/**
 * The installed command (`npx shenma`, npm's link to bin/shenma.js) runs through its shebang, which
 * passes Node the server's flags (src/server/node-flags.ts). The image runs the same file with `node`
 * named in its ENTRYPOINT, so it must pass the same ones.
 */

const ROOT = path.resolve(import.meta.dirname, '..');
const BIN = path.join(ROOT, 'bin/shenma.js');

describe('bin/shenma.js', () => {
  it('runs as an executable through its shebang, which passes the server flags', async () => {
    const { stdout } = await promisify(execFile)(BIN, ['--version'], { cwd: ROOT });
    expect(stdout.trim()).toMatch(/^shenma \d+\.\d+\.\d+/);
    expect(shebangNodeFlags(readFileSync(BIN, 'utf8').split('\n', 1)[0]!)).toEqual(SERVER_NODE_FLAGS);
    expect(SERVER_NODE_FLAGS).toContain('--no-memory-reducer');
    expect(SERVER_NODE_FLAGS).toContain('--no-allocation-site-pretenuring');
  });

  it("keeps V8's young generation at the size Node 20 and 22 give it, whatever the Node", async () => {
    // Node 24 doubled the young generation (64 MiB where Node 20 and 22 stop at 32), and the
    // server's peak memory with it. Short-lived garbage grows the young generation to its limit.
    expect(SERVER_NODE_FLAGS).toContain('--max-semi-space-size=16');
    const grow = `const v8 = require('node:v8'); let keep = [], max = 0;
      for (let i = 0; i < 4e6; i++) {
        keep.push({ i, s: 'x' + i }); if (keep.length > 20000) keep = [];
        if (i % 5000 === 0) max = Math.max(max, v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size);
      }
      console.log(max);`;
    const { stdout } = await promisify(execFile)(process.execPath, [...SERVER_NODE_FLAGS, '-e', grow]);
    const youngMiB = Number(stdout) / 2 ** 20;
    expect(youngMiB).toBeGreaterThan(16); // it grew: the check means something
    expect(youngMiB).toBeLessThanOrEqual(32);
  });

  it("and the image's ENTRYPOINT passes Node the same flags", () => {
    const entrypoint = /^ENTRYPOINT (.+)$/m.exec(renderDockerfile(parseConfig({})))?.[1];
    expect(JSON.parse(entrypoint!)).toEqual(['node', ...SERVER_NODE_FLAGS, '/app/bin/shenma.js']);
  });

  it('reads the flags off a shebang line, and nothing off another line', () => {
    expect(shebangNodeFlags('#!/usr/bin/env node')).toEqual([]);
    expect(shebangNodeFlags('#!/usr/bin/env -S node --a --b-c')).toEqual(['--a', '--b-c']);
    expect(shebangNodeFlags('#!/bin/sh')).toBeUndefined();
    expect(shebangNodeFlags('// a comment')).toBeUndefined();
  });
});
