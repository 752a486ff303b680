import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The trampoline page's images. The directory is read once at start into memory (a few KB), and
 * requests are answered by exact name from that table, so no request path ever reaches the file
 * system: `..`, encoded slashes and the like simply find no entry.
 */

/** src/trampoline and dist/trampoline both sit two levels below the package root. */
export const TRAMPOLINE_ASSETS_DIR = fileURLToPath(new URL('../../assets/trampoline/', import.meta.url));

const CONTENT_TYPES: Record<string, string> = {
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.ico': 'image/x-icon',
};

/** Plain file names only: no directories, no hidden files. */
const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

export interface StaticResource {
  body: Buffer;
  contentType: string;
  etag: string;
}

export async function loadResources(dir = TRAMPOLINE_ASSETS_DIR): Promise<Map<string, StaticResource>> {
  const table = new Map<string, StaticResource>();
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  for (const entry of entries) {
    if (!entry.isFile() || !SAFE_NAME.test(entry.name)) continue;
    const contentType = CONTENT_TYPES[path.extname(entry.name).toLowerCase()];
    if (!contentType) continue;
    const body = await readFile(path.join(dir, entry.name));
    const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`;
    table.set(entry.name, { body, contentType, etag });
  }
  return table;
}
