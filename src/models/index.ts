/**
 * The model layer's entry: everything outside `models/` imports from here, so backends, the
 * pool and the stream decoders can be rearranged without touching the features.
 */

export type {
  BackendOptions,
  ChatChunk,
  ChatChunkJson,
  FimRequest,
  ModelBackend,
  UpstreamErrorKind,
} from './backend.js';
export {
  abortAtTotal,
  type Deadline,
  failureKind,
  isModelCallFailure,
  type ModelCallFailure,
  UpstreamError,
  UpstreamTimeout,
} from './errors.js';
export { createBackend } from './factory.js';
export { type ModelMetrics, modelMetrics } from './metrics.js';
export {
  type BackendFactory,
  type Lease,
  ModelGroup,
  ModelRegistry,
  ModelUnavailableError,
  OverloadedError,
  type Replica,
} from './pool.js';
export { modelReadiness } from './readiness.js';
export {
  type CallObserver,
  type CallPolicy,
  type ResilientCall,
  ResilientStream,
} from './resilient-call.js';
export { RESPONSES_REQUEST, responsesInputOf } from './responses.js';
