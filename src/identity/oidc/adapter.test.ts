import { rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedEmbeddedDatabase } from '../../../test/support/embedded-template.js';
import { reachableTempDir } from '../../../test/support/temp-dir.js';
import { type Database, openDatabase } from '../../storage/database.js';
import { migrate } from '../../storage/migrate.js';
import { KyselyOidcAdapter } from './adapter.js';

describe('oidc-provider adapter on the oidc_store table', () => {
  let dir: string;
  let database: Database;

  beforeAll(async () => {
    dir = reachableTempDir('shenma-oidc-adapter-');
    await seedEmbeddedDatabase(dir);
    database = await openDatabase({ dataDir: dir });
    await migrate(database.db);
  });
  afterAll(async () => {
    await database?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('upserts, finds, consumes and destroys by kind and id', async () => {
    const codes = new KyselyOidcAdapter(database.db, 'AuthorizationCode');
    const tokens = new KyselyOidcAdapter(database.db, 'RefreshToken');
    await codes.upsert('c1', { grantId: 'g1', accountId: 'u1', kind: 'AuthorizationCode' }, 60);
    expect(await codes.find('c1')).toMatchObject({ grantId: 'g1', accountId: 'u1' });
    // Same id, other kind: a separate row.
    expect(await tokens.find('c1')).toBeUndefined();
    await codes.upsert('c1', { grantId: 'g1', accountId: 'u2' }, 60);
    expect((await codes.find('c1'))?.accountId).toBe('u2');
    await codes.consume('c1');
    expect((await codes.find('c1'))?.consumed).toEqual(expect.any(Number));
    await codes.destroy('c1');
    expect(await codes.find('c1')).toBeUndefined();
  });

  it('finds sessions by uid and device codes by user code', async () => {
    const sessions = new KyselyOidcAdapter(database.db, 'Session');
    await sessions.upsert('s1', { uid: 'uid-1', accountId: 'u1' }, 60);
    expect(await sessions.findByUid('uid-1')).toMatchObject({ accountId: 'u1' });
    const devices = new KyselyOidcAdapter(database.db, 'DeviceCode');
    await devices.upsert('d1', { userCode: 'ABCD-EFGH' }, 60);
    expect(await devices.findByUserCode('ABCD-EFGH')).toMatchObject({ userCode: 'ABCD-EFGH' });
  });

  it('treats expired rows as absent', async () => {
    const a = new KyselyOidcAdapter(database.db, 'Interaction');
    await a.upsert('gone', { uid: 'x' }, 1);
    await database.db
      .updateTable('oidc_store')
      .set({ expires_at: new Date(Date.now() - 1000) })
      .where('id', '=', 'gone')
      .execute();
    expect(await a.find('gone')).toBeUndefined();
  });

  it('revokes everything of one grant, for its own kind', async () => {
    const rt = new KyselyOidcAdapter(database.db, 'RefreshToken');
    const grants = new KyselyOidcAdapter(database.db, 'Grant');
    await rt.upsert('r1', { grantId: 'G' }, 60);
    await rt.upsert('r2', { grantId: 'G' }, 60);
    await rt.upsert('r3', { grantId: 'other' }, 60);
    await grants.upsert('G', { grantId: 'G' }, 60);
    await rt.revokeByGrantId('G');
    expect(await rt.find('r1')).toBeUndefined();
    expect(await rt.find('r2')).toBeUndefined();
    expect(await rt.find('r3')).toBeDefined();
    expect(await grants.find('G')).toBeDefined();
  });
});
