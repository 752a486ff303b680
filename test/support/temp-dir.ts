import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A fresh temp directory an embedded database can live under. Run as root, Shenma starts its
 * PostgreSQL server as the unprivileged user shenma-db (PostgreSQL refuses root), which must be
 * able to enter every directory above the data directory; mkdtemp makes 0700. 0711 lets it pass
 * through without listing anything.
 */
export function reachableTempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  chmodSync(dir, 0o711);
  return dir;
}

/**
 * What makes a data directory less than private, as a list (empty when fine): nothing for
 * others; the group may only pass through, and only when it is the embedded server's own group
 * (run as root, Shenma gives shenma-db's group 0710 so the server can reach its cluster).
 */
export function dataDirExposure(dir: string): string[] {
  const s = statSync(dir);
  const problems: string[] = [];
  if (s.mode & 0o007) problems.push(`others have ${(s.mode & 0o007).toString(8)}`);
  const group = s.mode & 0o070;
  if (group !== 0) {
    const serverGroup = groupId('shenma-db');
    if (group !== 0o010 || s.gid !== serverGroup || s.uid !== 0) {
      problems.push(`group ${s.gid} has ${(group >> 3).toString(8)}`);
    }
  }
  return problems;
}

function groupId(name: string): number | undefined {
  try {
    return Number(execFileSync('id', ['-g', name], { encoding: 'utf8' }).trim());
  } catch {
    return undefined;
  }
}
