import type { BackendOptions, ChatChunk, FimRequest, ModelBackend } from './backend.js';
import { streamChatCompletion } from './chat.js';
import { type Parsed, parseJson, ssePieces, streamedError, UpstreamClient, UpstreamError } from './http.js';
import { streamResponsesAsChat } from './responses.js';

/**
 * OpenAI-compatible legacy completions (vLLM, TGI, LM Studio, DeepSeek, OpenAI itself). The base
 * URL includes the version segment, e.g. http://127.0.0.1:8000/v1.
 */
export class OpenAiBackend implements ModelBackend {
  private readonly client: UpstreamClient;

  private readonly chatApi: 'chat' | 'responses';

  constructor(opts: BackendOptions) {
    this.client = new UpstreamClient(opts);
    this.chatApi = opts.chatApi ?? 'chat';
  }

  async *streamFim(req: FimRequest, signal: AbortSignal): AsyncGenerator<string> {
    const secrets = req.suffix === undefined ? [req.prompt] : [req.prompt, req.suffix];
    const body = await this.client.open(
      'POST',
      {
        path: '/completions',
        body: {
          model: req.model,
          prompt: req.prompt,
          ...(req.suffix === undefined ? {} : { suffix: req.suffix }),
          max_tokens: req.maxTokens,
          temperature: req.temperature,
          stop: req.stop,
          stream: true,
        },
        secrets,
      },
      signal,
    );
    yield* ssePieces(body, signal, (payload) => parseEvent(payload, secrets));
  }

  streamChat(body: Record<string, unknown>, signal: AbortSignal): AsyncGenerator<ChatChunk> {
    if (this.chatApi === 'responses') return streamResponsesAsChat(this.client, '/responses', body, signal);
    return streamChatCompletion(this.client, '/chat/completions', body, signal);
  }

  probe(signal: AbortSignal): Promise<void> {
    return this.client.probe('/models', signal);
  }

  close(): Promise<void> {
    return this.client.close();
  }
}

function parseEvent(payload: string, secrets: readonly string[]): Parsed | undefined {
  if (payload === '[DONE]') return { done: true };
  const event = parseJson(payload, 'completion event');
  const error = streamedError(event, secrets);
  if (error) throw error;
  const choices = event['choices'];
  if (!Array.isArray(choices))
    throw new UpstreamError('protocol', 'backend sent a completion event without choices');
  // Some servers end with a usage-only event whose choices are empty.
  const choice: unknown = choices[0];
  if (choice === undefined) return undefined;
  if (!choice || typeof choice !== 'object')
    throw new UpstreamError('protocol', 'backend sent a malformed choice');
  const { text, finish_reason: finishReason } = choice as { text?: unknown; finish_reason?: unknown };
  if (text !== undefined && typeof text !== 'string') {
    throw new UpstreamError('protocol', 'backend sent a choice whose text is not a string');
  }
  return { text: text ?? '', done: finishReason !== null && finishReason !== undefined };
}
