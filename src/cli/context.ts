import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { defaultConfigText } from '../config/default-file.js';
import { ConfigError, loadConfigFile, parseConfig } from '../config/load.js';
import type { ShenmaConfig } from '../config/schema.js';
import { CliError, type CliIO, FILE_PROBLEMS } from './io.js';

/** What every command resolves first: which config file, which data directory. */

export const DEFAULT_CONFIG_FILE = 'shenma.yaml';
export const DEFAULT_DATA_DIR = '.shenma';

export interface CommonValues {
  config?: string | undefined;
  'data-dir'?: string | undefined;
}

export function resolveDataDir(values: CommonValues, io: CliIO): string {
  const dir = path.resolve(values['data-dir'] ?? io.env.SHENMA_DATA_DIR ?? DEFAULT_DATA_DIR);
  try {
    // Directories made above it only let others pass through (0711): run as root, the embedded
    // database's server runs as another user, which must reach the data directory.
    mkdirSync(path.dirname(dir), { recursive: true, mode: 0o711 });
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (err) {
    const problem = dataDirProblem(err, dir);
    throw problem ? new CliError(problem) : err;
  }
  return dir;
}

/**
 * One line for a file-system failure under the data directory, naming the path that failed (a
 * read-only data directory must not read like a port problem); undefined for other errors.
 */
export function dataDirProblem(err: unknown, dataDir: string): string | undefined {
  const e = err as NodeJS.ErrnoException;
  const problem = e?.code ? FILE_PROBLEMS[e.code] : undefined;
  if (!problem || typeof e.path !== 'string') return undefined;
  return (
    `cannot ${e.syscall ?? 'write'} ${e.path}: ${problem}; the data directory ${dataDir} must be writable ` +
    'by this user (--data-dir DIR picks another)'
  );
}

export interface LoadedConfig {
  config: ShenmaConfig;
  /** The file read, or undefined when none exists and none was written. */
  file: string | undefined;
  /** True when this call wrote the default file. */
  created: boolean;
}

/**
 * --config FILE must exist. Without it, ./shenma.yaml is used, and written with commented
 * defaults when `writeDefault` is set and it does not exist yet.
 */
export function loadCliConfig(
  values: CommonValues,
  io: CliIO,
  opts: { writeDefault: boolean; port?: number },
): LoadedConfig {
  const explicit = values.config ?? io.env.SHENMA_CONFIG;
  try {
    if (explicit) {
      if (!existsSync(explicit)) throw new CliError(`config file ${explicit} does not exist`);
      return { config: loadConfigFile(explicit, io.env), file: path.resolve(explicit), created: false };
    }
    const file = path.resolve(DEFAULT_CONFIG_FILE);
    if (existsSync(file)) return { config: loadConfigFile(file, io.env), file, created: false };
    if (!opts.writeDefault)
      return { config: parseConfig({}, 'defaults', io.env), file: undefined, created: false };
    writeFileSync(file, defaultConfigText(opts.port ?? 9080), { flag: 'wx' });
    return { config: loadConfigFile(file, io.env), file, created: true };
  } catch (err) {
    if (err instanceof ConfigError) throw new CliError(err.message);
    throw err;
  }
}

export function parsePort(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535)
    throw new CliError(`--port must be an integer 0-65535, got "${value}"`, 2);
  return n;
}
