import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The shared fixtures live beside the repository (`../shared/fixtures`), read in place, never
 * copied in. A worktree sits one level deeper, so SHENMA_TEST_FIXTURES or the parent's parent also
 * count, and so does the folder beside the checkout this one was cloned from (`git clone
 * /work/main /tmp/x` finds `/work/shared/fixtures`).
 */
const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const besideRepo = (root: string) => [
  path.join(root, '..', 'shared', 'fixtures'),
  path.join(root, '..', '..', 'shared', 'fixtures'),
];

/** The checkout this clone came from, when its origin is a folder on this machine. */
function localOrigin(): string | undefined {
  let url: string;
  try {
    url = execFileSync('git', ['-C', repo, 'config', '--get', 'remote.origin.url'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  } catch {
    return undefined; // not a git checkout, or no origin
  }
  if (url.startsWith('file://')) return fileURLToPath(url);
  return path.isAbsolute(url) ? url : undefined;
}

function firstWith(rel: string, dirs: readonly string[]): string | undefined {
  return dirs.map((dir) => path.join(dir, rel)).find((p) => existsSync(p));
}

export function fixturePath(rel: string): string {
  const near = [process.env.SHENMA_TEST_FIXTURES, ...besideRepo(repo)].filter((p): p is string => !!p);
  const found = firstWith(rel, near);
  if (found) return found;
  // Only asked when the usual places miss: it runs git.
  const origin = localOrigin();
  const far = origin ? besideRepo(origin) : [];
  const fromOrigin = firstWith(rel, far);
  if (fromOrigin) return fromOrigin;
  throw new Error(`fixture ${rel} not found in ${[...near, ...far].join(', ')} (set SHENMA_TEST_FIXTURES)`);
}
