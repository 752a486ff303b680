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
  newImage: string;
  remoteLoginStarted: (machine: string, pluginVersion: string) => string;
  remoteLoginConfirm: (machine: string, pluginVersion: string, user: string) => string;
  confirmTitle: string;
  allow: string;
  refuse: string;
  signedInTitle: string;
  signedIn: string;
  refusedTitle: string;
  refused: string;
  remoteExpired: string;
  signOutTitle: string;
  signOutYes: string;
  signOutNo: string;
  signedOutTitle: string;
  signedOut: string;
  unavailable: string;
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
    newImage: '看不清？换一张验证码图片',
    remoteLoginStarted: (machine, version) =>
      `一个 IDE（机器 ${machine}，插件版本 ${version}）请求登录。登录后还需您确认。如果不是您刚刚在自己的 IDE 中点击了登录，请关闭此页面。`,
    remoteLoginConfirm: (machine, version, user) =>
      `一个 IDE（机器 ${machine}，插件版本 ${version}）请求以 ${user} 的身份登录。仅当您刚刚在自己的 IDE 中点击了登录时才继续。`,
    confirmTitle: '确认登录',
    allow: '继续登录',
    refuse: '拒绝',
    signedInTitle: '已登录',
    signedIn: '您可以关闭此页面并返回 IDE。',
    refusedTitle: '已拒绝',
    refused: '这次登录已被拒绝，发起它的 IDE 不会得到任何凭据。',
    remoteExpired: '此登录链接未知、已使用或已过期。请在 IDE 中重新登录。',
    signOutTitle: '退出登录神码？',
    signOutYes: '退出登录',
    signOutNo: '保持登录',
    signedOutTitle: '已退出登录',
    signedOut: '您已退出登录神码。',
    unavailable: '登录服务暂时不可用，请稍后再试。',
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
    expired: 'This sign-in has expired. Go back to your IDE and start signing in again.',
    errorTitle: 'Something went wrong',
    newImage: 'Hard to read? New captcha image',
    remoteLoginStarted: (machine, version) =>
      `An IDE (machine ${machine}, plugin version ${version}) asks to sign in. You will be asked to confirm after signing in. If you did not just press Login in your own IDE, close this page.`,
    remoteLoginConfirm: (machine, version, user) =>
      `An IDE (machine ${machine}, plugin version ${version}) asks to sign in as ${user}. Continue only if you just pressed Login in your IDE.`,
    confirmTitle: 'Confirm sign-in',
    allow: 'Continue',
    refuse: 'Refuse',
    signedInTitle: 'Signed in',
    signedIn: 'You can close this page and return to your IDE.',
    refusedTitle: 'Refused',
    refused: 'This sign-in was refused; the IDE that started it gets no credentials.',
    remoteExpired: 'This sign-in link is unknown, used or expired. Start signing in again from your IDE.',
    signOutTitle: 'Sign out of Shenma?',
    signOutYes: 'Sign out',
    signOutNo: 'Stay signed in',
    signedOutTitle: 'Signed out',
    signedOut: 'You have signed out of Shenma.',
    unavailable: 'Signing in is unavailable right now. Try again in a moment.',
  },
};

export function messagesFor(lang: PageLanguage): Messages {
  return MESSAGES[lang];
}
