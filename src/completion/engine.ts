import type { FastifyBaseLogger } from 'fastify';
import type { CompletionConfig, FilterName, RejectRuleName } from '../config/schema.js';
import { HttpError } from '../http/errors.js';
import type { ClientLink } from '../http/request.js';
import { upstreamHttpError } from '../http/upstream-error.js';
import {
  abortAtTotal,
  type CallObserver,
  type CallPolicy,
  type ModelGroup,
  type ModelRegistry,
  ModelUnavailableError,
  OverloadedError,
  type Replica,
  type ResilientCall,
  ResilientStream,
  UpstreamError,
  UpstreamTimeout,
} from '../models/index.js';
import type { CompletionCache } from './cache.js';
import { runFilters } from './filters/index.js';
import type { CompletionMetrics } from './metrics.js';
import { resolveCompletionModel } from './model-choice.js';
import { buildPrompt } from './prompt/build.js';
import { createEstimateCounter, type TokenCounter } from './prompt/tokens.js';
import { type RunNotes, recordFailure, recordOutcome } from './record.js';
import { checkRejectRules } from './rules/index.js';
import { decideLineMode } from './rules/line-mode.js';
import { filterOfStop, StopDetector } from './stream/stop-detector.js';
import { SupersededError, type SupersedeRegistry } from './supersede.js';
import {
  type BuiltPrompt,
  type CompletionInput,
  type CursorView,
  cursorView,
  type LineMode,
} from './types.js';

/**
 * The completion engine, in four stages over one run record:
 * 1. prepare: the model, the "don't complete here" rules, line mode, the prompt;
 * 2. look up: the answer cache, then typed-through reuse;
 * 3. generate: the resilient upstream call (models/resilient-call.ts) streamed through the early
 *    stop detector, under the total deadline, superseded by the caller's next request;
 * 4. finish: the filters, the cache write.
 * Metrics and the summary log line are recorded once, from the outcome. Every stage's logic
 * lives in its own module; this file sequences them.
 */

export class ClientGoneError extends Error {
  override readonly name = 'ClientGoneError';
  constructor() {
    super('the client closed the connection');
  }
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
      /** Tokens of the answer (estimated from its text; 0 when no model was asked). */
      completionTokens: number;
      timings: Timings;
      prompt?: BuiltPrompt;
      replica?: string;
    }
  | { kind: 'rejected'; model: string; rule: RejectRuleName; timings: Timings }
  | { kind: 'superseded'; model: string; timings: Timings }
  | { kind: 'client_gone'; model: string; timings: Timings };

/** A request that ended in an HTTP error: which model it was for and when it failed. */
export interface CompletionFailure {
  error: HttpError;
  model: string;
  totalMs: number;
}

/** Which request API asked, for metrics and logs. */
export type CompletionApi = 'v2' | 'openai' | 'code_completion' | 'tabby';

export interface CompletionJob {
  api: CompletionApi;
  /** The request id (the usage ledger's key). */
  requestId: string;
  /** Who asked, when the route is behind auth (the usage ledger's user). */
  user?: { id: string; name: string };
  input: CompletionInput;
  /** An unknown model name is a 404 instead of the default model (the OpenAI API names models). */
  strictModel: boolean;
  /** Requests with the same key supersede each other (client id, or user + completion stream). */
  supersedeKey?: string;
  /** The client's connection: whether it is gone, and news when it goes. */
  client: ClientLink;
  log: FastifyBaseLogger;
}

export interface CompletionEngineDeps {
  config: CompletionConfig;
  models: ModelRegistry;
  cache: CompletionCache;
  supersede: SupersedeRegistry;
  metrics: CompletionMetrics;
  logCode: boolean;
  /** Told every finished request, for the usage ledger; it must not throw or make the request wait. */
  onOutcome?(job: CompletionJob, result: CompletionOutcome | CompletionFailure): void;
}

/** One request as it goes through the stages. */
interface Run {
  job: CompletionJob;
  started: number;
  timings: Timings;
  /** The cursor line, computed once for the rules, the line mode, the stop detector and the filters. */
  view: CursorView;
  lineMode: LineMode;
  model: ModelGroup;
  maxTokens: number;
  temperature: number;
  /** Built per model (the fallback model may use another template), with its cache key once asked. */
  prompts: PromptSlot[];
  /** What the stages noted for the metrics, which are recorded once at the end. */
  notes: RunNotes;
}

interface PromptSlot {
  group: ModelGroup;
  prompt: BuiltPrompt;
  cacheKey?: string;
  /** The typed-through document key (a hash of the whole suffix): once per model, read twice. */
  documentKey?: string;
}

/** What the generate stage got from a model. */
interface Generated {
  group: ModelGroup;
  replica?: Replica;
  prompt: BuiltPrompt;
  text: string;
  raw: string;
  pieces: number;
  source: 'model' | 'deadline_partial';
  finishReason: 'stop' | 'length';
  /** The filter whose rule the stream stop detector applied when it cut the text. */
  cutBy?: FilterName;
}

/** Lines that are complete (end in a line break) in a partial answer cut by a deadline. */
function completeLinesOnly(text: string): string {
  const nl = text.lastIndexOf('\n');
  return nl === -1 ? '' : text.slice(0, nl);
}

/** The prompt builder makes a new list per request; its contents are the model's template's. */
function sameTokens(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Why a failure sends the request to the fallback model (the metric's cause), or undefined. */
function fallbackCause(err: unknown): string | undefined {
  if (err instanceof OverloadedError) return err.reason;
  if (err instanceof UpstreamTimeout && err.deadline === 'first_token') return 'first_token_timeout';
  if (err instanceof ModelUnavailableError) return 'unavailable';
  if (err instanceof UpstreamError && err.kind === 'status' && (err.status === 429 || err.status === 503)) {
    return 'upstream_overloaded';
  }
  return undefined;
}

/**
 * The upstream call of one run: what it asks the resilient call for (models, policy, how to open a
 * replica's stream), what it hears back (timings, per-try metrics, the fallback log line), and
 * the try that is answering with its stop detector. One object per run with its methods on the
 * prototype, not a set of closures per request.
 */
class RunCall implements ResilientCall<string>, CallObserver {
  readonly models: readonly ModelGroup[];
  readonly signal: AbortSignal;
  readonly observe = this;
  /** The answering try: its model, replica and prompt, and the detector reading its answer. */
  group: ModelGroup | undefined;
  replica: Replica | undefined;
  prompt: BuiltPrompt | undefined;
  /** One per model tried: a fallback's answer starts afresh. */
  detector: StopDetector | undefined;

  constructor(
    private readonly engine: CompletionEngine,
    private readonly run: Run,
    private readonly metrics: CompletionMetrics,
    readonly controller: AbortController,
    readonly policy: CallPolicy<string>,
    fallback: ModelGroup | undefined,
  ) {
    this.models = fallback && fallback !== run.model ? [run.model, fallback] : [run.model];
    this.signal = controller.signal;
  }

  open(replica: Replica, group: ModelGroup, signal: AbortSignal): AsyncIterable<string> {
    const { run } = this;
    const { input } = run.job;
    const prompt = this.engine.promptFor(run, group);
    this.group = group;
    this.replica = replica;
    this.prompt = prompt;
    this.detector = new StopDetector({
      prefix: input.prefix,
      suffix: input.suffix,
      view: run.view,
      language: input.language,
      lineMode: run.lineMode,
      stop: prompt.stop,
      specialTokens: prompt.specialTokens,
    });
    return replica.backend.streamFim(
      {
        model: replica.config.model ?? replica.config.name,
        prompt: prompt.prompt,
        promptParts: prompt.promptParts,
        suffix: prompt.suffix,
        maxTokens: run.maxTokens,
        temperature: run.temperature,
        stop: prompt.stop,
      },
      signal,
    );
  }

  queued(_group: ModelGroup, ms: number): void {
    this.run.timings.queueMs += ms;
  }

  started(group: ModelGroup, ms: number): void {
    this.run.timings.firstTokenMs = performance.now() - this.run.started;
    this.metrics.phaseSeconds.observe({ phase: 'first_token', model: group.name }, ms / 1000);
  }

  failed(group: ModelGroup, err: unknown): void {
    if (err instanceof UpstreamTimeout) {
      this.metrics.aborts.inc({ cause: 'deadline' });
      this.metrics.upstreamErrors.inc({ model: group.name, kind: 'timeout' });
    } else if (err instanceof UpstreamError) {
      this.metrics.upstreamErrors.inc({ model: group.name, kind: err.kind });
    }
  }

  retrying(e: { from: ModelGroup; to: ModelGroup; nextModel: boolean; trigger: unknown }): void {
    if (!e.nextModel) return;
    const cause = fallbackCause(e.trigger) ?? 'error';
    this.metrics.fallbacks.inc({ from: e.from.name, to: e.to.name, cause });
    this.run.job.log.info({ from: e.from.name, to: e.to.name, cause }, 'completion fallback');
  }
}

const nothingClaimed = () => {};

export class CompletionEngine {
  /** The same for every request (it depends on the configuration only), so made once. */
  private readonly policy: CallPolicy<string>;
  /** The answer's token counter per model, made once per special-token list. */
  private readonly counters = new Map<
    ModelGroup,
    { specialTokens: readonly string[]; counter: TokenCounter }
  >();

  constructor(private readonly deps: CompletionEngineDeps) {
    const { timeouts } = deps.config;
    this.policy = {
      // Only an unreachable replica is worth another replica; every one may be tried.
      triesPerModel: Number.POSITIVE_INFINITY,
      retryReplica: (err) => err instanceof UpstreamError && err.kind === 'unreachable',
      nextModel: (err) => fallbackCause(err) !== undefined,
      firstTokenMs: timeouts.firstTokenMs,
      queueMs: timeouts.queueMs,
    };
  }

  /** Answers one request; refusals and model failures are thrown as HttpError. */
  async complete(job: CompletionJob): Promise<CompletionOutcome> {
    const started = performance.now();
    const notes: RunNotes = {};
    let model: ModelGroup | undefined;
    try {
      model = resolveCompletionModel(this.deps.models, this.deps.config, job.input.model, job.strictModel);
      const prepared = this.prepare(job, model, started, notes);
      const outcome =
        prepared.kind === 'rejected'
          ? prepared
          : (this.lookUp(prepared.run) ?? (await this.generateAndFinish(prepared.run)));
      outcome.timings.totalMs = performance.now() - started;
      recordOutcome(this.deps.metrics, job, outcome, notes);
      this.deps.onOutcome?.(job, outcome);
      return outcome;
    } catch (err) {
      // The backend's own words go to the log only; the client hears the status and the model.
      if (err instanceof UpstreamError && err.detail) {
        job.log.warn({ model: model?.name, status: err.status, upstream: err.detail }, 'model backend error');
      }
      const http =
        err instanceof HttpError
          ? err
          : upstreamHttpError(err, { model: model?.name ?? '', started: false, clientOwnsRequest: false });
      if (!http) throw err;
      const failure = { error: http, model: model?.name ?? '', totalMs: performance.now() - started };
      recordFailure(this.deps.metrics, job, failure, notes);
      this.deps.onOutcome?.(job, failure);
      throw http;
    }
  }

  // ---- 1. prepare: rules, line mode, prompt ---------------------------------------------------

  private prepare(
    job: CompletionJob,
    model: ModelGroup,
    started: number,
    notes: RunNotes,
  ): { kind: 'run'; run: Run } | Extract<CompletionOutcome, { kind: 'rejected' }> {
    const { config } = this.deps;
    const timings: Timings = { queueMs: 0, promptMs: 0, totalMs: 0 };
    const view = cursorView(job.input.prefix, job.input.suffix);
    const rule = checkRejectRules(job.input, config.rules, view);
    if (rule) return { kind: 'rejected', model: model.name, rule, timings };
    const run: Run = {
      job,
      started,
      timings,
      view,
      lineMode: decideLineMode(job.input, config.multiline, view),
      model,
      maxTokens: Math.min(job.input.maxTokens ?? config.maxTokens, config.maxTokens),
      temperature: job.input.temperature ?? config.temperature,
      prompts: [],
      notes,
    };
    this.promptFor(run, model);
    return { kind: 'run', run };
  }

  /** The prompt for `group`, built the first time that model is asked. */
  promptFor(run: Run, group: ModelGroup): BuiltPrompt {
    return this.slotFor(run, group).prompt;
  }

  private slotFor(run: Run, group: ModelGroup): PromptSlot {
    for (const slot of run.prompts) if (slot.group === group) return slot;
    const { config } = this.deps;
    const promptStart = performance.now();
    const built = buildPrompt(run.job.input, group.settings, {
      maxTokens: run.maxTokens,
      suffixShare: config.suffixShare,
      contextShare: config.contextShare,
      lineMode: run.lineMode,
    });
    run.timings.promptMs = performance.now() - promptStart;
    this.deps.metrics.phaseSeconds.observe(
      { phase: 'prompt', model: group.name },
      run.timings.promptMs / 1000,
    );
    const slot: PromptSlot = { group, prompt: built };
    run.prompts.push(slot);
    return slot;
  }

  /** Hashed once per model: the look-up and the cache write use the same key. */
  private cacheKey(run: Run, group: ModelGroup): string {
    const slot = this.slotFor(run, group);
    slot.cacheKey ??= this.deps.cache.key({
      model: group.name,
      promptParts: slot.prompt.promptParts,
      suffix: slot.prompt.suffix,
      maxTokens: run.maxTokens,
      temperature: run.temperature,
      stop: slot.prompt.stop,
      lineMode: run.lineMode,
    });
    return slot.cacheKey;
  }

  private documentKey(run: Run, group: ModelGroup): string {
    const slot = this.slotFor(run, group);
    slot.documentKey ??= this.deps.cache.documentKey(group.name, run.job.input.suffix);
    return slot.documentKey;
  }

  // ---- 2. look up: cache, typed-through ---------------------------------------------------------

  private lookUp(run: Run): CompletionOutcome | undefined {
    const { cache } = this.deps;
    const { model, job } = run;
    const hit = cache.get(this.cacheKey(run, model));
    if (hit) {
      run.notes.cache = 'hit';
      return this.reuse(run, hit.text, 'cache', hit.filters);
    }
    const typed = cache.typedThrough(this.documentKey(run, model), job.input.prefix);
    if (typed) {
      run.notes.cache = 'typed_through';
      return this.reuse(run, typed.text, 'typed_through', []);
    }
    run.notes.cache = 'miss';
    return undefined;
  }

  private reuse(
    run: Run,
    text: string,
    source: 'cache' | 'typed_through',
    filters: FilterName[],
  ): CompletionOutcome {
    const prompt = this.promptFor(run, run.model);
    return {
      kind: 'completed',
      model: run.model.name,
      lineMode: run.lineMode,
      promptTokens: prompt.promptTokens,
      timings: run.timings,
      prompt,
      text,
      rawText: text,
      source,
      finishReason: 'stop',
      filters,
      completionTokens: 0,
    };
  }

  // ---- 3. generate: lease, stream, early stop -------------------------------------------------

  private async generateAndFinish(run: Run): Promise<CompletionOutcome> {
    const generated = await this.generate(run);
    return 'kind' in generated ? generated : this.finish(run, generated);
  }

  private async generate(
    run: Run,
  ): Promise<Generated | Extract<CompletionOutcome, { kind: 'superseded' | 'client_gone' }>> {
    const { config, metrics, models } = this.deps;
    const { job, timings, model } = run;
    const controller = new AbortController();
    const onClientGone = () => controller.abort(new ClientGoneError());
    if (job.client.gone) onClientGone();
    const offClientGone = job.client.onGone(onClientGone);
    const unclaim = job.supersedeKey
      ? this.deps.supersede.claim(job.supersedeKey, controller)
      : nothingClaimed;
    const remainingMs = Math.max(1, config.timeouts.totalMs - (performance.now() - run.started));
    const totalTimer = setTimeout(abortAtTotal, remainingMs, controller, config.timeouts.totalMs);
    const fallback = config.fallbackModel ? models.get(config.fallbackModel) : undefined;
    const call = new RunCall(this, run, metrics, controller, this.policy, fallback);
    let raw = '';
    let pieces = 0;
    metrics.inFlight.inc({ model: model.name });
    try {
      for await (const item of new ResilientStream(call)) {
        pieces++;
        raw += item;
        if (call.detector!.push(item)) {
          run.notes.decided = true;
          break; // leaving the loop closes the upstream request
        }
      }
    } catch (err) {
      const reason: unknown = controller.signal.aborted ? controller.signal.reason : err;
      const answered = call.group?.name ?? model.name;
      if (reason instanceof ClientGoneError) return { kind: 'client_gone', model: answered, timings };
      if (reason instanceof SupersededError) return { kind: 'superseded', model: answered, timings };
      if (reason instanceof UpstreamTimeout) {
        const { detector } = call;
        const partial =
          run.lineMode === 'multi' && reason.deadline === 'total' && detector
            ? completeLinesOnly(detector.text())
            : '';
        if (partial.trim() === '' || !call.prompt) throw reason;
        return {
          group: call.group!,
          replica: call.replica,
          prompt: call.prompt,
          text: partial,
          raw,
          pieces,
          source: 'deadline_partial',
          finishReason: 'length',
          cutBy: undefined,
        };
      }
      throw reason;
    } finally {
      clearTimeout(totalTimer);
      offClientGone();
      unclaim();
      metrics.inFlight.dec({ model: model.name });
    }
    const { detector } = call;
    // The stream ended without our stop decision: either the model stopped or it hit max_tokens.
    const finishReason = detector?.reason === undefined && pieces >= run.maxTokens ? 'length' : 'stop';
    return {
      group: call.group ?? model,
      replica: call.replica,
      prompt: call.prompt ?? this.promptFor(run, model),
      text: detector?.text() ?? '',
      raw,
      pieces,
      source: 'model',
      finishReason,
      cutBy: filterOfStop(detector?.reason),
    };
  }

  // ---- 4. finish: filters, cache write ----------------------------------------------------------

  private finish(run: Run, g: Generated): CompletionOutcome {
    const { config, cache } = this.deps;
    const { input } = run.job;
    const filtered = runFilters(
      g.text,
      {
        prefix: input.prefix,
        suffix: input.suffix,
        view: run.view,
        language: input.language,
        lineMode: run.lineMode,
        specialTokens: g.prompt.specialTokens,
      },
      config.filters,
    );
    const hits = g.cutBy && !filtered.hits.includes(g.cutBy) ? [g.cutBy, ...filtered.hits] : filtered.hits;
    // A deadline's partial answer is not what the model would say given time: not cached.
    if (g.source === 'model') {
      cache.set(this.cacheKey(run, g.group), { text: filtered.text, filters: hits });
      cache.remember(this.documentKey(run, g.group), input.prefix, filtered.text);
    }
    if (this.deps.logCode) run.job.log.info({ raw: g.raw, text: filtered.text }, 'completion text');
    return {
      kind: 'completed',
      model: g.group.name,
      lineMode: run.lineMode,
      promptTokens: g.prompt.promptTokens,
      timings: run.timings,
      prompt: g.prompt,
      text: filtered.text,
      rawText: g.raw,
      source: g.source,
      finishReason: g.finishReason,
      filters: hits,
      completionTokens: this.countTokens(g),
      replica: g.replica?.config.url,
    };
  }

  /** The answer's tokens, estimated from the raw text as prompts are (the stream reports none). */
  private countTokens(g: Generated): number {
    const known = this.counters.get(g.group);
    if (known && sameTokens(known.specialTokens, g.prompt.specialTokens)) return known.counter.count(g.raw);
    const counter = createEstimateCounter(g.group.settings.charsPerToken, g.prompt.specialTokens);
    this.counters.set(g.group, { specialTokens: g.prompt.specialTokens, counter });
    return counter.count(g.raw);
  }
}
