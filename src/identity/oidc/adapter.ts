import { type Kysely, sql } from 'kysely';
import type { Adapter, AdapterPayload } from 'oidc-provider';
import { storableJson } from '../../storage/storable.js';
import type { Tables } from '../../storage/tables.js';

/**
 * oidc-provider's storage in the `oidc_store` table, one row per (model kind, id): sessions,
 * interactions, grants, codes and refresh tokens survive a restart and are shared by replicas.
 * Expired rows read as absent at once and are swept now and then, so the table does not grow.
 */

/** Rows past their expiry are deleted on roughly one write in this many. */
const SWEEP_EVERY = 200;

export class KyselyOidcAdapter implements Adapter {
  constructor(
    private readonly db: Kysely<Tables>,
    private readonly kind: string,
  ) {}

  async upsert(id: string, payload: AdapterPayload, expiresIn: number): Promise<void> {
    const expiresAt = expiresIn ? new Date(Date.now() + expiresIn * 1000) : null;
    const row = {
      payload: sql<string>`cast(${storableJson(payload)} as jsonb)`,
      grant_id: payload.grantId ?? null,
      user_code: payload.userCode ?? null,
      uid: payload.uid ?? null,
      expires_at: expiresAt,
    };
    await this.db
      .insertInto('oidc_store')
      .values({ kind: this.kind, id, consumed_at: null, ...row })
      .onConflict((oc) => oc.columns(['kind', 'id']).doUpdateSet(row))
      .execute();
    if (Math.random() * SWEEP_EVERY < 1) await this.sweep();
  }

  find(id: string): Promise<AdapterPayload | undefined> {
    return this.findWhere('id', id);
  }

  findByUid(uid: string): Promise<AdapterPayload | undefined> {
    return this.findWhere('uid', uid);
  }

  findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
    return this.findWhere('user_code', userCode);
  }

  async consume(id: string): Promise<void> {
    await this.db
      .updateTable('oidc_store')
      .set({ consumed_at: new Date() })
      .where('kind', '=', this.kind)
      .where('id', '=', id)
      .execute();
  }

  async destroy(id: string): Promise<void> {
    await this.db.deleteFrom('oidc_store').where('kind', '=', this.kind).where('id', '=', id).execute();
  }

  async revokeByGrantId(grantId: string): Promise<void> {
    await this.db
      .deleteFrom('oidc_store')
      .where('kind', '=', this.kind)
      .where('grant_id', '=', grantId)
      .execute();
  }

  private async findWhere(
    column: 'id' | 'uid' | 'user_code',
    value: string,
  ): Promise<AdapterPayload | undefined> {
    const row = await this.db
      .selectFrom('oidc_store')
      .select(['payload', 'expires_at', 'consumed_at'])
      .where('kind', '=', this.kind)
      .where(column, '=', value)
      .executeTakeFirst();
    if (!row) return undefined;
    if (row.expires_at && row.expires_at.getTime() <= Date.now()) return undefined;
    const payload = row.payload as AdapterPayload;
    // oidc-provider reads `consumed` (any truthy value) to refuse a code or token used twice.
    return row.consumed_at ? { ...payload, consumed: Math.floor(row.consumed_at.getTime() / 1000) } : payload;
  }

  private async sweep(): Promise<void> {
    await this.db.deleteFrom('oidc_store').where('expires_at', '<', new Date()).execute();
  }
}

/** The factory oidc-provider's `adapter` option takes: one adapter per model name. */
export function kyselyAdapterFactory(db: Kysely<Tables>): (name: string) => Adapter {
  return (name) => new KyselyOidcAdapter(db, name);
}
