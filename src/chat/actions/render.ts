import { languageProfile } from './languages.js';
import type { ActionLocale } from './locale.js';
import { ACTIONS, type ActionKey, INSTRUCTIONS, SYSTEM_PROMPTS } from './templates.js';

/**
 * Turns one request of the extension's chat (docs/protocol.md §5.3: an action key, the tooltip or
 * typed question, the selected code) into the messages sent upstream. The original ignored the
 * action and sent every request as "prompt + code" (chat-server §2.6); here each code action asks
 * for what its button promises, in the user's language.
 */

export interface ActionPromptRequest {
  /** The extension's action key; unknown keys are answered as free-form `chat`. */
  action: string;
  /** The action's tooltip or the user's typed question; included verbatim. */
  prompt: string;
  /** The selected code; empty when nothing is selected. */
  code: string;
  /** VS Code language id of the selection ("python", "typescriptreact"); empty when unknown. */
  language: string;
  filePath?: string;
  /** See detectLocale(): zh when the prompt contains Chinese characters. */
  locale: ActionLocale;
}

export interface ActionPrompt {
  system?: string;
  user: string;
}

/** Where a fallback to `chat` is reported. */
export interface ActionPromptLog {
  debug(obj: object, msg: string): void;
}

export function isKnownAction(action: string): action is ActionKey {
  return (ACTIONS as readonly string[]).includes(action);
}

/** A fence longer than any backtick run in the code, so a selection containing ``` stays one block. */
function fenced(code: string, tag: string): string {
  const longest = Math.max(0, ...Array.from(code.matchAll(/`+/g), (m) => m[0].length));
  const fence = '`'.repeat(Math.max(3, longest + 1));
  return `${fence}${tag}\n${code.replace(/\n$/, '')}\n${fence}`;
}

const LABELS: Record<ActionLocale, { file: string; selected: string; selectedIn: string; none: string }> = {
  en: {
    file: 'File: ',
    selected: 'The selected code:',
    selectedIn: 'The selected code, from ',
    none: '(No code was selected.)',
  },
  zh: {
    file: '文件：',
    selected: '选中的代码：',
    selectedIn: '选中的代码，来自 ',
    none: '（未选中任何代码。）',
  },
};

/** The selected code with where it comes from, or a note that there is none. */
function codeSection(req: ActionPromptRequest, intro: boolean): string | undefined {
  const labels = LABELS[req.locale];
  const file = req.filePath?.trim();
  const hasCode = req.code.trim() !== '';
  if (!hasCode) return intro ? undefined : labels.none;
  const block = fenced(req.code, languageProfile(req.language).fence);
  if (intro) {
    const colon = req.locale === 'zh' ? '：' : ':';
    return `${file ? `${labels.selectedIn}${file}${colon}` : labels.selected}\n\n${block}`;
  }
  return file ? `${labels.file}${file}\n\n${block}` : block;
}

export function renderActionPrompt(req: ActionPromptRequest, log?: ActionPromptLog): ActionPrompt {
  const system = SYSTEM_PROMPTS[req.locale];
  const prompt = req.prompt.trim();
  if (!isKnownAction(req.action)) {
    log?.debug({ action: req.action }, 'unknown chat action; answered as free-form chat');
  }
  const action = isKnownAction(req.action) ? req.action : 'chat';
  if (action === 'chat') {
    // A question about the selection, or about nothing in particular.
    const parts = [prompt, codeSection(req, true)].filter((p): p is string => !!p);
    return { system, user: parts.join('\n\n') };
  }
  const instruction = INSTRUCTIONS[action][req.locale](languageProfile(req.language));
  const parts = [prompt, instruction, codeSection(req, false)].filter((p): p is string => !!p);
  return { system, user: parts.join('\n\n') };
}
