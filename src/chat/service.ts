import type { FastifyBaseLogger } from 'fastify';
import type { Registry } from 'prom-client';
import type { ChatConfig } from '../config/schema.js';
import { HttpError } from '../http/errors.js';
import {
  type ChatChunk,
  type Lease,
  type ModelGroup,
  type ModelRegistry,
  ModelUnavailableError,
  type Replica,
  UpstreamError,
} from '../models/index.js';
import { AnswerTracker, carriesAnswer } from './answer.js';
import {
  ChatStreamError,
  ClientCancelled,
  describeFailure,
  FirstTokenTimeout,
  IdleTimeout,
  retryable,
  TotalTimeout,
  upstreamErrorKind,
} from './errors.js';
import { type ChatMetrics, chatMetrics } from './metrics.js';
import type { ChatContext, ChatHooks, ChatMessage, ChatOutcome, ChatStatus } from './types.js';

/**
 * The chat pipeline shared by the OpenAI API and the extension's socket chat: model checks,
 * hooks.prepare, replica selection with retry and fallback before the first token, deadlines,
 * output filtering, usage, and hooks.record before the client hears the end.
 */

export { ChatStreamError };

export interface ChatServiceDeps {
  config: ChatConfig;
  models: ModelRegistry;
  hooks: ChatHooks;
  registry: Registry;
  log: FastifyBaseLogger;
}

export type ChatEvent =
  /** Every chat.keepAliveMs while waiting for the first token. */
  | { type: 'keepalive' }
  /** `text` is the filtered content delta of choice 0; `model` the configured name that answered. */
  | { type: 'chunk'; chunk: ChatChunk; text: string; model: string }
  /** After hooks.record resolved. */
  | { type: 'end'; outcome: ChatOutcome };

/** One upstream chunk, and which model (the requested one or the fallback) sent it. */
interface Answered {
  chunk: ChatChunk;
  model: string;
}

/** Shared between the attempt loop and the stream: once `started`, nothing is retried. */
interface Progress {
  started: boolean;
  model: string;
}

const KEEPALIVE = Symbol('keepalive');

function orKeepalive<T>(pending: Promise<T>, ms: number): Promise<T | typeof KEEPALIVE> {
  let timer: NodeJS.Timeout | undefined;
  const tick = new Promise<typeof KEEPALIVE>((resolve) => {
    timer = setTimeout(() => resolve(KEEPALIVE), ms);
  });
  return Promise.race([pending, tick]).finally(() => clearTimeout(timer));
}

const isChatModel = (g: ModelGroup) => g.settings.roles.includes('chat');

export class ChatService {
  private readonly metrics: ChatMetrics;

  constructor(private readonly deps: ChatServiceDeps) {
    this.metrics = chatMetrics(deps.registry);
    const fallback = deps.config.fallbackModel;
    if (fallback !== undefined && !this.chatGroup(fallback)) {
      deps.log.warn({ fallbackModel: fallback }, 'chat.fallbackModel is not a chat model; no fallback');
    }
  }

  /** chat.model, else the first model with role chat. */
  defaultModel(): string | undefined {
    if (this.deps.config.model) return this.deps.config.model;
    return this.listModels()[0];
  }

  /** Names of the models with role chat, in configuration order. */
  listModels(): string[] {
    return [...this.deps.models.groups.values()].filter(isChatModel).map((g) => g.name);
  }

  private chatGroup(name: string): ModelGroup | undefined {
    const g = this.deps.models.get(name);
    return g && isChatModel(g) ? g : undefined;
  }

  /** Validates the model, runs hooks.prepare (may throw HttpError), then returns a stream of events. */
  async open(
    ctx: ChatContext,
    body: Record<string, unknown>,
    signal: AbortSignal,
  ): Promise<AsyncIterable<ChatEvent>> {
    const group = this.chatGroup(ctx.model);
    if (!group) {
      throw new HttpError(
        404,
        'not_found_error',
        `model "${ctx.model}" is not a chat model here; available: ${this.listModels().join(', ') || 'none'}`,
        'model',
      );
    }
    const started = performance.now();
    let messages: ChatMessage[];
    try {
      messages = await this.deps.hooks.prepare(ctx);
    } catch (err) {
      if (err instanceof HttpError) {
        const status: ChatStatus = err.status === 429 ? 'quota_exceeded' : 'rejected';
        await this.record(ctx, {
          status,
          model: group.name,
          answer: '',
          usage: { promptTokens: 0, completionTokens: 0, estimated: true },
          totalMs: performance.now() - started,
          error: err.message,
        });
      }
      throw err;
    }
    return this.stream(ctx, group, messages, { ...body, messages }, signal, started);
  }

  private async record(ctx: ChatContext, outcome: ChatOutcome): Promise<void> {
    const { metrics, deps } = this;
    metrics.requests.inc({ model: outcome.model, status: outcome.status });
    metrics.totalSeconds.observe({ model: outcome.model, status: outcome.status }, outcome.totalMs / 1000);
    deps.log.info(
      {
        requestId: ctx.requestId,
        route: ctx.route,
        model: outcome.model,
        status: outcome.status,
        ms: Math.round(outcome.totalMs),
        firstTokenMs: outcome.firstTokenMs === undefined ? undefined : Math.round(outcome.firstTokenMs),
        usage: outcome.usage,
        error: outcome.error,
      },
      'chat',
    );
    await deps.hooks.record(ctx, outcome);
  }

  private async *stream(
    ctx: ChatContext,
    group: ModelGroup,
    messages: ChatMessage[],
    body: Record<string, unknown>,
    clientSignal: AbortSignal,
    started: number,
  ): AsyncGenerator<ChatEvent> {
    const { config, hooks } = this.deps;
    const controller = new AbortController();
    const onClientGone = () => controller.abort(new ClientCancelled());
    if (clientSignal.aborted) onClientGone();
    else clientSignal.addEventListener('abort', onClientGone, { once: true });
    const totalTimer = setTimeout(
      () => controller.abort(new TotalTimeout(`no complete answer within ${config.timeouts.totalMs} ms`)),
      config.timeouts.totalMs,
    );
    const progress: Progress = { started: false, model: group.name };
    const tracker = new AnswerTracker(() => hooks.createOutputFilter(ctx));
    let firstTokenMs: number | undefined;
    let recorded = false;
    const outcome = (status: ChatStatus, error?: string): ChatOutcome => ({
      status,
      model: progress.model,
      answer: tracker.answer,
      usage: tracker.usage(messages, config.charsPerToken),
      ...(firstTokenMs === undefined ? {} : { firstTokenMs }),
      totalMs: performance.now() - started,
      ...(error === undefined ? {} : { error }),
    });
    const finish = async (o: ChatOutcome) => {
      recorded = true;
      await this.record(ctx, o);
    };

    const upstream = this.attempts(group, body, controller.signal, progress)[Symbol.asyncIterator]();
    this.metrics.inFlight.inc({ model: group.name });
    try {
      for (;;) {
        const pending = upstream.next();
        // Left behind when the consumer stops at a keepalive; its rejection is expected then.
        pending.catch(() => undefined);
        let result: IteratorResult<Answered>;
        for (;;) {
          const next = progress.started ? await pending : await orKeepalive(pending, config.keepAliveMs);
          if (next !== KEEPALIVE) {
            result = next;
            break;
          }
          yield { type: 'keepalive' };
        }
        if (result.done) break;
        if (firstTokenMs === undefined) {
          firstTokenMs = performance.now() - started;
          this.metrics.firstTokenSeconds.observe({ model: result.value.model }, firstTokenMs / 1000);
        }
        const { chunk, text } = tracker.pass(result.value.chunk);
        yield { type: 'chunk', chunk, text, model: result.value.model };
      }
      const rest = tracker.drain();
      if (rest) yield { type: 'chunk', ...rest, model: progress.model };
      const ok = outcome('ok');
      await finish(ok);
      yield { type: 'end', outcome: ok };
    } catch (err) {
      if (err instanceof ChatStreamError) throw err;
      const cause: unknown = controller.signal.aborted ? controller.signal.reason : err;
      const failure = describeFailure(cause, progress.model, progress.started);
      if (failure.error.status === 500)
        this.deps.log.error({ err: cause, requestId: ctx.requestId }, 'chat failed');
      if (cause instanceof UpstreamError && cause.detail) {
        this.deps.log.warn(
          { requestId: ctx.requestId, model: progress.model, status: cause.status, upstream: cause.detail },
          'model backend error',
        );
      }
      if (!recorded) await finish(outcome(failure.status, failure.error.message));
      throw failure.error;
    } finally {
      clearTimeout(totalTimer);
      clientSignal.removeEventListener('abort', onClientGone);
      this.metrics.inFlight.dec({ model: group.name });
      if (!recorded) {
        // The consumer stopped iterating (its client left): close the upstream and say so.
        controller.abort(new ClientCancelled());
        upstream.return(undefined).catch(() => undefined);
        await finish(outcome('client_cancelled', 'the client stopped reading'));
      }
    }
  }

  /**
   * The requested model, then the fallback: up to 1 + maxRetries attempts each, every one on a
   * replica not tried yet, moving on only while nothing has been yielded and the failure is
   * retryable. The last error is thrown when everything failed.
   */
  private async *attempts(
    group: ModelGroup,
    body: Record<string, unknown>,
    signal: AbortSignal,
    progress: Progress,
  ): AsyncGenerator<Answered> {
    const { config } = this.deps;
    const fallback = config.fallbackModel === undefined ? undefined : this.chatGroup(config.fallbackModel);
    const groups = fallback && fallback !== group ? [group, fallback] : [group];
    let last: unknown;
    for (const g of groups) {
      const tried = new Set<Replica>();
      for (let attempt = 0; attempt <= config.maxRetries; attempt++) {
        if (last !== undefined) {
          const to = attempt === 0 ? 'fallback' : 'replica';
          const cause = upstreamErrorKind(last) ?? 'error';
          this.metrics.retries.inc({ model: progress.model, to, cause });
          this.deps.log.info({ from: progress.model, to: g.name, cause, attempt }, 'chat retry');
        }
        progress.model = g.name;
        try {
          yield* this.attempt(g, tried, body, signal, progress);
          return;
        } catch (err) {
          if (progress.started || signal.aborted || !retryable(err)) throw err;
          // Every replica of this model was tried already: the error before that one is the news.
          if (err instanceof ModelUnavailableError && tried.size > 0) break;
          last = err;
          if (err instanceof ModelUnavailableError || upstreamErrorKind(err) === 'overloaded') break;
        }
      }
    }
    throw last;
  }

  /** One upstream call on one replica, holding opening chunks back until the answer starts. */
  private async *attempt(
    group: ModelGroup,
    tried: Set<Replica>,
    body: Record<string, unknown>,
    parent: AbortSignal,
    progress: Progress,
  ): AsyncGenerator<Answered> {
    const { timeouts } = this.deps.config;
    const controller = new AbortController();
    const onParent = () => controller.abort(parent.reason);
    if (parent.aborted) onParent();
    else parent.addEventListener('abort', onParent, { once: true });
    // The first-token deadline covers waiting for a slot too: the user waits either way.
    const firstTokenTimer = setTimeout(
      () => controller.abort(new FirstTokenTimeout(`no first token within ${timeouts.firstTokenMs} ms`)),
      timeouts.firstTokenMs,
    );
    let lease: Lease | undefined;
    let iterator: AsyncIterator<ChatChunk> | undefined;
    try {
      lease = await group.acquire(controller.signal, timeouts.firstTokenMs, tried);
      const replica = lease.replica;
      tried.add(replica);
      const upstreamBody = { ...body, model: replica.config.model ?? replica.config.name };
      iterator = replica.backend.streamChat(upstreamBody, controller.signal)[Symbol.asyncIterator]();
      const held: ChatChunk[] = [];
      try {
        for (;;) {
          // Idle is the upstream's silence only: the timer runs while we wait for it, not while a
          // slow client makes us wait.
          const idleTimer = progress.started
            ? setTimeout(
                () => controller.abort(new IdleTimeout(`no token for ${timeouts.idleMs} ms mid-answer`)),
                timeouts.idleMs,
              )
            : undefined;
          let next: IteratorResult<ChatChunk>;
          try {
            next = await iterator.next();
          } finally {
            clearTimeout(idleTimer);
          }
          if (next.done) break;
          if (!progress.started) {
            if (!carriesAnswer(next.value.json)) {
              held.push(next.value);
              continue;
            }
            clearTimeout(firstTokenTimer);
            progress.started = true;
            group.markHealthy(replica);
            for (const chunk of held.splice(0)) yield { chunk, model: group.name };
          }
          yield { chunk: next.value, model: group.name };
        }
        // [DONE] without any answer chunk: an empty answer, still a complete one.
        if (!progress.started) {
          progress.started = true;
          for (const chunk of held.splice(0)) yield { chunk, model: group.name };
        }
        group.markHealthy(replica);
      } catch (err) {
        if (err instanceof UpstreamError && err.kind === 'unreachable') group.markDown(replica, err.message);
        throw err;
      }
    } catch (err) {
      const kind = upstreamErrorKind(err);
      if (kind) this.metrics.upstreamErrors.inc({ model: group.name, kind });
      throw err;
    } finally {
      clearTimeout(firstTokenTimer);
      parent.removeEventListener('abort', onParent);
      // Closes the upstream request when we stop early (consumer left, or an error above).
      await iterator?.return?.(undefined).catch(() => undefined);
      lease?.release();
    }
  }
}
