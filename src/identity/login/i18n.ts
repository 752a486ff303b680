import type { PageLanguage } from '../../http/language.js';

/** The login pages' texts in their two languages (chosen by src/http/language.ts). */

export interface Messages {
  htmlLang: string;
  title: string;
  heading: string;
  username: string;
  password: string;
  captcha: string;
  captchaAlt: string;
  submit: string;
  badCredentials: string;
  captchaRequired: string;
  captchaWrong: string;
  tooMany: (seconds: number) => string;
  forbidden: string;
  expired: string;
  errorTitle: string;
}

const MESSAGES: Record<PageLanguage, Messages> = {
  zh: {
    htmlLang: 'zh-CN',
    title: '登录 - 神码',
    heading: '登录神码',
    username: '用户名',
    password: '密码',
    captcha: '验证码',
    captchaAlt: '验证码图片',
    submit: '登录',
    badCredentials: '用户名或密码错误。',
    captchaRequired: '请输入验证码。',
    captchaWrong: '验证码错误，请重试。',
    tooMany: (s) => `尝试次数过多，请 ${s} 秒后再试。`,
    forbidden: '请求无效或已过期，请刷新页面后重试。',
    expired: '登录会话已过期，请回到 IDE 重新发起登录。',
    errorTitle: '出错了',
  },
  en: {
    htmlLang: 'en',
    title: 'Sign in - Shenma',
    heading: 'Sign in to Shenma',
    username: 'User name',
    password: 'Password',
    captcha: 'Captcha',
    captchaAlt: 'Captcha image',
    submit: 'Sign in',
    badCredentials: 'Invalid user name or password.',
    captchaRequired: 'Please enter the captcha.',
    captchaWrong: 'The captcha was wrong, please try again.',
    tooMany: (s) => `Too many attempts. Try again in ${s} s.`,
    forbidden: 'The request was invalid or has expired. Reload the page and try again.',
    expired: 'This login has expired. Go back to your IDE and start the login again.',
    errorTitle: 'Something went wrong',
  },
};

export function messagesFor(lang: PageLanguage): Messages {
  return MESSAGES[lang];
}
