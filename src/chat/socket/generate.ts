import { HttpError } from '../../http/errors.js';
import { signalLink } from '../../http/request.js';
import { ChatStreamError } from '../errors.js';
import type { ChatService } from '../service.js';
import type { ChatContext } from '../types.js';
import { type ChatRun, INTERRUPTED } from './chat-run.js';
import type { SocketChatLog } from './log.js';
import type { Advise } from './wire.js';

/**
 * Streams one answer from the ChatService into a ChatRun as the extension's items:
 * `agent_start`, one `dify_agent_thought` per text delta, `agent_advise` (optional), `agent_end`,
 * `[DONE]`. Any failure ends the chat with an `error` item instead, after whatever part of the
 * answer was already sent: failures are never disguised as answer text (chat-server §2.12 #4).
 */

export interface GenerateOptions {
  service: ChatService;
  ctx: ChatContext;
  agentName: string;
  /** Sent after the answer when `chat.advise` is on. */
  advises?: Advise[];
  log: SocketChatLog;
}

export async function generate(run: ChatRun, opts: GenerateOptions): Promise<void> {
  const { agentName, ctx } = opts;
  let started = false;
  // Deferred to the first event, so a request refused or failing before the model answers
  // (quota, model down) shows the client only the error, not an empty answer bubble.
  const start = () => {
    if (started) return;
    started = true;
    run.pushJson((offset) => ({
      event: 'agent_start',
      agent_name: agentName,
      agent_icon: null,
      message: '',
      increment: false,
      offset,
    }));
  };
  try {
    const events = await opts.service.open(ctx, { stream: true }, signalLink(run.signal));
    for await (const event of events) {
      start();
      if (event.type === 'chunks') {
        for (const { text: answer } of event.chunks) {
          if (!answer) continue;
          run.pushJson((offset) => ({
            event: 'dify_agent_thought',
            agent_name: agentName,
            agent_icon: null,
            dify_chunk: { event: 'message', answer, message_id: ctx.requestId },
            offset,
          }));
        }
      } else if (event.type === 'end') {
        const advises = opts.advises;
        if (advises && advises.length > 0)
          run.pushJson((offset) => ({ event: 'agent_advise', advises, offset }));
        run.pushJson((offset) => ({ event: 'agent_end', offset }));
        run.pushDone();
        return;
      }
    }
    throw new Error('the chat stream ended without an end event');
  } catch (err) {
    run.pushError(errorMessage(err, run.signal.aborted, opts.log, ctx.requestId));
  }
}

/** What the client is told; the service already logged and recorded the outcome itself. */
function errorMessage(err: unknown, aborted: boolean, log: SocketChatLog, chatId: string): string {
  if (aborted) return INTERRUPTED;
  if (err instanceof ChatStreamError || err instanceof HttpError) {
    const retry =
      err.retryAfter === undefined ? '' : ` (retry after ${Math.max(1, Math.ceil(err.retryAfter))} s)`;
    return `${err.message}${retry}`;
  }
  log.error({ err, chatId }, 'socket chat failed');
  return 'internal error; see the server log';
}
