import type { BackendOptions, ChatChunk, FimRequest } from './backend.js';
import { FimPieces } from './fim-stream.js';
import { type Parsed, sseDecoder, UpstreamError } from './http.js';
import { fimBody, fimEvent, fimSecrets, HttpBackend, textField } from './http-backend.js';
import { streamResponsesAsChat } from './responses.js';

/**
 * OpenAI-compatible legacy completions (vLLM, TGI, LM Studio, DeepSeek, OpenAI itself). The base
 * URL includes the version segment, e.g. http://127.0.0.1:8000/v1.
 */
export class OpenAiBackend extends HttpBackend {
  private readonly chatApi: 'chat' | 'responses';

  constructor(opts: BackendOptions) {
    super(opts, { chat: '/chat/completions', probe: '/models' });
    this.chatApi = opts.chatApi ?? 'chat';
  }

  streamFim(req: FimRequest, signal: AbortSignal): AsyncIterable<string> {
    const secrets = fimSecrets(req);
    const open = () =>
      this.client.open(
        'POST',
        {
          path: '/completions',
          body: fimBody(req, {
            model: req.model,
            ...(req.suffix === undefined ? {} : { suffix: req.suffix }),
            max_tokens: req.maxTokens,
            temperature: req.temperature,
            stop: req.stop,
            stream: true,
          }),
          secrets,
        },
        signal,
      );
    return new FimPieces(open, signal, sseDecoder(), (payload) => parseEvent(payload, secrets));
  }

  override streamChat(body: Record<string, unknown>, signal: AbortSignal): AsyncIterable<ChatChunk[]> {
    if (this.chatApi === 'responses') return streamResponsesAsChat(this.client, '/responses', body, signal);
    return super.streamChat(body, signal);
  }
}

function parseEvent(payload: string, secrets: readonly string[]): Parsed | undefined {
  if (payload === '[DONE]') return { done: true };
  const event = fimEvent(payload, 'completion event', secrets);
  const choices = event['choices'];
  if (!Array.isArray(choices))
    throw new UpstreamError('protocol', 'backend sent a completion event without choices');
  // Some servers end with a usage-only event whose choices are empty.
  const choice: unknown = choices[0];
  if (choice === undefined) return undefined;
  if (!choice || typeof choice !== 'object')
    throw new UpstreamError('protocol', 'backend sent a malformed choice');
  const { text, finish_reason: finishReason } = choice as { text?: unknown; finish_reason?: unknown };
  return {
    text: textField(text, 'a choice whose text'),
    done: finishReason !== null && finishReason !== undefined,
  };
}
