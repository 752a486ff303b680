import type { FastifyBaseLogger } from 'fastify';
import type { CompletionConfig, FilterName, RejectRuleName } from '../config/schema.js';
import { HttpError } from '../http/errors.js';
import {
  type Lease,
  type ModelGroup,
  type ModelRegistry,
  ModelUnavailableError,
  OverloadedError,
  type Replica,
  UpstreamError,
} from '../models/index.js';
import type { CompletionCache } from './cache.js';
import { runFilters } from './filters/index.js';
import type { CompletionMetrics } from './metrics.js';
import { buildPrompt } from './prompt/build.js';
import { checkRejectRules } from './rules/index.js';
import { decideLineMode } from './rules/line-mode.js';
import { StopDetector } from './stream/stop-detector.js';
import { SupersededError, type SupersedeRegistry } from './supersede.js';
import type { BuiltPrompt, CompletionInput, LineMode } from './types.js';

/**
 * The completion orchestrator: rules → line mode → prompt → cache → slot → streamed model call
 * with early stop → filters. Every stage is its own module; this file only sequences them and
 * owns the deadlines, aborts and fallbacks.
 */

export class ClientGoneError extends Error {
  override readonly name = 'ClientGoneError';
  constructor() {
    super('the client closed the connection');
  }
}
class FirstTokenTimeout extends Error {
  override readonly name = 'FirstTokenTimeout';
}
class TotalTimeout extends Error {
  override readonly name = 'TotalTimeout';
}

export interface Timings {
  queueMs: number;
  promptMs: number;
  firstTokenMs?: number;
  totalMs: number;
}

export type CompletionOutcome =
  | {
      kind: 'completed';
      model: string;
      text: string;
      /** Why this text: model answer, cache reuse, or a deadline that cut it. */
      source: 'model' | 'cache' | 'typed_through' | 'deadline_partial';
      finishReason: 'stop' | 'length';
      filters: FilterName[];
      rawText: string;
      lineMode: LineMode;
      promptTokens: number;
      completionTokens: number;
      timings: Timings;
      prompt?: BuiltPrompt;
      replica?: string;
    }
  | { kind: 'rejected'; model: string; rule: RejectRuleName; timings: Timings }
  | { kind: 'superseded'; model: string; timings: Timings }
  | { kind: 'client_gone'; model: string; timings: Timings };

export interface CompletionJob {
  input: CompletionInput;
  /** Requests with the same key supersede each other (client id, or user + completion stream). */
  supersedeKey?: string;
  /** Aborted when the client goes away. */
  clientSignal: AbortSignal;
  log: FastifyBaseLogger;
}

export interface CompletionEngineDeps {
  config: CompletionConfig;
  models: ModelRegistry;
  cache: CompletionCache;
  supersede: SupersedeRegistry;
  metrics: CompletionMetrics;
  logCode: boolean;
}

/** Lines that are complete (end in a line break) in a partial answer cut by a deadline. */
function completeLinesOnly(text: string): string {
  const nl = text.lastIndexOf('\n');
  return nl === -1 ? '' : text.slice(0, nl);
}

function fallbackWorthy(err: unknown): string | undefined {
  if (err instanceof OverloadedError) return err.reason;
  if (err instanceof FirstTokenTimeout) return 'first_token_timeout';
  if (err instanceof ModelUnavailableError) return 'unavailable';
  if (err instanceof UpstreamError && err.kind === 'status' && (err.status === 429 || err.status === 503)) {
    return 'upstream_overloaded';
  }
  return undefined;
}

export class CompletionEngine {
  constructor(private readonly deps: CompletionEngineDeps) {}

  /** The default completion model: configured, else the first model serving completion. */
  defaultModel(): ModelGroup | undefined {
    const { config, models } = this.deps;
    if (config.model) return models.get(config.model);
    for (const g of models.groups.values()) if (g.settings.roles.includes('completion')) return g;
    return undefined;
  }

  /** Resolves a requested model name; unknown names fall back to the default unless `strict`. */
  resolveModel(requested: string | undefined, strict: boolean): ModelGroup {
    if (requested) {
      const g = this.deps.models.get(requested);
      if (g?.settings.roles.includes('completion')) return g;
      if (strict) {
        const names = [...this.deps.models.groups.values()]
          .filter((m) => m.settings.roles.includes('completion'))
          .map((m) => m.name);
        throw new HttpError(
          404,
          'not_found_error',
          `model "${requested}" is not a completion model here; available: ${names.join(', ') || 'none'}`,
          'model',
        );
      }
    }
    const g = this.defaultModel();
    if (!g) {
      throw new HttpError(
        503,
        'model_unavailable',
        'no completion model is configured (see models: in shenma.yaml)',
      );
    }
    return g;
  }

  async complete(job: CompletionJob, group: ModelGroup): Promise<CompletionOutcome> {
    const started = performance.now();
    const timings: Timings = { queueMs: 0, promptMs: 0, totalMs: 0 };
    const finish = <T extends CompletionOutcome>(o: T): T => {
      timings.totalMs = performance.now() - started;
      return o;
    };
    const rule = checkRejectRules(job.input, this.deps.config.rules);
    if (rule) return finish({ kind: 'rejected', model: group.name, rule, timings });
    const lineMode = decideLineMode(job.input, this.deps.config.multiline);

    const fallbackName = this.deps.config.fallbackModel;
    try {
      return finish(await this.attempt(job, group, lineMode, timings, started));
    } catch (err) {
      if (err instanceof UpstreamError && err.detail) {
        job.log.warn({ model: group.name, status: err.status, upstream: err.detail }, 'model backend error');
      }
      const cause = fallbackWorthy(err);
      const fallback = fallbackName ? this.deps.models.get(fallbackName) : undefined;
      if (!cause || !fallback || fallback === group) throw this.toHttpError(err, group.name);
      this.deps.metrics.fallbacks.inc({ from: group.name, to: fallback.name, cause });
      job.log.info({ from: group.name, to: fallback.name, cause }, 'completion fallback');
      try {
        return finish(await this.attempt(job, fallback, lineMode, timings, started));
      } catch (err2) {
        throw this.toHttpError(err2, fallback.name);
      }
    }
  }

  private toHttpError(err: unknown, model: string): unknown {
    if (err instanceof HttpError) return err;
    if (err instanceof OverloadedError) {
      return new HttpError(429, 'overloaded_error', err.message, undefined, err.retryAfter);
    }
    if (err instanceof ModelUnavailableError) {
      return new HttpError(503, 'model_unavailable', err.message, undefined, 5);
    }
    if (err instanceof FirstTokenTimeout || err instanceof TotalTimeout) {
      return new HttpError(504, 'timeout_error', `model "${model}": ${err.message}`);
    }
    if (err instanceof UpstreamError) {
      this.deps.metrics.upstreamErrors.inc({ model, kind: err.kind });
      if (err.kind === 'unreachable') {
        return new HttpError(
          503,
          'model_unavailable',
          `model "${model}" is unreachable: ${err.message}`,
          undefined,
          5,
        );
      }
      if (err.kind === 'status' && (err.status === 429 || err.status === 503)) {
        return new HttpError(
          429,
          'overloaded_error',
          `model "${model}" is overloaded: ${err.message}`,
          undefined,
          err.retryAfter ?? 1,
        );
      }
      return new HttpError(502, 'upstream_error', `model "${model}" failed: ${err.message}`);
    }
    return err;
  }

  private async attempt(
    job: CompletionJob,
    group: ModelGroup,
    lineMode: LineMode,
    timings: Timings,
    started: number,
  ): Promise<CompletionOutcome> {
    const { config, cache, metrics } = this.deps;
    const settings = group.settings;
    const maxTokens = Math.min(job.input.maxTokens ?? config.maxTokens, config.maxTokens);
    const temperature = job.input.temperature ?? config.temperature;

    const promptStart = performance.now();
    const built = buildPrompt(job.input, settings, {
      maxTokens,
      suffixShare: config.suffixShare,
      contextShare: config.contextShare,
      lineMode,
    });
    timings.promptMs = performance.now() - promptStart;
    metrics.phaseSeconds.observe({ phase: 'prompt', model: group.name }, timings.promptMs / 1000);

    const base = {
      model: group.name,
      lineMode,
      promptTokens: built.promptTokens,
      timings,
      prompt: built,
    };
    const cacheKey = cache.key({
      model: group.name,
      prompt: built.prompt,
      suffix: built.suffix,
      maxTokens,
      temperature,
      stop: built.stop,
      lineMode,
    });
    const hit = cache.get(cacheKey);
    if (hit) {
      metrics.cache.inc({ result: 'hit' });
      return {
        kind: 'completed',
        ...base,
        text: hit.text,
        rawText: hit.text,
        source: 'cache',
        finishReason: 'stop',
        filters: hit.filters,
        completionTokens: 0,
      };
    }
    const typed = cache.typedThrough(group.name, job.input.prefix, job.input.suffix);
    if (typed) {
      metrics.cache.inc({ result: 'typed_through' });
      return {
        kind: 'completed',
        ...base,
        text: typed.text,
        rawText: typed.text,
        source: 'typed_through',
        finishReason: 'stop',
        filters: [],
        completionTokens: 0,
      };
    }
    metrics.cache.inc({ result: 'miss' });

    const controller = new AbortController();
    const onClientGone = () => controller.abort(new ClientGoneError());
    if (job.clientSignal.aborted) onClientGone();
    job.clientSignal.addEventListener('abort', onClientGone, { once: true });
    const unclaim = job.supersedeKey ? this.deps.supersede.claim(job.supersedeKey, controller) : () => {};
    const remainingMs = Math.max(1, config.timeouts.totalMs - (performance.now() - started));
    const totalTimer = setTimeout(
      () => controller.abort(new TotalTimeout(`no complete answer within ${config.timeouts.totalMs} ms`)),
      remainingMs,
    );
    let firstTokenTimer: NodeJS.Timeout | undefined;
    const detector = new StopDetector({
      prefix: job.input.prefix,
      suffix: job.input.suffix,
      lineMode,
      stop: built.stop,
      specialTokens: built.specialTokens,
    });
    let raw = '';
    let pieces = 0;
    let replica: Replica | undefined;
    metrics.inFlight.inc({ model: group.name });
    try {
      const tried = new Set<Replica>();
      for (;;) {
        const queueStart = performance.now();
        let lease: Lease;
        try {
          lease = await group.acquire(controller.signal, config.timeouts.queueMs, tried);
        } finally {
          timings.queueMs += performance.now() - queueStart;
        }
        replica = lease.replica;
        const requestStart = performance.now();
        firstTokenTimer = setTimeout(
          () =>
            controller.abort(
              new FirstTokenTimeout(`no first token within ${config.timeouts.firstTokenMs} ms`),
            ),
          config.timeouts.firstTokenMs,
        );
        try {
          const stream = replica.backend.streamFim(
            {
              model: replica.config.model ?? replica.config.name,
              prompt: built.prompt,
              ...(built.suffix !== undefined ? { suffix: built.suffix } : {}),
              maxTokens,
              temperature,
              stop: built.stop,
            },
            controller.signal,
          );
          for await (const piece of stream) {
            if (pieces === 0) {
              clearTimeout(firstTokenTimer);
              timings.firstTokenMs = performance.now() - started;
              metrics.phaseSeconds.observe(
                { phase: 'first_token', model: group.name },
                (performance.now() - requestStart) / 1000,
              );
            }
            pieces++;
            raw += piece;
            if (detector.push(piece)) {
              metrics.aborts.inc({ cause: 'decided' });
              break; // leaving the loop closes the upstream request
            }
          }
          group.markHealthy(replica);
          break;
        } catch (err) {
          if (err instanceof UpstreamError && err.kind === 'unreachable') {
            group.markDown(replica, err.message);
            metrics.upstreamErrors.inc({ model: group.name, kind: err.kind });
            tried.add(replica);
            if (pieces === 0 && !controller.signal.aborted) continue; // another replica may answer
          }
          throw err;
        } finally {
          clearTimeout(firstTokenTimer);
          lease.release();
        }
      }
    } catch (err) {
      const reason: unknown = controller.signal.aborted ? controller.signal.reason : err;
      if (reason instanceof ClientGoneError) {
        metrics.aborts.inc({ cause: 'client_gone' });
        return { kind: 'client_gone', model: group.name, timings };
      }
      if (reason instanceof SupersededError) {
        metrics.aborts.inc({ cause: 'superseded' });
        return { kind: 'superseded', model: group.name, timings };
      }
      if (reason instanceof TotalTimeout || reason instanceof FirstTokenTimeout) {
        metrics.aborts.inc({ cause: 'deadline' });
        metrics.upstreamErrors.inc({ model: group.name, kind: 'timeout' });
        const partial =
          lineMode === 'multi' && reason instanceof TotalTimeout ? completeLinesOnly(detector.text()) : '';
        if (partial.trim() === '') throw reason;
        return this.finishText(
          job,
          group.name,
          base,
          partial,
          raw,
          'deadline_partial',
          'length',
          pieces,
          cacheKey,
          false,
          replica,
        );
      }
      throw reason;
    } finally {
      clearTimeout(totalTimer);
      job.clientSignal.removeEventListener('abort', onClientGone);
      unclaim();
      metrics.inFlight.dec({ model: group.name });
    }
    // The stream ended without our stop decision: either the model stopped or it hit max_tokens.
    const finishReason = detector.reason === undefined && pieces >= maxTokens ? 'length' : 'stop';
    return this.finishText(
      job,
      group.name,
      base,
      detector.text(),
      raw,
      'model',
      finishReason,
      pieces,
      cacheKey,
      true,
      replica,
    );
  }

  private finishText(
    job: CompletionJob,
    model: string,
    base: { model: string; lineMode: LineMode; promptTokens: number; timings: Timings; prompt: BuiltPrompt },
    text: string,
    raw: string,
    source: 'model' | 'deadline_partial',
    finishReason: 'stop' | 'length',
    pieces: number,
    cacheKey: string,
    cacheable: boolean,
    replica: Replica | undefined,
  ): CompletionOutcome {
    const { config, cache, metrics } = this.deps;
    const filtered = runFilters(
      text,
      {
        prefix: job.input.prefix,
        suffix: job.input.suffix,
        language: job.input.language,
        lineMode: base.lineMode,
        specialTokens: base.prompt.specialTokens,
      },
      config.filters,
    );
    for (const f of filtered.hits) metrics.filterHits.inc({ filter: f });
    if (cacheable) {
      cache.set(cacheKey, { text: filtered.text, filters: filtered.hits });
      cache.remember(model, job.input.prefix, job.input.suffix, filtered.text);
    }
    if (this.deps.logCode) job.log.info({ raw, text: filtered.text }, 'completion text');
    return {
      kind: 'completed',
      ...base,
      text: filtered.text,
      rawText: raw,
      source,
      finishReason,
      filters: filtered.hits,
      completionTokens: pieces,
      ...(replica ? { replica: replica.config.url } : {}),
    };
  }
}
