import { join } from 'node:path';
import { KEYS_FILE, rotateSigningKeys } from '../identity/keys.js';
import { resolveDataDir } from './context.js';
import { CliError, type CliIO, parseCommandArgs } from './io.js';
import { USAGE } from './usage.js';

export async function run(argv: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parseCommandArgs(argv, {}, true);
  if (values.help) {
    io.out(USAGE.keys);
    return 0;
  }
  const [subcommand, ...extra] = positionals;
  if (subcommand !== 'rotate') {
    throw new CliError(
      `${subcommand ? `unknown subcommand "${subcommand}"` : 'missing subcommand'}\n\n${USAGE.keys}`,
      2,
    );
  }
  if (extra.length > 0) throw new CliError(`unexpected argument "${extra[0]}"`, 2);
  const dataDir = resolveDataDir(values, io);
  const { kid, kept } = await rotateSigningKeys(dataDir);
  io.out(`new signing key ${kid} in ${join(dataDir, KEYS_FILE)} (${kept} previous kept for verification)`);
  io.out('A running server keeps signing with its old key until it is restarted.');
  return 0;
}
