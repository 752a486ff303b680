import { z } from 'zod';
import type { CompletionInput } from '../types.js';
import { extensionInput, extensionV2Fields, requirePrompt } from './extension-v2.js';
import { compiledBody } from './shared.js';

/**
 * POST /code-completion/api/v1/completions, the later client (docs/protocol.md §7.2): the same
 * body as /v2 plus client_id, parent_id, trigger_mode, import_content and project paths.
 */
export const codeCompletionSchema = z
  .looseObject({
    ...extensionV2Fields,
    client_id: z.string().max(200).optional(),
    parent_id: z.string().max(200).optional(),
    import_content: z.string().optional(),
    file_project_path: z.string().max(4096).optional(),
    project_path: z.string().max(4096).optional(),
  })
  .superRefine(requirePrompt);
export const codeCompletionBody = compiledBody(codeCompletionSchema);
export type CodeCompletionBody = z.infer<typeof codeCompletionBody>;

export function codeCompletionInput(b: CodeCompletionBody): CompletionInput {
  const input = extensionInput(b);
  if (b.import_content?.trim()) {
    input.snippets.push({
      content: b.import_content,
      distance: 1,
      ...(b.file_project_path ? { path: b.file_project_path } : {}),
    });
  }
  return input;
}

export function codeCompletionSupersedeKey(b: CodeCompletionBody, who: string): string | undefined {
  return b.client_id ? `cc:${who}:${b.client_id}` : undefined;
}
