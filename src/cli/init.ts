import path from 'node:path';
import { createInterface } from 'node:readline/promises';
import { IDENTITY_PROVIDERS } from '../config/deploy.js';
import { type InitAnswers, InitError, initDeployment } from '../deploy/init.js';
import { SecretsError } from '../deploy/secrets.js';
import { DEFAULT_CONFIG_FILE } from './context.js';
import { CliError, type CliIO, parseCommandArgs } from './io.js';

const USAGE = `Usage: shenma init [options]

Writes shenma.yaml for the docker compose deployment (merging into an existing one) and
shenma.secrets.env (mode 0600, git-ignored) with every credential generated. Re-running keeps
the secrets and changes only what you pass. On a terminal it asks for what is missing.

  --public-url URL               What browsers and IDEs use (e.g. https://shenma.example.com)
  --completion-model-url URL     Completion backend (OpenAI-compatible /v1, Ollama, llama.cpp)
  --completion-model ID          Model id sent upstream
  --completion-model-kind KIND   openai | ollama | llamacpp
  --completion-family FAMILY     FIM prompt family (e.g. qwen2.5-coder, deepseek-coder)
  --completion-api-key-env NAME  The key is read from \${NAME} at run time (never stored)
  --chat-model-url URL, --chat-model ID, --chat-model-kind KIND, --chat-api-key-env NAME
  --identity keycloak|shenma     Identity provider (default keycloak)
  --tls-cert FILE --tls-key FILE Terminate TLS in the gateway on port 9443
  --local-models                 Run vLLM for the models (needs an NVIDIA GPU)
  --non-interactive              Never ask; fail naming what is missing
  --config FILE                  Config file to write (default ./shenma.yaml)`;

const OPTIONS = {
  'public-url': { type: 'string' },
  'completion-model-url': { type: 'string' },
  'completion-model': { type: 'string' },
  'completion-model-kind': { type: 'string' },
  'completion-family': { type: 'string' },
  'completion-api-key-env': { type: 'string' },
  'chat-model-url': { type: 'string' },
  'chat-model': { type: 'string' },
  'chat-model-kind': { type: 'string' },
  'chat-api-key-env': { type: 'string' },
  identity: { type: 'string' },
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
  'local-models': { type: 'boolean' },
  'non-interactive': { type: 'boolean' },
} as const;

export async function run(argv: string[], io: CliIO): Promise<number> {
  const { values } = parseCommandArgs(argv, OPTIONS);
  if (values.help) {
    io.out(USAGE);
    return 0;
  }
  const configFile = path.resolve(values.config ?? io.env.SHENMA_CONFIG ?? DEFAULT_CONFIG_FILE);
  const answers: InitAnswers = {
    publicUrl: values['public-url'],
    completionModelUrl: values['completion-model-url'],
    completionModel: values['completion-model'],
    completionModelKind: values['completion-model-kind'],
    completionFamily: values['completion-family'],
    completionApiKeyEnv: values['completion-api-key-env'],
    chatModelUrl: values['chat-model-url'],
    chatModel: values['chat-model'],
    chatModelKind: values['chat-model-kind'],
    chatApiKeyEnv: values['chat-api-key-env'],
    identity: values.identity,
    tlsCert: values['tls-cert'],
    tlsKey: values['tls-key'],
    ...(values['local-models'] ? { localModels: true } : {}),
  };
  if (!values['non-interactive'] && process.stdin.isTTY) await askMissing(answers);

  let result: Awaited<ReturnType<typeof initDeployment>>;
  try {
    result = await initDeployment(configFile, answers);
  } catch (err) {
    if (err instanceof InitError || err instanceof SecretsError) throw new CliError(err.message);
    throw err;
  }
  const { secrets } = result;
  io.out(`${result.createdConfig ? 'wrote' : 'updated'} ${result.configFile}`);
  io.out(
    `secrets in ${result.secretsFile} (mode 0600): ${secrets.generated.length} generated, ${secrets.kept.length} kept`,
  );
  io.out(`${result.gitignore} lists the secrets file and the rendered deploy/.env`);
  io.out(
    `identity provider: ${result.config.deploy.identity}; next: shenma up (or shenma render to inspect)`,
  );
  return 0;
}

/** Asks on the terminal for the answers no flag gave; Enter keeps the shown default. */
async function askMissing(a: InitAnswers): Promise<void> {
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  const ask = async (q: string, fallback?: string) => {
    const v = (await rl.question(fallback ? `${q} [${fallback}]: ` : `${q}: `)).trim();
    return v === '' ? fallback : v;
  };
  try {
    a.publicUrl ??= await ask('Public URL browsers and IDEs use (e.g. https://shenma.example.com)');
    if (!a.localModels) {
      a.completionModelUrl ??= await ask(
        'Completion model URL (OpenAI-compatible, e.g. http://10.0.0.5:8000/v1)',
      );
      a.completionModel ??= await ask('Completion model id');
      a.completionFamily ??= await ask('FIM family', 'qwen2.5-coder');
      a.chatModelUrl ??= await ask('Chat model URL (empty: none)');
      if (a.chatModelUrl) a.chatModel ??= await ask('Chat model id');
    }
    a.identity ??= await ask(`Identity provider (${IDENTITY_PROVIDERS.join('/')})`, 'keycloak');
  } finally {
    rl.close();
  }
}
