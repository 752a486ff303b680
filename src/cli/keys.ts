import { join } from 'node:path';
import { KEYS_FILE, rotateSigningKeys } from '../identity/keys.js';
import { resolveDataDir } from './context.js';
import { CliError, type CliIO, parseCommandArgs } from './io.js';

const USAGE = [
  'Usage: shenma keys rotate [options]',
  '',
  '  rotate   Add a new signing key for the embedded OpenID provider; it signs from the next',
  '           start on. The previous keys stay published so tokens they signed still verify.',
  '',
  'Options:',
  '  --data-dir DIR   Data directory holding the keys (default: $SHENMA_DATA_DIR or .shenma)',
].join('\n');

export async function run(argv: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parseCommandArgs(argv, {}, true);
  if (values.help) {
    io.out(USAGE);
    return 0;
  }
  const [subcommand, ...extra] = positionals;
  if (subcommand !== 'rotate') {
    throw new CliError(
      `${subcommand ? `unknown subcommand "${subcommand}"` : 'missing subcommand'}\n\n${USAGE}`,
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
