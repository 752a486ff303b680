import { sql } from 'kysely';
import type { Migration } from './migration.js';

/**
 * Users, personal API tokens, and the embedded OpenID provider's store (grants, codes, sessions,
 * refresh tokens), so logins survive a restart and work across replicas.
 */
export const identity: Migration = {
  name: '0003_identity',
  async up(db) {
    await db.schema
      .createTable('users')
      .addColumn('id', 'text', (col) => col.primaryKey())
      .addColumn('name', 'text', (col) => col.notNull().unique())
      .addColumn('password_hash', 'text')
      .addColumn('email', 'text')
      .addColumn('disabled', 'boolean', (col) => col.notNull().defaultTo(false))
      .addColumn('created_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
      .addColumn('updated_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
      .execute();
    await db.schema
      .createTable('api_tokens')
      .addColumn('id', 'text', (col) => col.primaryKey())
      .addColumn('user_id', 'text', (col) => col.notNull().references('users.id').onDelete('cascade'))
      .addColumn('name', 'text', (col) => col.notNull())
      // sha256 of the secret; the secret itself is shown once and never stored.
      .addColumn('token_hash', 'text', (col) => col.notNull().unique())
      .addColumn('created_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
      .addColumn('expires_at', 'timestamptz')
      .addColumn('revoked_at', 'timestamptz')
      .addColumn('last_used_at', 'timestamptz')
      .execute();
    await db.schema.createIndex('api_tokens_user_idx').on('api_tokens').column('user_id').execute();
    await db.schema
      .createTable('oidc_store')
      .addColumn('kind', 'text', (col) => col.notNull())
      .addColumn('id', 'text', (col) => col.notNull())
      .addColumn('payload', 'jsonb', (col) => col.notNull())
      .addColumn('grant_id', 'text')
      .addColumn('user_code', 'text')
      .addColumn('uid', 'text')
      .addColumn('expires_at', 'timestamptz')
      .addColumn('consumed_at', 'timestamptz')
      .addPrimaryKeyConstraint('oidc_store_pk', ['kind', 'id'])
      .execute();
    await db.schema.createIndex('oidc_store_grant_idx').on('oidc_store').column('grant_id').execute();
    await db.schema.createIndex('oidc_store_uid_idx').on('oidc_store').column('uid').execute();
    await db.schema.createIndex('oidc_store_expires_idx').on('oidc_store').column('expires_at').execute();
  },
};
