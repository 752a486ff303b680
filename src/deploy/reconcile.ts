import type { ApisixObject } from './apisix-routes.js';
import { OWNER_LABEL } from './apisix-routes.js';
import type { ApisixKind, ApisixSchemaDump, ApisixValidator } from './apisix-schema.js';

/**
 * Gateway reconcile: list what the Admin API holds, compare with the desired objects, PUT what
 * is missing or differs, DELETE what Shenma owns and no longer wants; everything else (routes
 * someone added by hand) is left alone. Every body is validated before it is sent, and the first
 * refusal stops the run naming the object.
 */

export interface AdminResponse {
  status: number;
  body: unknown;
}

/** How the Admin API is reached: HTTP from inside the network, or through `docker compose exec`. */
export interface AdminTransport {
  request(method: 'GET' | 'PUT' | 'DELETE', path: string, body?: unknown): Promise<AdminResponse>;
  /** APISIX's schema dump (Control API /v1/schema) for the running version. */
  schema(): Promise<ApisixSchemaDump>;
}

export class ReconcileError extends Error {
  override readonly name = 'ReconcileError';
}

export interface PlanStep {
  action: 'create' | 'update' | 'delete';
  kind: ApisixKind;
  id: string;
  /** For updates: the top-level fields that differ. */
  fields?: string[];
}

export interface Plan {
  steps: PlanStep[];
  unchanged: number;
  /** Objects without the Shenma label, left alone. */
  foreign: number;
}

interface Stored {
  id: string;
  value: Record<string, unknown>;
}

const KINDS: ApisixKind[] = ['upstreams', 'routes', 'ssls'];
/** Written by APISIX itself; never part of a difference. */
const SERVER_FIELDS = new Set(['id', 'create_time', 'update_time']);

function isOwned(value: Record<string, unknown>): boolean {
  const labels = value.labels as Record<string, string> | undefined;
  return labels?.managed_by === OWNER_LABEL.managed_by;
}

/**
 * APISIX stores what it was sent plus defaults it fills (priority, status, hash_on, ...), so an
 * object is unchanged when every field we send has the stored value; fields only the stored copy
 * has are its defaults.
 */
function sameValue(want: unknown, have: unknown): boolean {
  if (Array.isArray(want)) {
    return Array.isArray(have) && want.length === have.length && want.every((w, i) => sameValue(w, have[i]));
  }
  if (want && typeof want === 'object') {
    if (!have || typeof have !== 'object' || Array.isArray(have)) return false;
    return Object.entries(want).every(([k, v]) => sameValue(v, (have as Record<string, unknown>)[k]));
  }
  return want === have;
}

function changedFields(want: Record<string, unknown>, have: Record<string, unknown>): string[] {
  return Object.keys(want).filter((k) => !SERVER_FIELDS.has(k) && !sameValue(want[k], have[k]));
}

function adminError(res: AdminResponse): string {
  const b = res.body as { error_msg?: string; message?: string } | undefined;
  return b?.error_msg ?? b?.message ?? (typeof res.body === 'string' ? res.body : JSON.stringify(res.body));
}

async function list(t: AdminTransport, kind: ApisixKind): Promise<Stored[]> {
  const res = await t.request('GET', `/apisix/admin/${kind}`);
  if (res.status === 404) return [];
  if (res.status !== 200)
    throw new ReconcileError(`listing ${kind} failed: HTTP ${res.status} ${adminError(res)}`);
  const body = res.body as {
    list?: { key?: string; value?: Record<string, unknown> }[] | Record<string, never>;
  };
  // APISIX 3 answers an empty collection with `list: {}` (an empty Lua table).
  const items = Array.isArray(body?.list) ? body.list : [];
  return items
    .filter((i) => i.value)
    .map((i) => ({ id: String(i.value!.id ?? i.key?.split('/').pop()), value: i.value! }));
}

export async function plan(t: AdminTransport, desired: ApisixObject[]): Promise<Plan> {
  const steps: PlanStep[] = [];
  let unchanged = 0;
  let foreign = 0;
  for (const kind of KINDS) {
    const stored = new Map((await list(t, kind)).map((s) => [s.id, s.value]));
    const wanted = desired.filter((d) => d.kind === kind);
    for (const d of wanted) {
      const have = stored.get(d.id);
      if (!have) steps.push({ action: 'create', kind, id: d.id });
      else if (!isOwned(have))
        throw new ReconcileError(
          `${kind}/${d.id} exists without the Shenma label (someone else's); refusing to overwrite it. Delete or rename it, then sync again`,
        );
      else {
        const fields = changedFields(d.body, have);
        if (fields.length > 0) steps.push({ action: 'update', kind, id: d.id, fields });
        else unchanged++;
      }
    }
    const wantedIds = new Set(wanted.map((d) => d.id));
    for (const [id, value] of stored) {
      if (!isOwned(value)) foreign++;
      else if (!wantedIds.has(id)) steps.push({ action: 'delete', kind, id });
    }
  }
  return { steps, unchanged, foreign };
}

/**
 * Applies a plan in an order APISIX accepts: upstreams before the routes that use them are
 * written, routes deleted before the upstreams they used.
 */
export async function apply(
  t: AdminTransport,
  desired: ApisixObject[],
  p: Plan,
  validator: ApisixValidator,
  onStep: (s: PlanStep) => void = () => {},
): Promise<void> {
  const byKey = new Map(desired.map((d) => [`${d.kind}/${d.id}`, d]));
  // Validate everything first: a bad body must not leave the gateway half-updated.
  for (const s of p.steps) {
    if (s.action === 'delete') continue;
    const d = byKey.get(`${s.kind}/${s.id}`)!;
    const problems = validator.validate(s.kind, d.body);
    if (problems.length > 0)
      throw new ReconcileError(
        `${s.kind}/${s.id} does not match APISIX's schema:\n  ${problems.join('\n  ')}`,
      );
  }
  const writes = (kind: ApisixKind) => p.steps.filter((s) => s.kind === kind && s.action !== 'delete');
  const deletes = (kind: ApisixKind) => p.steps.filter((s) => s.kind === kind && s.action === 'delete');
  const order = [
    ...writes('upstreams'),
    ...writes('ssls'),
    ...writes('routes'),
    ...deletes('routes'),
    ...deletes('ssls'),
    ...deletes('upstreams'),
  ];
  for (const s of order) {
    const path = `/apisix/admin/${s.kind}/${encodeURIComponent(s.id)}`;
    const res =
      s.action === 'delete'
        ? await t.request('DELETE', path)
        : await t.request('PUT', path, byKey.get(`${s.kind}/${s.id}`)!.body);
    if (res.status < 200 || res.status >= 300) {
      throw new ReconcileError(
        `${s.action} ${s.kind}/${s.id} refused by the APISIX Admin API: HTTP ${res.status} ${adminError(res)}`,
      );
    }
    onStep(s);
  }
}

export function describePlan(p: Plan): string[] {
  const lines = p.steps.map(
    (s) => `${s.action.padEnd(6)} ${s.kind}/${s.id}${s.fields ? ` (${s.fields.join(', ')})` : ''}`,
  );
  lines.push(
    `${p.steps.length} change(s), ${p.unchanged} unchanged, ${p.foreign} object(s) not managed by Shenma left alone`,
  );
  return lines;
}
