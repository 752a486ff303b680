import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { keepProfile, ownerOf, summariseProfile } from './profile.js';

const frame = (functionName: string, url: string) => ({ functionName, url, lineNumber: 0 });
const dir = mkdtempSync(join(tmpdir(), 'shenma-profile-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('ownerOf', () => {
  it.each([
    [frame('parse', 'file:///srv/shenma/dist/http/json-body.js'), 'Shenma http'],
    [frame('count', 'file:///srv/shenma/dist/completion/prompt/tokens.js'), 'Shenma completion/prompt'],
    // The ladder's rungs run the source under tsx; their frames belong to the same owners.
    [frame('count', 'file:///srv/shenma/src/completion/prompt/tokens.ts'), 'Shenma completion/prompt'],
    [frame('dispatch', 'file:///srv/shenma/node_modules/undici/lib/dispatcher/client.js'), 'undici'],
    [frame('x', 'file:///srv/shenma/node_modules/@fastify/formbody/index.js'), '@fastify/formbody'],
    [frame('emit', 'node:events'), undefined],
    [frame('JSON.parse', ''), undefined],
    [frame('(garbage collector)', ''), undefined],
  ])('%j belongs to %s', (f, owner) => {
    expect(ownerOf(f)).toBe(owner);
  });
});

describe('summariseProfile owners', () => {
  it('charges builtins and Node internals to the nearest own or dependency frame above them', () => {
    // root → fastify handler → json-body (Shenma) → node:buffer → native leaf (3 samples)
    // root → undici → node:net writev (2 samples); root → GC (1 sample)
    const nodes = [
      { id: 1, callFrame: frame('(root)', ''), children: [2, 6, 9] },
      { id: 2, callFrame: frame('handle', 'file:///a/node_modules/fastify/lib/route.js'), children: [3] },
      { id: 3, callFrame: frame('parse', 'file:///a/dist/http/json-body.js'), children: [4] },
      { id: 4, callFrame: frame('from', 'node:buffer'), children: [5] },
      { id: 5, callFrame: frame('utf8Write', ''), children: [] },
      {
        id: 6,
        callFrame: frame('write', 'file:///a/node_modules/undici/lib/core/request.js'),
        children: [7],
      },
      { id: 7, callFrame: frame('_writev', 'node:net'), children: [8] },
      { id: 8, callFrame: frame('writev', ''), children: [] },
      { id: 9, callFrame: frame('(garbage collector)', ''), children: [] },
    ];
    const profile = {
      nodes,
      startTime: 0,
      samples: [5, 5, 5, 8, 8, 9],
      timeDeltas: [1000, 1000, 1000, 1000, 1000, 1000],
    };
    writeFileSync(join(dir, 'a.cpuprofile'), JSON.stringify(profile));
    const summary = summariseProfile(dir, []);
    expect(summary?.owners.map((o) => [o.name, o.ms])).toEqual([
      ['Shenma http', 3],
      ['undici', 2],
      ['garbage collector', 1],
    ]);
  });

  it("reads the main thread's profile when a loader thread wrote one too (node --import tsx)", () => {
    const sub = mkdtempSync(join(dir, 'threads-'));
    const one = (fn: string) => ({
      nodes: [
        { id: 1, callFrame: frame('(root)', ''), children: [2] },
        { id: 2, callFrame: frame(fn, 'file:///a/dist/http/json-body.js'), children: [] },
      ],
      startTime: 0,
      samples: [2],
      timeDeltas: [1000],
    });
    // The loader thread's file sorts last; the main thread (thread 0) did the work.
    writeFileSync(join(sub, 'CPU.20261201.061946.8647.0.001.cpuprofile'), JSON.stringify(one('main')));
    writeFileSync(join(sub, 'CPU.20261201.061946.8647.1.002.cpuprofile'), JSON.stringify(one('loader')));
    const summary = summariseProfile(sub, []);
    expect(summary?.functions.map((f) => f.name.split(' ')[0])).toEqual(['main']);
    // The copy kept for a viewer is that main-thread profile, not the loader's.
    const kept = keepProfile(sub, summary!, 'shenma-profile-test');
    try {
      expect(JSON.parse(readFileSync(kept, 'utf8'))).toEqual(one('main'));
    } finally {
      rmSync(kept);
    }
  });
});
