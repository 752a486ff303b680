import type { PageLanguage } from '../http/language.js';

/** Every user-visible string of the trampoline page, per language. */
export interface TrampolineMessages {
  successTitle: string;
  opening: string;
  browserPrompt: string;
  openButton: string;
  closeHint: string;
  hintAlt: string;
  failedTitle: string;
  missingParams: (names: string[]) => string;
  /** Parameters that came repeated or too long to be a real callback's. */
  unusableParams: (names: string[]) => string;
  providerError: string;
  retry: string;
}

export const MESSAGES: Record<PageLanguage, TrampolineMessages> = {
  zh: {
    successTitle: '已登录',
    opening: '正在返回 Visual Studio Code，完成登录。',
    browserPrompt: '如果浏览器询问是否打开，请点击“打开 Visual Studio Code”。',
    openButton: '打开 Visual Studio Code',
    closeHint: 'VS Code 打开后，您可以关闭此页面。',
    hintAlt: '浏览器提示框：点击“打开 Visual Studio Code”',
    failedTitle: '登录未完成',
    missingParams: (names) => `登录回调缺少参数：${names.join('、')}。`,
    unusableParams: (names) => `登录回调的参数重复或过长：${names.join('、')}。`,
    providerError: '登录服务返回了错误：',
    retry: '请回到 VS Code 重新登录。',
  },
  en: {
    successTitle: 'Signed in',
    opening: 'Returning to Visual Studio Code to finish signing in.',
    browserPrompt: 'If your browser asks, choose “Open Visual Studio Code”.',
    openButton: 'Open Visual Studio Code',
    closeHint: 'You may close this page once VS Code has opened.',
    hintAlt: 'Browser prompt: choose “Open Visual Studio Code”',
    failedTitle: 'Sign-in not completed',
    missingParams: (names) => `The sign-in callback is missing: ${names.join(', ')}.`,
    unusableParams: (names) => `The sign-in callback has repeated or overlong: ${names.join(', ')}.`,
    providerError: 'The sign-in service reported an error: ',
    retry: 'Go back to VS Code and sign in again.',
  },
};
