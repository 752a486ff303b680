import { readFileSync } from 'node:fs';
import { chmod, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parse } from 'yaml';
import { envReferences } from '../config/load.js';
import { keycloakIssuer, renderKeycloakRealm } from '../deploy/keycloak-realm.js';
import { DeploymentError, loadDeployment } from '../deploy/load.js';
import { RenderError, renderFiles, writeRendered } from '../deploy/render.js';
import { SecretsError } from '../deploy/secrets.js';
import { loadCliConfig } from './context.js';
import { CliError, type CliIO, parseCommandArgs } from './io.js';
import { USAGE } from './usage.js';

export async function run(argv: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parseCommandArgs(
    argv,
    { out: { type: 'string' }, dir: { type: 'string' } },
    true,
  );
  if (values.help) {
    io.out(USAGE.render);
    return 0;
  }
  const [what, ...extra] = positionals;
  if (!what) return renderDeployFolder(values, io);
  if (what !== 'keycloak-realm') throw new CliError(`unknown target "${what}"\n\n${USAGE.render}`, 2);
  if (extra.length > 0) throw new CliError(`unexpected argument "${extra[0]}"`, 2);

  // Model API keys play no part in the realm: their ${NAME}s need not be set to render it.
  const placeholders = Object.fromEntries(
    modelKeyRefs(values.config).map((name) => [name, 'unused-by-the-realm']),
  );
  const { config } = loadCliConfig(
    values,
    { ...io, env: { ...placeholders, ...io.env } },
    { writeDefault: false },
  );
  // Same default as `shenma start`: the public URL is what the IDE and browsers use.
  const publicUrl = (config.publicUrl ?? `http://127.0.0.1:${config.server.port}`).replace(/\/+$/, '');
  const issuer = keycloakIssuer(config, publicUrl);
  if (config.identity.issuer !== issuer) {
    io.err(
      `note: tokens from this realm have issuer ${issuer}; set identity.issuer to exactly that ` +
        `(it is ${config.identity.issuer ? `"${config.identity.issuer}"` : 'unset, i.e. the embedded provider'})`,
    );
  }
  const text = `${JSON.stringify(renderKeycloakRealm(config, publicUrl), null, 2)}\n`;
  if (values.out === undefined) {
    io.out(text.trimEnd());
    return 0;
  }
  await writePrivateFile(path.resolve(values.out), text);
  io.err(`wrote ${values.out} (mode 0600)`);
  return 0;
}

/** The variables the config's `models:` entries reference (their API keys), if the file reads. */
function modelKeyRefs(configPath: string | undefined): string[] {
  try {
    const raw = parse(readFileSync(path.resolve(configPath ?? 'shenma.yaml'), 'utf8')) as {
      models?: unknown;
    };
    return envReferences(raw?.models ?? []).map((r) => r.name);
  } catch {
    return []; // loadCliConfig says what is wrong with the file
  }
}

/** Written beside the target and renamed over it, so no reader ever sees it readable or half-written. */
async function writePrivateFile(file: string, text: string): Promise<void> {
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    await writeFile(tmp, text, { mode: 0o600, flag: 'wx' });
    await chmod(tmp, 0o600); // the umask may have taken bits away; never added, but be exact
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true }).catch(() => {});
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'ENOENT' || e.code === 'EACCES' || e.code === 'EEXIST') {
      throw new CliError(`cannot write ${file}: ${e.message}`);
    }
    throw err;
  }
}

/** Where the deploy folder goes: --dir, else deploy/ beside the config file. */
export function deployDir(values: { dir?: string | undefined }, configFile: string): string {
  return path.resolve(values.dir ?? path.join(path.dirname(configFile), 'deploy'));
}

async function renderDeployFolder(
  values: { config?: string | undefined; dir?: string | undefined; out?: string | undefined },
  io: CliIO,
): Promise<number> {
  if (values.out !== undefined) throw new CliError('render (the deploy folder) takes --dir, not --out', 2);
  try {
    const d = await loadDeployment(values.config, io.env);
    const dir = deployDir(values, d.configFile);
    const { files } = renderFiles(d.config, d.raw, d.secrets, { dir });
    const written = await writeRendered(dir, files);
    io.out(`rendered ${written.length} files into ${dir} (identity: ${d.config.deploy.identity})`);
    return 0;
  } catch (err) {
    if (err instanceof DeploymentError || err instanceof RenderError || err instanceof SecretsError)
      throw new CliError(err.message);
    throw err;
  }
}
