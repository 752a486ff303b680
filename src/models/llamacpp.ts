import type { BackendOptions, ChatChunk, FimRequest, ModelBackend } from './backend.js';
import { streamChatCompletion } from './chat.js';
import { type Parsed, parseJson, ssePieces, streamedError, UpstreamClient, UpstreamError } from './http.js';

/**
 * llama.cpp's server. With a suffix it uses /infill (the server applies the model's FIM tokens);
 * a templated prompt goes to /completion. The base URL is the server root, e.g. http://127.0.0.1:8080.
 */
export class LlamaCppBackend implements ModelBackend {
  private readonly client: UpstreamClient;

  constructor(opts: BackendOptions) {
    this.client = new UpstreamClient(opts);
  }

  async *streamFim(req: FimRequest, signal: AbortSignal): AsyncGenerator<string> {
    const sampling = {
      model: req.model,
      n_predict: req.maxTokens,
      temperature: req.temperature,
      stop: req.stop,
      stream: true,
      // Consecutive completions share most of their prompt; reusing the KV cache is the big win.
      cache_prompt: true,
    };
    const secrets = req.suffix === undefined ? [req.prompt] : [req.prompt, req.suffix];
    const call =
      req.suffix === undefined
        ? { path: '/completion', body: { prompt: req.prompt, ...sampling }, secrets }
        : {
            path: '/infill',
            body: { input_prefix: req.prompt, input_suffix: req.suffix, ...sampling },
            secrets,
          };
    const body = await this.client.open('POST', call, signal);
    yield* ssePieces(body, signal, (payload) => parseEvent(payload, secrets));
  }

  streamChat(body: Record<string, unknown>, signal: AbortSignal): AsyncGenerator<ChatChunk> {
    // Served by the OpenAI-compatible API under /v1, next to the native one.
    return streamChatCompletion(this.client, '/v1/chat/completions', body, signal);
  }

  probe(signal: AbortSignal): Promise<void> {
    return this.client.probe('/health', signal);
  }

  close(): Promise<void> {
    return this.client.close();
  }
}

function parseEvent(payload: string, secrets: readonly string[]): Parsed {
  const event = parseJson(payload, 'completion event');
  const error = streamedError(event, secrets);
  if (error) throw error;
  const { content, stop } = event as { content?: unknown; stop?: unknown };
  if (content !== undefined && typeof content !== 'string') {
    throw new UpstreamError('protocol', 'backend sent an event whose content is not a string');
  }
  return { text: content ?? '', done: stop === true };
}
