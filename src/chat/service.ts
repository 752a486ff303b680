import type { FastifyBaseLogger } from 'fastify';
import type { Registry } from 'prom-client';
import type { ChatConfig } from '../config/schema.js';
import { HttpError } from '../http/errors.js';
import type { ClientLink } from '../http/request.js';
import {
  abortAtTotal,
  type CallPolicy,
  type ChatChunk,
  failureKind,
  type ModelGroup,
  type ModelRegistry,
  ModelUnavailableError,
  OverloadedError,
  ResilientStream,
  UpstreamError,
} from '../models/index.js';
import { AnswerTracker, carriesAnswer, type TrackedChunk } from './answer.js';
import { ChatStreamError, ClientCancelled, describeFailure, ServerShutdown } from './errors.js';
import { type ChatMetrics, chatMetrics } from './metrics.js';
import {
  CHAT_FAILURE_STATUSES,
  type ChatContext,
  type ChatHooks,
  type ChatMessage,
  type ChatOutcome,
  type ChatStatus,
} from './types.js';

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
  /**
   * The chunks that arrived together (one network read upstream, never empty), each with `text`,
   * the filtered content delta of choice 0; `model` the configured name that answered. Consumers
   * pass a batch on with one write.
   */
  | { type: 'chunks'; chunks: TrackedChunk[]; model: string }
  /** After hooks.record resolved. */
  | { type: 'end'; outcome: ChatOutcome };

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
  /** Answers in flight, for the shutdown drain: only their controllers, as they live as long as the answer. */
  private readonly running = new Set<AbortController>();
  /** While anyone waits for the last answer in flight to end: one promise for all of them. */
  private idle: { promise: Promise<void>; resolve: () => void } | undefined;
  private draining = false;

  constructor(private readonly deps: ChatServiceDeps) {
    this.metrics = chatMetrics(deps.registry);
    const fallback = deps.config.fallbackModel;
    if (fallback !== undefined && !this.chatGroup(fallback)) {
      deps.log.warn({ fallbackModel: fallback }, 'chat.fallbackModel is not a chat model; no fallback');
    }
  }

  /**
   * For shutdown: refuses new answers, lets those in flight finish for up to `ms`, then ends the
   * rest with a shutdown error (each client gets an error event) and waits until they are recorded.
   */
  async drain(ms: number): Promise<void> {
    this.draining = true;
    const all = () => {
      if (this.running.size === 0) return Promise.resolve();
      if (!this.idle) {
        let resolve!: () => void;
        const promise = new Promise<void>((r) => (resolve = r));
        this.idle = { promise, resolve };
      }
      return this.idle.promise;
    };
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([all(), new Promise((r) => (timer = setTimeout(r, ms)))]);
    clearTimeout(timer);
    for (const controller of this.running) controller.abort(new ServerShutdown());
    await all();
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

  /**
   * Every configured model with the roles it serves, for model pickers: the default chat model
   * first (Roo-based clients take the first entry as the default), then the other chat models,
   * then the rest.
   */
  catalog(): { id: string; roles: string[] }[] {
    const first = this.defaultModel();
    const groups = [...this.deps.models.groups.values()];
    const rank = (g: ModelGroup) => (g.name === first ? 0 : isChatModel(g) ? 1 : 2);
    return groups
      .map((g, i) => ({ g, i }))
      .sort((a, b) => rank(a.g) - rank(b.g) || a.i - b.i)
      .map(({ g }) => ({ id: g.name, roles: [...g.settings.roles] }));
  }

  private chatGroup(name: string): ModelGroup | undefined {
    const g = this.deps.models.get(name);
    return g && isChatModel(g) ? g : undefined;
  }

  /** Validates the model, runs hooks.prepare (may throw HttpError), then returns a stream of events. */
  async open(
    ctx: ChatContext,
    body: Record<string, unknown>,
    client: ClientLink,
  ): Promise<AsyncIterable<ChatEvent>> {
    if (this.draining)
      throw new HttpError(503, 'model_unavailable', new ServerShutdown().message, undefined, 5);
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
      const answerTokens = requestedAnswerTokens(body);
      messages = await this.deps.hooks.prepare(ctx, answerTokens === undefined ? {} : { answerTokens });
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
    return this.stream(ctx, group, messages, { ...body, messages }, client, started);
  }

  private async record(ctx: ChatContext, outcome: ChatOutcome): Promise<void> {
    const { metrics, deps } = this;
    metrics.requests.inc({ model: outcome.model, status: outcome.status });
    metrics.totalSeconds.observe({ model: outcome.model, status: outcome.status }, outcome.totalMs / 1000);
    // An answer the model failed is an upstream problem the operator must see.
    const failed = CHAT_FAILURE_STATUSES.includes(outcome.status);
    deps.log[failed ? 'warn' : 'info'](
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
    client: ClientLink,
    started: number,
  ): AsyncGenerator<ChatEvent> {
    const { config, hooks } = this.deps;
    const controller = new AbortController();
    this.running.add(controller);
    const onClientGone = () => controller.abort(new ClientCancelled());
    if (client.gone) onClientGone();
    const offClientGone = client.onGone(onClientGone);
    const totalTimer = setTimeout(abortAtTotal, config.timeouts.totalMs, controller, config.timeouts.totalMs);
    // The model that answers (the fallback may), and whether its answer started.
    const progress = { started: false, model: group.name };
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

    const upstream = this.call(group, body, controller, progress);
    this.metrics.inFlight.inc({ model: group.name });
    try {
      for (;;) {
        const pending = upstream.next();
        let result: IteratorResult<ChatChunk[]>;
        // Before the answer starts the wait is raced against keepalives and may be left behind
        // when the consumer stops at one (its rejection is expected then); after, it is awaited
        // directly, with no race and no extra handler per batch.
        if (!progress.started) pending.catch(() => undefined);
        for (;;) {
          const next = progress.started ? await pending : await orKeepalive(pending, config.keepAliveMs);
          if (next !== KEEPALIVE) {
            result = next;
            break;
          }
          yield { type: 'keepalive' };
        }
        if (result.done) break;
        const model = upstream.group!.name;
        progress.started = true;
        if (firstTokenMs === undefined) {
          firstTokenMs = performance.now() - started;
          this.metrics.firstTokenSeconds.observe({ model }, firstTokenMs / 1000);
        }
        const batch = result.value;
        const chunks: TrackedChunk[] = new Array(batch.length);
        for (let i = 0; i < batch.length; i++) chunks[i] = tracker.pass(batch[i]!);
        yield { type: 'chunks', chunks, model };
      }
      const rest = tracker.drain();
      if (rest) yield { type: 'chunks', chunks: [rest], model: progress.model };
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
      offClientGone();
      this.metrics.inFlight.dec({ model: group.name });
      if (!recorded) {
        // The consumer stopped iterating (its client left): close the upstream and say so.
        controller.abort(new ClientCancelled());
        upstream.return().catch(() => undefined);
        await finish(outcome('client_cancelled', 'the client stopped reading'));
      }
      this.running.delete(controller);
      if (this.running.size === 0 && this.idle) {
        this.idle.resolve();
        this.idle = undefined;
      }
    }
  }

  /**
   * The requested model, then the fallback: up to 1 + maxRetries tries each, every one on a
   * replica not tried yet, moving on only while nothing has been yielded and the failure is
   * retryable. A busy or down model goes straight to the fallback.
   */
  private call(
    group: ModelGroup,
    body: Record<string, unknown>,
    controller: AbortController,
    progress: { model: string },
  ): ResilientStream<ChatChunk[]> {
    const { config, log } = this.deps;
    const fallback = config.fallbackModel === undefined ? undefined : this.chatGroup(config.fallbackModel);
    const retryable = (err: unknown) => (err as { retryable?: boolean }).retryable === true;
    const policy: CallPolicy<ChatChunk[]> = {
      triesPerModel: 1 + config.maxRetries,
      retryReplica: (err) =>
        retryable(err) && !(err instanceof ModelUnavailableError || err instanceof OverloadedError),
      nextModel: retryable,
      firstTokenMs: config.timeouts.firstTokenMs,
      idleMs: config.timeouts.idleMs,
      // Role-only opening chunks are held back until the answer starts, so a retry can replace them.
      startsAnswer: (batch) => batch.some((chunk) => carriesAnswer(chunk.json)),
    };
    return new ResilientStream({
      models: fallback && fallback !== group ? [group, fallback] : [group],
      signal: controller.signal,
      controller,
      policy,
      open: (replica, _group, callSignal) =>
        replica.backend.streamChat(
          { ...body, model: replica.config.model ?? replica.config.name },
          callSignal,
        ),
      observe: {
        failed: (g, err) => {
          const kind = failureKind(err);
          if (kind) this.metrics.upstreamErrors.inc({ model: g.name, kind });
        },
        retrying: ({ from, to, nextModel, cause }) => {
          progress.model = to.name;
          const label = failureKind(cause) ?? 'error';
          this.metrics.retries.inc({
            model: from.name,
            to: nextModel ? 'fallback' : 'replica',
            cause: label,
          });
          log.info({ from: from.name, to: to.name, cause: label }, 'chat retry');
        },
      },
    });
  }
}

/**
 * The answer length the client capped its request at (OpenAI's max_tokens, or its newer
 * max_completion_tokens; the Responses and Anthropic APIs arrive here as max_tokens), if it is a
 * usable number. The upstream judges anything else.
 */
export function requestedAnswerTokens(body: Record<string, unknown>): number | undefined {
  for (const key of ['max_completion_tokens', 'max_tokens']) {
    const v = body[key];
    if (typeof v === 'number' && Number.isSafeInteger(v) && v > 0) return v;
  }
  return undefined;
}
