import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The shared fixtures live beside the repository (`../shared/fixtures`), read in place, never
 * copied in. A worktree sits one level deeper, so SHENMA_TEST_FIXTURES or the parent's parent also count.
 */
const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const candidates = [
  process.env.SHENMA_TEST_FIXTURES,
  path.join(repo, '..', 'shared', 'fixtures'),
  path.join(repo, '..', '..', 'shared', 'fixtures'),
].filter((p): p is string => !!p);

export function fixturePath(rel: string): string {
  for (const dir of candidates) {
    const p = path.join(dir, rel);
    if (existsSync(p)) return p;
  }
  throw new Error(`fixture ${rel} not found in ${candidates.join(', ')} (set SHENMA_TEST_FIXTURES)`);
}
