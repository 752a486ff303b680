import { readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { type ActionLocale, detectLocale } from './locale.js';
import { type ActionPrompt, type ActionPromptRequest, renderActionPrompt } from './render.js';
import { ACTIONS, type ActionKey } from './templates.js';

/**
 * Golden prompts: for each action and locale a fixed request (the extension's real tooltip, a
 * realistic selection) and the exact messages expected, stored in golden/<action>.<locale>.txt.
 * After an intended template change, regenerate with UPDATE_GOLDEN=1 and review the diff.
 */

const TOOLTIPS: Record<ActionKey, Record<ActionLocale, string>> = {
  explain: { zh: '解释代码实现', en: 'Explain code implementation' },
  addComment: { zh: '添加该函数注释', en: 'Add comments to this function' },
  addTests: { zh: '生成该函数单测', en: 'Generate unit tests for this function' },
  codeReview: {
    zh: '检查代码是否有质量问题并给出修复建议',
    en: 'Check for code quality issues and provide suggestions',
  },
  addDebugCode: {
    zh: '提升排障能力，对关键逻辑步骤添加日志及调试代码',
    en: 'Enhance troubleshooting capabilities by adding logs and debug code to key logic steps',
  },
  addStrongerCode: {
    zh: '提升健壮性，增加异常处理、参数校验等',
    en: 'Enhance robustness by adding exception handling and parameter validation',
  },
  simplifyCode: { zh: '删减无效代码', en: 'Remove ineffective code' },
  performanceOptimization: {
    zh: '提升代码性能，给出修改建议，关注效率问题',
    en: 'Improve code performance, provide modification suggestions, focus on efficiency issues',
  },
  chat: { zh: '为什么这段代码在大列表上很慢？', en: 'Why is this slow on large lists?' },
};

const SELECTIONS: Record<ActionKey, { language: string; filePath: string; code: string }> = {
  explain: {
    language: 'go',
    filePath: '/home/u/proj/main.go',
    code: 'func Sum(xs []int) int {\n\ttotal := 0\n\tfor _, x := range xs {\n\t\ttotal += x\n\t}\n\treturn total\n}',
  },
  addComment: {
    language: 'python',
    filePath: '/home/u/proj/app.py',
    code: 'def add(a, b):\n    return a + b',
  },
  addTests: {
    language: 'typescript',
    filePath: '/home/u/proj/src/slug.ts',
    code: "export function slug(s: string): string {\n  return s.trim().toLowerCase().replace(/\\s+/g, '-');\n}",
  },
  codeReview: {
    language: 'java',
    filePath: '/home/u/proj/src/Cache.java',
    code: 'public String get(String key) {\n    return map.get(key).toString();\n}',
  },
  addDebugCode: {
    language: 'javascript',
    filePath: '/home/u/proj/pay.js',
    code: 'async function pay(order) {\n  const r = await api.charge(order.total);\n  if (r.ok) order.paid = true;\n  return order;\n}',
  },
  addStrongerCode: {
    language: 'python',
    filePath: '/home/u/proj/io.py',
    code: 'def read_config(path):\n    return json.load(open(path))',
  },
  simplifyCode: {
    language: 'cpp',
    filePath: '/home/u/proj/max.cpp',
    code: 'int max(int a, int b) {\n    int r;\n    if (a > b) { r = a; } else if (a <= b) { r = b; }\n    return r;\n}',
  },
  performanceOptimization: {
    language: 'python',
    filePath: '/home/u/proj/dedupe.py',
    code: 'def dedupe(xs):\n    out = []\n    for x in xs:\n        if x not in out:\n            out.append(x)\n    return out',
  },
  chat: {
    language: 'python',
    filePath: '/home/u/proj/dedupe.py',
    code: 'def dedupe(xs):\n    out = []\n    for x in xs:\n        if x not in out:\n            out.append(x)\n    return out',
  },
};

function goldenRequest(action: ActionKey, locale: ActionLocale): ActionPromptRequest {
  const prompt = TOOLTIPS[action][locale];
  return { action, prompt, ...SELECTIONS[action], locale: detectLocale(prompt) };
}

/** The golden file format: both messages, each under a marker line. */
function serialize(p: ActionPrompt): string {
  return `--- system ---\n${p.system ?? ''}\n--- user ---\n${p.user}\n`;
}

const goldenUrl = (action: string, locale: string) =>
  new URL(`golden/${action}.${locale}.txt`, import.meta.url);

describe('golden prompts', () => {
  for (const action of ACTIONS) {
    for (const locale of ['zh', 'en'] as const) {
      it(`${action} (${locale})`, () => {
        const req = goldenRequest(action, locale);
        expect(req.locale).toBe(locale);
        const actual = serialize(renderActionPrompt(req));
        if (process.env.UPDATE_GOLDEN) writeFileSync(goldenUrl(action, locale), actual);
        expect(actual).toBe(readFileSync(goldenUrl(action, locale), 'utf8'));
      });
    }
  }
});

describe('renderActionPrompt', () => {
  it('includes the prompt and the selected code, fenced with the language tag, for every action', () => {
    for (const action of ACTIONS) {
      for (const locale of ['zh', 'en'] as const) {
        const req = goldenRequest(action, locale);
        const { user, system } = renderActionPrompt(req);
        expect(user.startsWith(req.prompt)).toBe(true);
        expect(user).toContain(`\`\`\`${req.language}\n${req.code}\n\`\`\``);
        expect(user).toContain(req.filePath);
        expect(system).toContain(locale === 'zh' ? '简体中文' : 'English');
      }
    }
  });

  it('asks addComment for comments in the user language and for the full code back', () => {
    const zh = renderActionPrompt(goldenRequest('addComment', 'zh')).user;
    expect(zh).toContain('注释使用简体中文');
    expect(zh).toContain('返回添加注释后的完整代码');
    expect(zh).toContain('docstring');
    const en = renderActionPrompt(goldenRequest('addComment', 'en')).user;
    expect(en).toContain('Write the comments in English');
    expect(en).toContain('Return the complete code with the comments added');
  });

  it("asks addTests for the language's usual framework", () => {
    const req = (language: string) => ({ ...goldenRequest('addTests', 'en'), language });
    expect(renderActionPrompt(req('python')).user).toContain('using pytest.');
    expect(renderActionPrompt(req('java')).user).toContain('using JUnit 5.');
    expect(renderActionPrompt(req('go')).user).toContain('the standard testing package');
    expect(renderActionPrompt({ ...req('go'), locale: 'zh' }).user).toContain('标准库 testing 包');
    expect(renderActionPrompt(req('cobol')).user).toContain(
      'Write unit tests for the following cobol code using the usual unit-test framework of cobol.',
    );
  });

  it('names no language when none is given, and leaves the fence untagged', () => {
    const { user } = renderActionPrompt({ ...goldenRequest('explain', 'en'), language: '', filePath: '' });
    expect(user).toContain('Explain what the following code does');
    expect(user).toContain('```\nfunc Sum');
    expect(user).not.toContain('File:');
  });

  it('maps VS Code language ids to fence tags', () => {
    const tag = (language: string) =>
      renderActionPrompt({ ...goldenRequest('explain', 'en'), language }).user.match(/```(\S*)\n/)?.[1];
    expect(tag('typescriptreact')).toBe('tsx');
    expect(tag('shellscript')).toBe('bash');
    expect(tag('Python')).toBe('python');
    expect(tag('my lang')).toBe('');
    expect(tag('constructor')).toBe('constructor');
  });

  it('uses a longer fence when the selection itself contains one', () => {
    const code = 'doc = """\n```js\nx\n```\n"""';
    const { user } = renderActionPrompt({ ...goldenRequest('explain', 'en'), language: 'python', code });
    expect(user).toContain(`\`\`\`\`python\n${code}\n\`\`\`\``);
  });

  it('says when an action has no selected code; a chat without code is the question alone', () => {
    const action = renderActionPrompt({ ...goldenRequest('simplifyCode', 'zh'), code: '  ' }).user;
    expect(action.endsWith('（未选中任何代码。）')).toBe(true);
    const chat = renderActionPrompt({
      action: 'chat',
      prompt: '  What is a monad?\n',
      code: '',
      language: '',
      locale: 'en',
    });
    expect(chat.user).toBe('What is a monad?');
  });

  it('answers an unknown action as chat and says so at debug', () => {
    const logged: unknown[] = [];
    const log = { debug: (obj: object, msg: string) => logged.push({ obj, msg }) };
    const req = { ...goldenRequest('chat', 'en'), action: 'shenmaInstructSet' };
    expect(renderActionPrompt(req, log)).toEqual(renderActionPrompt({ ...req, action: 'chat' }));
    expect(logged).toEqual([
      { obj: { action: 'shenmaInstructSet' }, msg: 'unknown chat action; answered as free-form chat' },
    ]);
  });
});

describe('detectLocale', () => {
  it('is zh when the prompt contains a Chinese character, else en', () => {
    expect(detectLocale('解释代码实现')).toBe('zh');
    expect(detectLocale('fix the bug 在这里')).toBe('zh');
    expect(detectLocale('Explain code implementation')).toBe('en');
    expect(detectLocale('')).toBe('en');
    expect(detectLocale('¿Qué hace esto? Ça va')).toBe('en');
  });
});
