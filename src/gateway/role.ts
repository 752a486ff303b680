import type { Server } from 'node:http';
import type { FastifyBaseLogger } from 'fastify';
import type { Registry } from 'prom-client';
import type { ShenmaConfig } from '../config/schema.js';
import type { CredentialEvents } from '../http/credential-events.js';
import type { Authenticate } from '../http/identity.js';
import type { ModelRegistry } from '../models/index.js';
import type { ReadinessCheck } from '../observability/readiness.js';
import type { Database } from '../storage/database.js';
import type { EphemeralStore } from '../storage/ephemeral.js';
import type { HandledRouteId, Role, RouteHandlers } from './routes.js';

/**
 * What every role of ours gets, and what it gives back: the handlers for its route-table ids.
 * The role contract lives beside the route table it serves; the server that runs roles (all of
 * them in one process, or some) is built above it.
 */
export interface RoleContext {
  config: ShenmaConfig;
  db: Database;
  dataDir: string;
  /** What browsers and IDEs use to reach Shenma (issuer, redirect URIs). */
  publicUrl: string;
  /** How this process reaches its own listener (server-side calls to its own endpoints). */
  internalUrl: string;
  registry: Registry;
  models: ModelRegistry;
  log: FastifyBaseLogger;
  /**
   * Short-lived state every replica must see (captcha answers, login backoff, polling logins):
   * memory in one process, Redis when `redis.url` is set. The kaptcha and identity roles share it.
   */
  ephemeral: EphemeralStore;
  /** Disabled users and revoked tokens, announced to every replica (through Redis when set). */
  credentialChanges: CredentialEvents;
}

export interface RoleParts<R extends Role> {
  /** One handler per route-table entry of the role (see HandledRouteId). */
  handlers: RouteHandlers<HandledRouteId<R>>;
  readiness?: ReadinessCheck[];
  /** The identity role provides the credential check every `auth: 'user'` route runs. */
  authenticate?: Authenticate;
  /**
   * Called once the HTTP server exists, before it listens (Socket.IO attaches here), with the
   * identity role's credential check for protocols that carry credentials outside HTTP routes.
   */
  attach?(server: Server, authenticate: Authenticate | undefined): void;
  /**
   * Closes what `attach` opened (long-lived connections such as WebSockets), before the HTTP
   * server stops: the server's close waits for every connection, upgraded ones included.
   */
  detach?(): Promise<void>;
  /** Releases the role's own resources once the HTTP server has stopped. */
  close?(): Promise<void>;
}

export type RoleFactory<R extends Role> = (ctx: RoleContext) => Promise<RoleParts<R>>;

/** The parts of some role, whichever it is. */
export type AnyRoleParts = { [R in Role]: RoleParts<R> }[Role];
/** The factory of some role, whichever it is. */
export type AnyRoleFactory = { [R in Role]: RoleFactory<R> }[Role];
