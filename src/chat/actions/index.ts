export { type ActionLocale, detectLocale } from './locale.js';
export {
  type ActionPrompt,
  type ActionPromptLog,
  type ActionPromptRequest,
  isKnownAction,
  renderActionPrompt,
} from './render.js';
export { ACTIONS, type ActionKey } from './templates.js';
