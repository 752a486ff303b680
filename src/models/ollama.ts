import type { BackendOptions, FimRequest } from './backend.js';
import { FimPieces } from './fim-stream.js';
import { ndjsonDecoder, type Parsed } from './http.js';
import { fimBody, fimEvent, fimSecrets, HttpBackend, textField } from './http-backend.js';

/** Ollama's generate API (NDJSON stream). The base URL is the server root, e.g. http://127.0.0.1:11434. */
export class OllamaBackend extends HttpBackend {
  constructor(opts: BackendOptions) {
    // Chat is served by the OpenAI-compatible API under /v1, next to the native one.
    super(opts, { chat: '/v1/chat/completions', probe: '/api/tags' });
  }

  streamFim(req: FimRequest, signal: AbortSignal): AsyncIterable<string> {
    const secrets = fimSecrets(req);
    const open = () =>
      this.client.open(
        'POST',
        {
          path: '/api/generate',
          body: fimBody(req, {
            model: req.model,
            // With a suffix Ollama applies the model's own FIM template; without one the prompt is
            // already templated and must reach the model untouched.
            ...(req.suffix === undefined ? { raw: true } : { suffix: req.suffix }),
            stream: true,
            options: { num_predict: req.maxTokens, temperature: req.temperature, stop: req.stop },
          }),
          secrets,
        },
        signal,
      );
    return new FimPieces(open, signal, ndjsonDecoder(), (line) => parseLine(line, secrets));
  }
}

function parseLine(line: string, secrets: readonly string[]): Parsed {
  const { response, done } = fimEvent(line, 'generate line', secrets);
  return { text: textField(response, 'a generate line whose response'), done: done === true };
}
