import path from 'node:path';
import { consoleProgress, MANIFEST_NAME, PullError, pullModel } from '../deploy/models-pull.js';
import { CliError, type CliIO, parseCommandArgs } from './io.js';

const USAGE = `Usage: shenma models pull --from SOURCE [--into DIR] [--manifest FILE|URL]

Downloads model weights for deploy.localModels (the vllm services), checking every file.

  --from SOURCE      A mirror's base URL (files at SOURCE/NAME), a local directory, or a
                     .tar/.tar.gz/.tgz file (for hosts without internet)
  --manifest WHERE   The list of files: JSON {"files":[{"name","size","sha256"}]}; default
                     SOURCE/${MANIFEST_NAME}. Required for a URL; optional for a directory or
                     tarball (without one, files are copied unchecked)
  --into DIR         Where the weights go (default models/ beside the config file)

An interrupted download resumes where it stopped (NAME.partial, HTTP Range). A file whose size or
sha256 differs from the manifest is deleted and refused. A terminal shows a progress bar;
otherwise one line per file.`;

export async function run(argv: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parseCommandArgs(
    argv,
    { from: { type: 'string' }, into: { type: 'string' }, manifest: { type: 'string' } },
    true,
  );
  if (values.help) {
    io.out(USAGE);
    return 0;
  }
  if (positionals[0] !== 'pull' || positionals.length !== 1)
    throw new CliError(`shenma models: expected "pull"\n${USAGE}`, 2);
  if (!values.from)
    throw new CliError('shenma models pull needs --from (a URL, a directory or a tarball)', 2);
  const config = path.resolve(values.config ?? 'shenma.yaml');
  const into = path.resolve(values.into ?? path.join(path.dirname(config), 'models'));
  try {
    const report = await pullModel({
      from: values.from,
      into,
      ...(values.manifest !== undefined ? { manifest: values.manifest } : {}),
      progress: consoleProgress(process.stderr, io.out),
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
