import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormatsImport from 'ajv-formats';

/**
 * Validates Admin API bodies against APISIX's own JSON schemas: the dump APISIX's Control API
 * serves at /v1/schema (`main.<kind>` for routes, upstreams, ssls; `plugins.<name>.schema` for
 * each plugin's config, which `main.route` leaves as a bare object).
 *
 * The dump carries no `$schema`; its keywords (numeric exclusiveMinimum, if/then/else) are
 * draft-07, ajv's default draft. APISIX fills defaults before it checks (lua-resty-jsonschema),
 * so we do too (`useDefaults`, on a copy), or limit-count's if/then reports false errors.
 */

// ajv-formats is CommonJS with a default export; under NodeNext the callable is `.default`.
type AddFormats = (ajv: Ajv) => Ajv;
const addFormats: AddFormats =
  (addFormatsImport as unknown as { default?: AddFormats }).default ??
  (addFormatsImport as unknown as AddFormats);

export interface ApisixSchemaDump {
  main: Record<string, object>;
  plugins: Record<string, { schema: object }>;
}

export type ApisixKind = 'routes' | 'upstreams' | 'ssls';
const MAIN_KEY: Record<ApisixKind, string> = { routes: 'route', upstreams: 'upstream', ssls: 'ssl' };

export class ApisixValidator {
  readonly #ajv: Ajv;
  readonly #dump: ApisixSchemaDump;
  readonly #compiled = new Map<string, ValidateFunction>();

  constructor(dump: ApisixSchemaDump) {
    if (!dump?.main || !dump.plugins) throw new Error('not an APISIX schema dump: missing main or plugins');
    this.#dump = dump;
    this.#ajv = new Ajv({ strict: false, allErrors: true, useDefaults: true, validateSchema: false });
    addFormats(this.#ajv);
  }

  #validator(key: string, schema: object | undefined): ValidateFunction {
    let v = this.#compiled.get(key);
    if (!v) {
      if (!schema) throw new Error(`the APISIX schema has no ${key}`);
      v = this.#ajv.compile(schema);
      this.#compiled.set(key, v);
    }
    return v;
  }

  /** Problems with one body, each naming the field; empty when valid. */
  validate(kind: ApisixKind, body: Record<string, unknown>): string[] {
    const main = this.#validator(`main.${MAIN_KEY[kind]}`, this.#dump.main[MAIN_KEY[kind]]);
    const problems = check(main, body) ? [] : describe(main.errors, '');
    const plugins = (body.plugins ?? {}) as Record<string, Record<string, unknown>>;
    for (const [name, conf] of Object.entries(plugins)) {
      const entry = this.#dump.plugins[name];
      if (!entry) {
        problems.push(`plugins.${name}: APISIX has no plugin of that name`);
        continue;
      }
      const plugin = this.#validator(`plugins.${name}`, entry.schema);
      if (!check(plugin, conf)) problems.push(...describe(plugin.errors, `plugins.${name}`));
    }
    return problems;
  }
}

/**
 * Two passes on a copy: the first fills defaults, the second judges the filled body. ajv may run
 * an `if` before `properties` has filled the default the `if` looks at.
 */
function check(validate: ValidateFunction, body: unknown): boolean {
  const copy = structuredClone(body);
  validate(copy);
  return validate(copy) as boolean;
}

/** One line per problem; the alternatives of anyOf/oneOf collapse into their summary line. */
function describe(errors: ErrorObject[] | null | undefined, prefix: string): string[] {
  return (errors ?? [])
    .filter((e) => e.keyword !== 'if' && !/\/(anyOf|oneOf|not)\/\d+\//.test(e.schemaPath))
    .map((e) => {
      const where = `${prefix}${e.instancePath.replaceAll('/', '.')}`.replace(/^\./, '') || '(body)';
      if (e.keyword === 'anyOf' || e.keyword === 'oneOf')
        return `${where}: ${e.message} (a required combination of fields is missing, e.g. uri or uris, and upstream_id)`;
      return `${where}: ${e.message ?? e.keyword}`;
    });
}
