import type { BackendOptions, ChatChunk, FimRequest, ModelBackend } from './backend.js';
import { streamChatCompletion } from './chat.js';
import {
  ndjsonPieces,
  type Parsed,
  parseJson,
  streamedError,
  UpstreamClient,
  UpstreamError,
} from './http.js';

/** Ollama's generate API (NDJSON stream). The base URL is the server root, e.g. http://127.0.0.1:11434. */
export class OllamaBackend implements ModelBackend {
  private readonly client: UpstreamClient;

  constructor(opts: BackendOptions) {
    this.client = new UpstreamClient(opts);
  }

  async *streamFim(req: FimRequest, signal: AbortSignal): AsyncGenerator<string> {
    const secrets = req.suffix === undefined ? [req.prompt] : [req.prompt, req.suffix];
    const body = await this.client.open(
      'POST',
      {
        path: '/api/generate',
        body: {
          model: req.model,
          prompt: req.prompt,
          // With a suffix Ollama applies the model's own FIM template; without one the prompt is
          // already templated and must reach the model untouched.
          ...(req.suffix === undefined ? { raw: true } : { suffix: req.suffix }),
          stream: true,
          options: { num_predict: req.maxTokens, temperature: req.temperature, stop: req.stop },
        },
        secrets,
      },
      signal,
    );
    yield* ndjsonPieces(body, signal, (line) => parseLine(line, secrets));
  }

  streamChat(body: Record<string, unknown>, signal: AbortSignal): AsyncGenerator<ChatChunk> {
    // Served by the OpenAI-compatible API under /v1, next to the native one.
    return streamChatCompletion(this.client, '/v1/chat/completions', body, signal);
  }

  probe(signal: AbortSignal): Promise<void> {
    return this.client.probe('/api/tags', signal);
  }

  close(): Promise<void> {
    return this.client.close();
  }
}

function parseLine(line: string, secrets: readonly string[]): Parsed {
  const event = parseJson(line, 'generate line');
  const error = streamedError(event, secrets);
  if (error) throw error;
  const { response, done } = event as { response?: unknown; done?: unknown };
  if (response !== undefined && typeof response !== 'string') {
    throw new UpstreamError('protocol', 'backend sent a generate line whose response is not a string');
  }
  return { text: response ?? '', done: done === true };
}
