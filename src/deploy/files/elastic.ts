/**
 * Usage analytics: the Elasticsearch index template for Shenma's usage events and the Kibana data
 * view over them. `shenma up` PUTs both (idempotent); their shapes follow the documented
 * `PUT _index_template/<name>` and Kibana `POST /api/data_views/data_view` bodies.
 */

export interface IndexTemplate {
  index_patterns: string[];
  priority: number;
  template: {
    settings: Record<string, unknown>;
    mappings: { dynamic: boolean | 'strict' | 'runtime'; properties: Record<string, { type: string }> };
  };
  _meta: Record<string, string>;
}

export function renderIndexTemplate(index: string): IndexTemplate {
  return {
    index_patterns: [`${index}*`],
    priority: 200,
    template: {
      settings: { number_of_shards: 1, number_of_replicas: 0 },
      mappings: {
        // Unknown fields are kept in _source but not indexed: events can grow without mapping storms.
        dynamic: false,
        properties: {
          // The fields of the chat usage event (src/chat/hooks.ts).
          '@timestamp': { type: 'date' },
          request_id: { type: 'keyword' },
          user: { type: 'keyword' },
          model: { type: 'keyword' },
          route: { type: 'keyword' },
          status: { type: 'keyword' },
          prompt_tokens: { type: 'long' },
          completion_tokens: { type: 'long' },
          estimated: { type: 'boolean' },
          first_token_ms: { type: 'long' },
          total_ms: { type: 'long' },
        },
      },
    },
    _meta: { managed_by: 'shenma' },
  };
}

export interface KibanaDataView {
  data_view: { id: string; title: string; name: string; timeFieldName: string };
  override: boolean;
}

export function renderDataView(index: string): KibanaDataView {
  return {
    data_view: { id: 'shenma-usage', title: `${index}*`, name: 'Shenma usage', timeFieldName: '@timestamp' },
    override: true,
  };
}
