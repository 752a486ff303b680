import { hash, randomBytes } from 'node:crypto';
import type { Kysely, Selectable } from 'kysely';
import type { CredentialEvents } from '../http/credential-events.js';
import type { ApiTokensTable, Tables, UsersTable } from '../storage/tables.js';
import { dummyHash, hashPassword, verifyPassword } from './password.js';
import { RefreshingCache } from './refreshing-cache.js';

/** Users and their personal API tokens, in the database. Only hashes of secrets are stored. */

export class IdentityError extends Error {
  override readonly name = 'IdentityError';
  constructor(
    message: string,
    readonly code: 'invalid' | 'exists' | 'not_found',
  ) {
    super(message);
  }
}

export interface User {
  id: string;
  name: string;
  email: string | null;
  disabled: boolean;
  createdAt: Date;
  hasPassword: boolean;
}

export interface ApiToken {
  id: string;
  userId: string;
  userName: string;
  name: string;
  createdAt: Date;
  expiresAt: Date | null;
  revokedAt: Date | null;
  lastUsedAt: Date | null;
}

const USER_NAME = /^[\p{L}\p{N}._@+-]{1,64}$/u;
export const MIN_PASSWORD_LENGTH = 8;
/** Personal tokens are recognisable (for secret scanners and for the `api-key` header). */
export const API_TOKEN_PREFIX = 'shm_';

function toUser(row: Selectable<UsersTable>): User {
  return {
    id: row.id,
    name: row.name,
    email: row.email,
    disabled: row.disabled,
    createdAt: row.created_at,
    hasPassword: row.password_hash !== null,
  };
}

export function validateUserName(name: string): void {
  if (!USER_NAME.test(name)) {
    throw new IdentityError(
      `user name "${name}" is not allowed: 1-64 letters, digits or . _ @ + -`,
      'invalid',
    );
  }
}

export function validatePassword(password: string): void {
  if (password.length < MIN_PASSWORD_LENGTH) {
    throw new IdentityError(`password must be at least ${MIN_PASSWORD_LENGTH} characters`, 'invalid');
  }
}

export function hashApiToken(secret: string): string {
  // One-shot: every authenticated request hashes its token, and a Hash object costs ~2 µs more.
  return hash('sha256', secret, 'base64url');
}

/**
 * Verified API tokens can be remembered briefly so a completion does not cost a database query
 * (the embedded database answers one query at a time). The cache is shared by every store on the
 * same database handle, and revoking a token or disabling a user through any of them clears it.
 * Only a process that hears of every change may use it: the database's sole writer (the
 * embedded shape: admin commands go through the running server), or every replica when changes
 * are broadcast through Redis (credential-events.ts). Otherwise the stores always ask the database.
 * A token in use is re-read in the background after half its time (see RefreshingCache), so no
 * request waits for the query once the answer is remembered.
 */
const VERIFIED_TTL_MS = 30_000;
type Verified = { user: User; token: ApiToken } | undefined;
const verifiedCaches = new WeakMap<Kysely<Tables>, RefreshingCache<string, Verified>>();

function verifiedCache(db: Kysely<Tables>): RefreshingCache<string, Verified> {
  let cache = verifiedCaches.get(db);
  if (!cache) {
    cache = new RefreshingCache({
      max: 10_000,
      ttlMs: VERIFIED_TTL_MS,
      refreshAfterMs: VERIFIED_TTL_MS / 2,
      load: (hash) => lookupToken(db, hash),
    });
    verifiedCaches.set(db, cache);
  }
  return cache;
}

export class UserStore {
  constructor(
    private readonly db: Kysely<Tables>,
    private readonly opts: { events?: CredentialEvents | undefined } = {},
  ) {}

  async add(name: string, password: string | undefined, email?: string): Promise<User> {
    validateUserName(name);
    if (password !== undefined) validatePassword(password);
    if (await this.findByName(name)) throw new IdentityError(`user "${name}" already exists`, 'exists');
    const row = await this.db
      .insertInto('users')
      .values({
        id: `usr_${randomBytes(9).toString('base64url')}`,
        name,
        password_hash: password === undefined ? null : await hashPassword(password),
        email: email ?? null,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    return toUser(row);
  }

  async list(): Promise<User[]> {
    return (await this.db.selectFrom('users').selectAll().orderBy('name').execute()).map(toUser);
  }

  async findByName(name: string): Promise<User | undefined> {
    const row = await this.db.selectFrom('users').selectAll().where('name', '=', name).executeTakeFirst();
    return row && toUser(row);
  }

  async findById(id: string): Promise<User | undefined> {
    const row = await this.db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
    return row && toUser(row);
  }

  private async require(name: string): Promise<User> {
    const user = await this.findByName(name);
    if (!user) throw new IdentityError(`no user named "${name}"`, 'not_found');
    return user;
  }

  async setDisabled(name: string, disabled: boolean): Promise<User> {
    const user = await this.require(name);
    await this.db
      .updateTable('users')
      .set({ disabled, updated_at: new Date() })
      .where('id', '=', user.id)
      .execute();
    verifiedCache(this.db).clear();
    await this.opts.events?.publish({ kind: 'user', userId: user.id });
    return { ...user, disabled };
  }

  async setPassword(name: string, password: string): Promise<void> {
    validatePassword(password);
    const user = await this.require(name);
    await this.db
      .updateTable('users')
      .set({ password_hash: await hashPassword(password), updated_at: new Date() })
      .where('id', '=', user.id)
      .execute();
  }

  /** The user when the password matches and the account is enabled; takes the same time otherwise. */
  async checkPassword(name: string, password: string): Promise<User | undefined> {
    const row = await this.db.selectFrom('users').selectAll().where('name', '=', name).executeTakeFirst();
    const ok = await verifyPassword(password, row?.password_hash ?? (await dummyHash()));
    if (!row?.password_hash || !ok || row.disabled) return undefined;
    return toUser(row);
  }
}

export class TokenStore {
  constructor(
    private readonly db: Kysely<Tables>,
    private readonly opts: { cacheVerified?: boolean; events?: CredentialEvents | undefined } = {},
  ) {}

  /** Drops every remembered verification (another process changed a token or a user). */
  forgetVerified(): void {
    verifiedCache(this.db).clear();
  }

  /** Creates a token and returns its secret; the secret is never retrievable again. */
  async create(
    userName: string,
    opts: { name?: string; expiresAt?: Date },
  ): Promise<{ secret: string; token: ApiToken }> {
    const user = await this.db
      .selectFrom('users')
      .selectAll()
      .where('name', '=', userName)
      .executeTakeFirst();
    if (!user) throw new IdentityError(`no user named "${userName}"`, 'not_found');
    if (opts.expiresAt && opts.expiresAt.getTime() <= Date.now()) {
      throw new IdentityError('the expiry must be in the future', 'invalid');
    }
    const secret = `${API_TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;
    const row = await this.db
      .insertInto('api_tokens')
      .values({
        id: `tok_${randomBytes(6).toString('hex')}`,
        user_id: user.id,
        name: opts.name ?? 'default',
        token_hash: hashApiToken(secret),
        expires_at: opts.expiresAt ?? null,
        revoked_at: null,
        last_used_at: null,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    return { secret, token: toToken(row, user.name) };
  }

  async list(userName?: string): Promise<ApiToken[]> {
    let q = this.db
      .selectFrom('api_tokens')
      .innerJoin('users', 'users.id', 'api_tokens.user_id')
      .selectAll('api_tokens')
      .select('users.name as user_name')
      .orderBy('api_tokens.created_at');
    if (userName !== undefined) q = q.where('users.name', '=', userName);
    return (await q.execute()).map((r) => toToken(r, r.user_name));
  }

  async revoke(id: string): Promise<boolean> {
    const r = await this.db
      .updateTable('api_tokens')
      .set({ revoked_at: new Date() })
      .where('id', '=', id)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    verifiedCache(this.db).clear();
    if (Number(r.numUpdatedRows) > 0) await this.opts.events?.publish({ kind: 'token', tokenId: id });
    return Number(r.numUpdatedRows) > 0;
  }

  /** The user a token secret belongs to, if the token is live and the user enabled. */
  async verify(secret: string): Promise<{ user: User; token: ApiToken } | undefined> {
    if (!secret.startsWith(API_TOKEN_PREFIX)) return undefined;
    const hash = hashApiToken(secret);
    if (!this.opts.cacheVerified) return lookupToken(this.db, hash);
    const found = await verifiedCache(this.db).get(hash);
    // A remembered answer may outlive the token's own expiry.
    const expires = found?.token.expiresAt;
    if (expires && expires.getTime() <= Date.now()) return undefined;
    return found;
  }
}

async function lookupToken(db: Kysely<Tables>, hash: string): Promise<Verified> {
  const row = await db
    .selectFrom('api_tokens')
    .innerJoin('users', 'users.id', 'api_tokens.user_id')
    .selectAll('api_tokens')
    .select([
      'users.name as user_name',
      'users.disabled as user_disabled',
      'users.email as user_email',
      'users.created_at as user_created_at',
      'users.password_hash as user_password_hash',
    ])
    .where('api_tokens.token_hash', '=', hash)
    .executeTakeFirst();
  if (!row || row.revoked_at || row.user_disabled) return undefined;
  if (row.expires_at && row.expires_at.getTime() <= Date.now()) return undefined;
  return {
    user: {
      id: row.user_id,
      name: row.user_name,
      email: row.user_email,
      disabled: false,
      createdAt: row.user_created_at,
      hasPassword: row.user_password_hash !== null,
    },
    token: toToken(row, row.user_name),
  };
}

function toToken(row: Selectable<ApiTokensTable>, userName: string): ApiToken {
  return {
    id: row.id,
    userId: row.user_id,
    userName,
    name: row.name,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    revokedAt: row.revoked_at,
    lastUsedAt: row.last_used_at,
  };
}
