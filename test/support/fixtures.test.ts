import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { findFixture } from './fixtures.js';

/**
 * Where the tests find the shared fixtures, on real folders and a real `git clone`: a newcomer's
 * clone in a temp folder must find the fixtures beside the checkout it was cloned from.
 */

const root = mkdtempSync(path.join(tmpdir(), 'shenma-fixtures-test-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const git = (...args: string[]) => execFileSync('git', args, { stdio: 'ignore' });

// root/work/main (a repository) with root/work/shared/fixtures/probe.txt beside it, and a clone of
// it at root/elsewhere/x with nothing beside it.
const main = path.join(root, 'work', 'main');
const shared = path.join(root, 'work', 'shared', 'fixtures');
mkdirSync(main, { recursive: true });
mkdirSync(shared, { recursive: true });
writeFileSync(path.join(shared, 'probe.txt'), 'probe');
writeFileSync(path.join(main, 'README'), 'x');
git('-C', main, 'init', '-q');
git('-C', main, 'add', 'README');
git('-C', main, '-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-q', '-m', 'x');
const clone = path.join(root, 'elsewhere', 'x');
mkdirSync(path.dirname(clone), { recursive: true });
git('clone', '-q', main, clone);

describe('findFixture', () => {
  it('finds the fixtures beside the checkout itself without asking git', () => {
    let asked = 0;
    const found = findFixture('probe.txt', main, undefined, () => {
      asked++;
      return undefined;
    });
    expect(found).toBe(path.join(shared, 'probe.txt'));
    expect(asked).toBe(0);
  });

  it('finds the fixtures beside the checkout a clone was made from', () => {
    expect(findFixture('probe.txt', clone, undefined)).toBe(path.join(shared, 'probe.txt'));
  });

  it('takes SHENMA_TEST_FIXTURES first', () => {
    const other = path.join(root, 'env-fixtures');
    mkdirSync(other, { recursive: true });
    writeFileSync(path.join(other, 'probe.txt'), 'env');
    expect(findFixture('probe.txt', clone, other)).toBe(path.join(other, 'probe.txt'));
  });

  it('names every place it looked and the variable to set when nothing has the file', () => {
    const lonely = path.join(root, 'lonely');
    mkdirSync(lonely, { recursive: true });
    const message = (f: () => unknown) => {
      try {
        f();
      } catch (err) {
        return (err as Error).message;
      }
      throw new Error('expected a miss');
    };
    const lonelyMiss = message(() => findFixture('probe.txt', lonely, undefined));
    expect(lonelyMiss).toContain('fixture probe.txt not found in');
    expect(lonelyMiss).toContain(path.join(root, 'shared', 'fixtures'));
    expect(lonelyMiss).toContain('SHENMA_TEST_FIXTURES');
    // A clone's origin is searched too, and named when it misses.
    expect(message(() => findFixture('absent.txt', clone, undefined))).toContain(shared);
  });
});
