/** The body the Zhuge Shenma extension 1.2.x sends to /v2/completions (docs/protocol.md §4.2). */
export function extensionBody(prefix: string, suffix: string, extra: Record<string, unknown> = {}) {
  const lines = prefix.split('\n');
  const linePrefix = lines[lines.length - 1] ?? '';
  const lineSuffix = suffix.split('\n')[0] ?? '';
  return {
    headers: {
      ide: 'vscode',
      'ide-version': '1.2.0',
      'ide-real-version': '1.98.2',
      'host-ip': '10.0.0.5',
      'api-key': 'eyJhbGciOi.x.y',
    },
    model: 'fastertransformer',
    temperature: 0.1,
    stop: [],
    completion_id: '7-3fa85f6457174562',
    prompt_options: { prefix, suffix, cursor_line_prefix: linePrefix, cursor_line_suffix: lineSuffix },
    language_id: 'python',
    beta_mode: false,
    calculate_hide_score: {
      is_whitespace_after_cursor: lineSuffix.trim() === '',
      prefix,
      document_length: prefix.length + suffix.length,
      prompt_end_pos: prefix.length,
      previous_label: 0,
      previous_label_timestamp: Date.now() - 3600,
    },
    file_project_path: '',
    project_path: '',
    code_path: '',
    user_id: '',
    git_path: '',
    repo: 'myproject',
    ...extra,
  };
}
