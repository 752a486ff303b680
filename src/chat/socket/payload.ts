import { z } from 'zod';

/**
 * The client → server payloads of the extension's chat (docs/protocol.md §5.2, §5.3). Only the
 * fields Shenma acts on are checked; the rest (range, stream, callType, ...) may be anything.
 */

const chatSchema = z
  .looseObject({
    action: z.string().max(100).nullish(),
    prompt: z.string().max(200_000).nullish(),
    code: z.string().max(1_000_000).nullish(),
    language: z.string().max(100).nullish(),
    filePath: z.string().max(4096).nullish(),
    conversation_id: z.string().min(1).max(200).nullish(),
  })
  .refine((p) => (p.prompt ?? '').trim() !== '' || (p.code ?? '').trim() !== '', {
    message: 'prompt and code are both empty',
    path: ['prompt'],
  });

/** A `chat` request, normalized: absent or null strings are empty. */
export interface ChatRequestPayload {
  action: string;
  prompt: string;
  code: string;
  language: string;
  filePath: string;
  /** The client's conversation (server-side history); absent: a conversation of one turn. */
  conversationId?: string;
}

const rechatSchema = z.looseObject({
  chat_id: z.string().min(1).max(200),
  // The client sends undefined when it saw no `json` item yet.
  offset: z.number().int().nonnegative().nullish(),
});

export interface RechatPayload {
  chatId: string;
  /** The offset of the last `json` item the client saw; 0 for none. */
  offset: number;
}

export type Parsed<T> = { ok: true; value: T } | { ok: false; message: string };

function describe(event: string, error: z.ZodError): string {
  const issue = error.issues[0]!;
  const where = issue.path.map(String).join('.') || '(payload)';
  return `invalid ${event} request: ${where}: ${issue.message}`;
}

export function parseChatPayload(input: unknown): Parsed<ChatRequestPayload> {
  const r = chatSchema.safeParse(input);
  if (!r.success) return { ok: false, message: describe('chat', r.error) };
  const p = r.data;
  return {
    ok: true,
    value: {
      action: p.action || 'chat',
      prompt: p.prompt ?? '',
      code: p.code ?? '',
      language: p.language ?? '',
      filePath: p.filePath ?? '',
      ...(p.conversation_id ? { conversationId: p.conversation_id } : {}),
    },
  };
}

export function parseRechatPayload(input: unknown): Parsed<RechatPayload> {
  const r = rechatSchema.safeParse(input);
  if (!r.success) return { ok: false, message: describe('rechat', r.error) };
  return { ok: true, value: { chatId: r.data.chat_id, offset: r.data.offset ?? 0 } };
}
