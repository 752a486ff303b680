import type { BackendOptions, ChatChunk, FimRequest, ModelBackend } from './backend.js';
import { streamChatCompletion } from './chat.js';
import { parseJson, streamedError, UpstreamClient, UpstreamError } from './http.js';
import { jsonWithTextPieces } from './json-pieces.js';

/**
 * What the three backend kinds share: one HTTP client, the OpenAI chat stream at a kind-specific
 * path, a probe path, closing. Each kind writes only its fill-in-the-middle call and event parser.
 */
export abstract class HttpBackend implements ModelBackend {
  protected readonly client: UpstreamClient;

  constructor(
    opts: BackendOptions,
    private readonly paths: { chat: string; probe: string },
  ) {
    this.client = new UpstreamClient(opts);
  }

  abstract streamFim(req: FimRequest, signal: AbortSignal): AsyncIterable<string>;

  streamChat(body: Record<string, unknown>, signal: AbortSignal): AsyncIterable<ChatChunk[]> {
    return streamChatCompletion(this.client, this.paths.chat, body, signal);
  }

  probe(signal: AbortSignal): Promise<void> {
    return this.client.probe(this.paths.probe, signal);
  }

  close(): Promise<void> {
    return this.client.close();
  }
}

/** The request text an upstream error message must not quote back. */
export function fimSecrets(req: FimRequest): string[] {
  return req.suffix === undefined ? [req.prompt] : [req.prompt, req.suffix];
}

/**
 * A FIM body whose `prompt` is the request's prompt, encoded from its pieces when the request has
 * them (see json-pieces.ts).
 */
export function fimBody(req: FimRequest, fields: Readonly<Record<string, unknown>>): Buffer {
  return jsonWithTextPieces(fields, 'prompt', req.promptParts ?? [req.prompt]);
}

/** A streamed FIM event as a JSON object; an `error` inside it is thrown. */
export function fimEvent(payload: string, what: string, secrets: readonly string[]): Record<string, unknown> {
  const event = parseJson(payload, what);
  const error = streamedError(event, secrets);
  if (error) throw error;
  return event;
}

/** A field that must be text when present; absent is the empty piece. */
export function textField(value: unknown, what: string): string {
  if (value === undefined) return '';
  if (typeof value !== 'string') throw new UpstreamError('protocol', `backend sent ${what} is not a string`);
  return value;
}
