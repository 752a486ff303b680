import { main } from '../../src/cli/main.js';

/** Runs the CLI in-process and collects what it prints. */
export async function cli(
  argv: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, {
    out: (t) => out.push(t),
    err: (t) => err.push(t),
    env,
    stdin: async () => '',
  });
  return { code, out: out.join('\n'), err: err.join('\n') };
}
