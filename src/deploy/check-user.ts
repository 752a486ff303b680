import type { DockerRunner } from './docker.js';

/** The Shenma CLI inside the `completion` service (the image's entrypoint; exec bypasses it). */
export const SHENMA_IN_STACK = ['exec', '-T', 'completion', 'node', '/app/bin/shenma.js'] as const;
export const STACK_FLAGS = ['--config', '/etc/shenma/shenma.yaml', '--data-dir', '/var/lib/shenma'];

/** The users `shenma up`'s smoke test and `shenma doctor` check with: one each, reused by every run. */
export const SMOKE_USER = 'shenma-smoke';
export const DOCTOR_USER = 'shenma-doctor';

/**
 * Makes the check's user usable inside the stack: added on the first run, enabled again on every
 * later one. Users cannot be deleted (they keep their usage history), so a fresh name per run
 * left one disabled user behind per run; one name per check leaves one in all. Returns what was
 * done, for the log. A failure is thrown with the CLI's last line.
 */
export async function enableCheckUser(docker: DockerRunner, user: string): Promise<'added' | 'enabled'> {
  const run = (args: string[]) =>
    docker.compose([...SHENMA_IN_STACK, ...args, ...STACK_FLAGS], { allowFailure: true });
  const lastLine = (r: { stdout: string; stderr: string }) => (r.stderr || r.stdout).trim().split('\n').pop();
  const added = await run(['users', 'add', user, '--no-password']);
  if (added.code === 0) return 'added';
  if (!/already exists/.test(added.stderr + added.stdout))
    throw new Error(`shenma users add in the stack failed: ${lastLine(added)}`);
  const enabled = await run(['users', 'enable', user]);
  if (enabled.code !== 0) throw new Error(`shenma users enable in the stack failed: ${lastLine(enabled)}`);
  return 'enabled';
}
