import type { EphemeralStore } from '../storage/ephemeral.js';

/**
 * The polling logins in progress, in the shared short-lived store so that the IDE may poll any
 * replica while the browser talks to another. A login moves started → awaiting (the browser came
 * back with a code; Shenma holds the tokens) → confirmed (the person pressed Continue) or refused;
 * only a confirmed one is ever handed to the poller, once.
 */

export type Phase = 'started' | 'awaiting' | 'confirmed' | 'refused';

export interface PendingLogin {
  state: string;
  machineCode: string;
  pluginVersion: string;
  /** Shenma's own state for the provider (the IDE's state never reaches it). */
  nonce: string;
  verifier: string;
  /** Hash of the browser-binding cookie set by the start: the callback must come from that browser. */
  browser: string;
  phase: Phase;
  user?: string;
  tokens?: TokenSet;
}

export interface TokenSet {
  access_token: string;
  refresh_token?: string;
  expires_in?: number;
}

/** From start to the person's decision. */
export const LOGIN_TTL_MS = 5 * 60_000;
/** A confirmed login waits this long for the IDE's next poll. */
export const COLLECT_TTL_MS = 2 * 60_000;
/** A state is never accepted twice within this time. */
const USED_TTL_MS = 24 * 3600_000;

const K = {
  login: (state: string) => `plugin-login:state:${state}`,
  used: (state: string) => `plugin-login:used:${state}`,
  nonce: (nonce: string) => `plugin-login:nonce:${nonce}`,
  confirm: (id: string) => `plugin-login:confirm:${id}`,
};

export class PluginLoginStates {
  constructor(private readonly store: EphemeralStore) {}

  /** Records a new login; false when its state was used before. */
  async start(login: PendingLogin): Promise<boolean> {
    if (!(await this.store.put(K.used(login.state), '1', USED_TTL_MS, { onlyIfAbsent: true }))) return false;
    await this.store.put(K.nonce(login.nonce), login.state, LOGIN_TTL_MS);
    await this.save(login, LOGIN_TTL_MS);
    return true;
  }

  async get(state: string): Promise<PendingLogin | undefined> {
    const raw = await this.store.get(K.login(state));
    return raw ? (JSON.parse(raw) as PendingLogin) : undefined;
  }

  /** The login a provider callback (or the login form) belongs to; `consume` makes it single-use. */
  async byNonce(nonce: string, consume: boolean): Promise<PendingLogin | undefined> {
    const state = consume ? await this.store.take(K.nonce(nonce)) : await this.store.get(K.nonce(nonce));
    return state ? this.get(state) : undefined;
  }

  async save(login: PendingLogin, ttlMs: number): Promise<void> {
    await this.store.put(K.login(login.state), JSON.stringify(login), ttlMs);
  }

  async offerConfirmation(confirmId: string, state: string): Promise<void> {
    await this.store.put(K.confirm(confirmId), state, LOGIN_TTL_MS);
  }

  /** Single use: the first decision posted for a confirmation wins. */
  async takeConfirmation(confirmId: string): Promise<PendingLogin | undefined> {
    const state = await this.store.take(K.confirm(confirmId));
    return state ? this.get(state) : undefined;
  }

  /** Hands a confirmed login's tokens to exactly one poller. */
  async collect(state: string): Promise<PendingLogin | undefined> {
    const raw = await this.store.take(K.login(state));
    if (!raw) return undefined;
    const login = JSON.parse(raw) as PendingLogin;
    return login.phase === 'confirmed' ? login : undefined;
  }
}
