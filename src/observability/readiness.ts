/**
 * One dependency `/readyz` asks about (models, database, an identity provider). Roles and the
 * model registry produce them; the ops role runs them all.
 */
export interface ReadinessCheck {
  name: string;
  check(): Promise<{ ok: boolean; detail?: unknown }>;
}
