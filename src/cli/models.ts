import path from 'node:path';
import { checkModelId, DEFAULT_HUB, pullFromHub } from '../deploy/hub.js';
import { consoleProgress, MANIFEST_NAME, PullError, pullModel } from '../deploy/models-pull.js';
import { CliError, type CliIO, parseCommandArgs } from './io.js';

const USAGE = `Usage: shenma models pull --model ID [--endpoint URL] [--revision REV] [--token-env NAME] [--into DIR]
       shenma models pull --from SOURCE [--manifest FILE|URL] [--into DIR]

Downloads model weights for deploy.localModels (the vllm services), checking every file.
shenma up runs this by itself when the weights of a local model are missing.

From a Hugging Face-compatible hub, by model id:
  --model ID         The model's id on the hub, e.g. Qwen/Qwen2.5-Coder-1.5B
  --endpoint URL     The hub or a mirror serving the same API (default $HF_ENDPOINT, else
                     ${DEFAULT_HUB})
  --revision REV     Branch, tag or commit (default main); every file comes from one commit
  --token-env NAME   Environment variable holding an access token for gated or private models
                     (default HF_TOKEN, used when set)
  --all-files        Also fetch .bin/.pt/... weights when the model ships safetensors

From a mirror of files, a directory or a tarball (hosts without internet):
  --from SOURCE      A mirror's base URL (files at SOURCE/NAME), a local directory, or a
                     .tar/.tar.gz/.tgz file
  --manifest WHERE   The list of files: JSON {"files":[{"name","size","sha256"}]}; default
                     SOURCE/${MANIFEST_NAME}. Required for a URL; optional for a directory or
                     tarball (without one, files are copied unchecked)

  --into DIR         Where the weights go (default models/ID, or models/, beside the config file)

An interrupted download resumes where it stopped (NAME.partial, HTTP Range). A file whose size or
checksum differs from what the hub or the manifest says is deleted and refused. A terminal shows
a progress bar; otherwise one line per file.`;

export async function run(argv: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parseCommandArgs(
    argv,
    {
      from: { type: 'string' },
      into: { type: 'string' },
      manifest: { type: 'string' },
      model: { type: 'string' },
      endpoint: { type: 'string' },
      revision: { type: 'string' },
      'token-env': { type: 'string' },
      'all-files': { type: 'boolean' },
    },
    true,
  );
  if (values.help) {
    io.out(USAGE);
    return 0;
  }
  if (positionals[0] !== 'pull' || positionals.length !== 1)
    throw new CliError(`expected "pull"\n${USAGE}`, 2);
  if (!values.from && !values.model)
    throw new CliError(
      'pull needs --model ID (from a hub) or --from SOURCE (a URL, a directory or a tarball)',
      2,
    );
  if (values.from && values.model) throw new CliError('pull takes --model or --from, not both', 2);
  const config = path.resolve(values.config ?? 'shenma.yaml');
  const progress = consoleProgress(process.stderr, io.out);
  try {
    if (values.model) {
      for (const hubOnly of ['manifest'] as const)
        if (values[hubOnly] !== undefined)
          throw new CliError(`--${hubOnly} goes with --from, not --model`, 2);
      checkModelId(values.model);
      const into = path.resolve(values.into ?? path.join(path.dirname(config), 'models', values.model));
      const tokenEnv = values['token-env'] ?? 'HF_TOKEN';
      const token = io.env[tokenEnv];
      if (values['token-env'] && !token)
        throw new CliError(`--token-env ${tokenEnv}: that environment variable is not set`, 2);
      const endpoint = values.endpoint ?? io.env.HF_ENDPOINT ?? DEFAULT_HUB;
      const report = await pullFromHub({
        model: values.model,
        into,
        endpoint,
        ...(values.revision !== undefined ? { revision: values.revision } : {}),
        ...(token ? { token } : {}),
        allFiles: !!values['all-files'],
        progress,
      });
      if (report.skipped.length > 0)
        io.out(`skipped (safetensors are there; --all-files fetches them): ${report.skipped.join(', ')}`);
      io.out(
        `pulled ${values.model} at ${report.commit.slice(0, 12)} from ${endpoint}: ${report.files} file(s) in ${into} (${report.bytes} bytes transferred)`,
      );
      return 0;
    }
    const into = path.resolve(values.into ?? path.join(path.dirname(config), 'models'));
    const report = await pullModel({
      from: values.from as string,
      into,
      ...(values.manifest !== undefined ? { manifest: values.manifest } : {}),
      progress,
    });
    io.out(
      `pulled ${report.files} file(s) into ${into} (${report.bytes} bytes transferred)${report.unverified ? '; no manifest, so nothing was checksum-verified' : ''}`,
    );
    return 0;
  } catch (err) {
    if (err instanceof PullError) throw new CliError(err.message);
    throw err;
  }
}
