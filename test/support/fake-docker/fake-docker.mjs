// A FAKE `docker` executable for `shenma up` tests: there is no Docker engine on test machines.
// It appends every call (argv and stdin) to $FAKE_DOCKER_LOG as JSON lines and answers from the
// scenario in $FAKE_DOCKER_SCENARIO: engine facts, which service never becomes healthy and its
// logs, the ports the stack already publishes. `compose exec apisix bash -c ...` calls are
// forwarded to the APISIX Admin API test double at scenario.adminUrl, so the gateway step runs
// against it. Everything else succeeds with empty output.
import { appendFileSync, readFileSync } from 'node:fs';

const argv = process.argv.slice(2);
const scenario = JSON.parse(readFileSync(process.env.FAKE_DOCKER_SCENARIO, 'utf8'));
const chunks = [];
for await (const c of process.stdin) chunks.push(c);
const stdin = Buffer.concat(chunks).toString('utf8');
appendFileSync(process.env.FAKE_DOCKER_LOG, `${JSON.stringify({ argv, stdin })}\n`);

const out = (t) => process.stdout.write(t);
const fail = (code, message) => {
  process.stderr.write(`${message}\n`);
  process.exit(code);
};

if (argv[0] === 'info') {
  if (scenario.engineDown)
    fail(
      1,
      'Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?',
    );
  out(
    `${JSON.stringify({ ServerVersion: '27.3.1', NCPU: 8, MemTotal: 32 * 1024 ** 3, SystemTime: new Date().toISOString(), Runtimes: { runc: {} }, ...scenario.info })}\n`,
  );
  process.exit(0);
}
// The registry digest an image resolved to (RepoDigests); an image built locally has none.
if (argv[0] === 'image' && argv[1] === 'inspect') {
  const ref = argv[argv.length - 1];
  out(
    `${JSON.stringify(ref.startsWith('shenma:') ? [] : [`${ref.split(':')[0]}@sha256:${'ab'.repeat(32)}`])}\n`,
  );
  process.exit(0);
}
if (argv[0] !== 'compose') fail(1, `fake docker: unexpected command ${argv.join(' ')}`);
// An engine that is down fails every command that needs it (`compose version` does not).
if (scenario.engineDown && argv[1] !== 'version')
  fail(
    1,
    'Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?',
  );
if (argv[1] === 'version') {
  out(`${scenario.composeVersion ?? '2.29.1'}\n`);
  process.exit(0);
}
// Skip --project-directory DIR -f FILE and --profile P.
const rest = [];
for (let i = 1; i < argv.length; i++) {
  if (['--project-directory', '-f', '--profile'].includes(argv[i])) i++;
  else rest.push(argv[i]);
}
const [sub, ...args] = rest;
if (sub === 'up') {
  // `up ... SERVICE`: only the named services start (and fail).
  const named = args.filter((a) => !a.startsWith('-'));
  if (scenario.unhealthy && (named.length === 0 || named.includes(scenario.unhealthy)))
    fail(1, `dependency failed to start: container shenma-${scenario.unhealthy}-1 is unhealthy`);
  process.exit(0);
}
if (sub === 'ps') {
  const lines = [];
  if (scenario.unhealthy)
    lines.push({ Service: scenario.unhealthy, State: 'running', Health: 'unhealthy', Image: 'shenma:0.1.0' });
  lines.push({ Service: 'postgres', State: 'running', Health: 'healthy', Image: 'postgres:15.10-alpine' });
  if (scenario.publishedPorts)
    lines.push({
      Service: 'apisix',
      State: 'running',
      Health: 'healthy',
      Image: 'apache/apisix:3.9.1-debian',
      Publishers: scenario.publishedPorts.map((p) => ({ PublishedPort: p })),
    });
  out(lines.map((l) => JSON.stringify(l)).join('\n'));
  process.exit(0);
}
if (sub === 'logs') {
  out(scenario.logs ?? '');
  process.exit(0);
}
if (sub === 'images') {
  out(
    `${JSON.stringify({ Repository: 'apache/apisix', Tag: '3.9.1-debian', ID: 'sha256:feedface' })}\n${JSON.stringify({ Repository: 'shenma', Tag: '0.1.0', ID: 'sha256:5eed' })}\n`,
  );
  process.exit(0);
}
// The models volume: scenario.modelsVolume is a host folder standing in for it (what /models
// holds inside the containers); without one, scenario.missingWeights lists the vllm services
// whose weights are missing.
const inVolume = (p) =>
  p.startsWith('/models') ? `${scenario.modelsVolume}${p.slice('/models'.length)}` : p;
// The local-model weights check.
if (sub === 'run' && args.includes('--entrypoint') && args.includes('test')) {
  const service = args[args.indexOf('test') + 1];
  if (scenario.modelsVolume) {
    const { existsSync } = await import('node:fs');
    // argv, not args: the flag skipping above also took `test`'s own -f and its path.
    process.exit(existsSync(inVolume(argv[argv.length - 1])) ? 0 : 1);
  }
  process.exit((scenario.missingWeights ?? []).includes(service) ? 1 : 0);
}
// The models-pull job: the real `shenma models pull` runs here, writing into the stand-in volume,
// with a bind-mounted /source mapped back to its host folder and -e variables passed on.
if (sub === 'run' && args.includes('models-pull') && scenario.modelsVolume) {
  const { spawnSync } = await import('node:child_process');
  const { fileURLToPath } = await import('node:url');
  const at = args.indexOf('models-pull');
  const bind = args.indexOf('-v');
  const source = bind >= 0 && bind < at ? args[bind + 1].split(':')[0] : undefined;
  const mapped = args
    .slice(at + 1)
    .map((a) => (source && a.startsWith('/source') ? `${source}${a.slice('/source'.length)}` : inVolume(a)));
  const shenma = fileURLToPath(new URL('../../../bin/shenma.js', import.meta.url));
  const env = { PATH: process.env.PATH };
  for (let i = 0; i < at; i++) if (args[i] === '-e') env[args[i + 1]] = process.env[args[i + 1]];
  const child = spawnSync(process.execPath, [shenma, ...mapped], {
    env,
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  process.exit(child.status ?? 1);
}
if (sub === 'exec' && args.includes('pg_dump')) {
  out(`-- pg_dump of ${args[args.length - 1]}\nCREATE TABLE t (x int);\n`);
  process.exit(0);
}
if (sub === 'exec' && args.some((a) => a.includes('/readyz'))) {
  out(scenario.readyz?.[args[1]] ?? '200 {"status":"ready"}');
  process.exit(0);
}
if (sub === 'cp') {
  const { writeFileSync } = await import('node:fs');
  writeFileSync(args[1], scenario.etcdSnapshot ?? 'fake etcd snapshot bytes');
  process.exit(0);
}
// The Shenma CLI inside a Shenma service (the smoke test's throwaway user and token):
// scenario.shenmaToken is the secret `tokens create` prints; scenario.shenmaCliFails names a
// command ("users add", "tokens create", ...) that fails instead; scenario.shenmaUserExists makes
// `users add` answer that the user already exists.
const cli = args.indexOf('/app/bin/shenma.js');
if (sub === 'exec' && cli >= 0) {
  const [group, action, target] = args.slice(cli + 1);
  if (scenario.shenmaCliFails === `${group} ${action}`)
    fail(1, `fake shenma: ${group} ${action} failed: database is read-only`);
  // scenario.shenmaUserExists: the check's user is there from an earlier run.
  if (group === 'users' && action === 'add' && scenario.shenmaUserExists)
    fail(1, `shenma users add: user "${target}" already exists`);
  if (group === 'users' && action === 'add') out(`Added user ${target} (usr_fake).\n`);
  else if (group === 'tokens' && action === 'create')
    out(
      `Created token tok_fake "smoke" for ${target} (expires 2026-01-01 00:00).\n${scenario.shenmaToken}\nCopy the secret above now: it will not be shown again.\n`,
    );
  else out(`${group} ${action} ${target}: done\n`);
  process.exit(0);
}
if (sub === 'exec' && args.includes('apisix')) {
  // `exec -T apisix bash -c SCRIPT [METHOD PATH LENGTH]`: raw HTTP/1.0 over /dev/tcp, as the
  // image has no curl. The answer is printed as the server would send it.
  const at = args.indexOf('-c');
  const script = args[at + 1];
  const [method, path] = args.slice(at + 2);
  if (!script.includes('/dev/tcp/')) fail(127, `fake docker: apisix has no such command: ${script}`);
  if (script.includes('/v1/schema')) {
    // The schema is larger than a pipe buffer: exit only once it is all written.
    const body = readFileSync(scenario.apisixSchema, 'utf8');
    process.stdout.write(`HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n${body}`, () =>
      process.exit(0),
    );
    await new Promise(() => {});
  }
  const res = await fetch(`${scenario.adminUrl}${path}`, {
    method,
    headers: { 'x-api-key': scenario.adminKey, ...(stdin ? { 'content-type': 'application/json' } : {}) },
    ...(stdin && method !== 'GET' && method !== 'DELETE' ? { body: stdin } : {}),
  });
  out(`HTTP/1.1 ${res.status} X\r\nContent-Type: application/json\r\n\r\n${await res.text()}`);
  process.exit(0);
}
process.exit(0);
