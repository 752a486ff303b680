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

/** The checkout `root` was cloned from, when its origin is a folder on this machine. */
function localOrigin(root: string): string | undefined {
  let url: string;
  try {
    url = execFileSync('git', ['-C', root, 'config', '--get', 'remote.origin.url'], {
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

/**
 * A fixture file as seen from the checkout at `root`: `env` (SHENMA_TEST_FIXTURES) first, then
 * beside the checkout, then beside the checkout it was cloned from. `origin` is asked only when
 * the near places miss (it runs git), and at most once.
 */
export function findFixture(
  rel: string,
  root: string,
  env: string | undefined,
  origin: () => string | undefined = () => localOrigin(root),
): string {
  const near = [env, ...besideRepo(root)].filter((p): p is string => !!p);
  const found = firstWith(rel, near);
  if (found) return found;
  const from = origin();
  const far = from ? besideRepo(from) : [];
  const fromOrigin = firstWith(rel, far);
  if (fromOrigin) return fromOrigin;
  throw new Error(`fixture ${rel} not found in ${[...near, ...far].join(', ')} (set SHENMA_TEST_FIXTURES)`);
}

// This checkout's origin, looked up once per process however many fixtures miss nearby.
let origin: { dir: string | undefined } | undefined;
const thisOrigin = () => {
  origin ??= { dir: localOrigin(repo) };
  return origin.dir;
};

export function fixturePath(rel: string): string {
  return findFixture(rel, repo, process.env.SHENMA_TEST_FIXTURES, thisOrigin);
}
