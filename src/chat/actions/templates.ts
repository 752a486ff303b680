import type { LanguageProfile } from './languages.js';
import type { ActionLocale } from './locale.js';

/**
 * The task each code action asks of the model, in both locales. The extension's own prompt (the
 * action's tooltip, e.g. "解释代码实现") is too terse to get a useful answer, so each action gets
 * an instruction saying what a good answer contains and in what form; `render.ts` puts the
 * tooltip, this instruction and the selected code together.
 */

/** The action keys the extension 1.2.x sends (docs/protocol.md §5.3). */
export const ACTIONS = [
  'explain',
  'addComment',
  'addTests',
  'codeReview',
  'addDebugCode',
  'addStrongerCode',
  'simplifyCode',
  'performanceOptimization',
  'chat',
] as const;
export type ActionKey = (typeof ACTIONS)[number];

/** The code actions: every action but free-form `chat`, which has no instruction of its own. */
export type CodeActionKey = Exclude<ActionKey, 'chat'>;

type Instruction = (lang: LanguageProfile) => string;

/** "the following Python code" / "下面这段 Python 代码", or without a name when the language is unknown. */
const code = {
  en: (l: LanguageProfile) => (l.name ? `the following ${l.name} code` : 'the following code'),
  zh: (l: LanguageProfile) => (l.name ? `下面这段 ${l.name} 代码` : '下面这段代码'),
};
const usual = {
  en: (l: LanguageProfile) => (l.name ? `of ${l.name}` : 'of the language'),
  zh: (l: LanguageProfile) => (l.name ? ` ${l.name} ` : '该语言'),
};
const EN_ONE_BLOCK = 'in one fenced code block';
const ZH_ONE_BLOCK = '请在一个代码块中';

export const INSTRUCTIONS: Record<CodeActionKey, Record<ActionLocale, Instruction>> = {
  explain: {
    en: (l) =>
      `Explain what ${code.en(l)} does and how it works: its purpose, its inputs and outputs, the main steps, ` +
      'and any details or pitfalls that are not obvious. Quote the relevant lines where that helps.',
    zh: (l) =>
      `请解释${code.zh(l)}：说明它的用途、输入与输出、主要执行步骤，以及不易察觉的细节或潜在问题。必要时引用相关代码行。`,
  },
  addComment: {
    en: (l) =>
      `Add comments to ${code.en(l)}: a documentation comment for each function, class or method` +
      (l.docStyle ? ` (${l.docStyle.en})` : ` in the usual style ${usual.en(l)}`) +
      ', and short inline comments on logic that is not obvious. Write the comments in English. ' +
      `Do not change the code itself. Return the complete code with the comments added, ${EN_ONE_BLOCK}.`,
    zh: (l) =>
      `请为${code.zh(l)}添加注释：为每个函数、类或方法编写文档注释` +
      (l.docStyle ? `（${l.docStyle.zh}）` : `（使用${usual.zh(l)}惯用的风格）`) +
      `，并为不直观的逻辑添加简短的行内注释。注释使用简体中文。不要修改代码本身。${ZH_ONE_BLOCK}返回添加注释后的完整代码。`,
  },
  addTests: {
    en: (l) =>
      `Write unit tests for ${code.en(l)} using ` +
      (l.testFramework ? l.testFramework.en : `the usual unit-test framework ${usual.en(l)}`) +
      '. Cover the normal cases, edge cases (empty, boundary and invalid inputs) and error paths, one behaviour ' +
      `per test with a name that says what it checks. Return a complete, runnable test file with the imports it needs ${EN_ONE_BLOCK}, ` +
      'then list briefly what each test checks.',
    zh: (l) =>
      `请为${code.zh(l)}编写单元测试，使用` +
      (l.testFramework ? ` ${l.testFramework.zh}` : `${usual.zh(l)}常用的单元测试框架`) +
      '。覆盖正常情况、边界情况（空值、边界值和非法输入）以及错误路径，每个测试只验证一种行为，' +
      `并用名称说明它检查什么。${ZH_ONE_BLOCK}返回可直接运行的完整测试文件（包含所需的导入），然后简要列出每个测试检查的内容。`,
  },
  codeReview: {
    en: (l) =>
      `Review ${code.en(l)} for quality problems: bugs, unhandled edge cases, error handling, security, ` +
      'performance, readability and maintainability. For each problem give its location, why it matters and a ' +
      'concrete fix with corrected code, most severe first. If there is no significant problem, say so rather than inventing one.',
    zh: (l) =>
      `请审查${code.zh(l)}的质量问题：缺陷、未处理的边界情况、错误处理、安全、性能、可读性和可维护性。` +
      '对每个问题说明其位置和影响，并给出具体的修复建议和修改后的代码，按严重程度从高到低排列。如果没有明显问题，请直接说明，不要凭空编造问题。',
  },
  addDebugCode: {
    en: (l) =>
      `Add logging and debug code to the key logic steps of ${code.en(l)} so that problems are easier to diagnose: ` +
      'log the inputs, important intermediate values, branch decisions and errors, at suitable log levels, using the ' +
      `logger the code already uses or else the standard logging facility ${usual.en(l)}. Do not change the behaviour ` +
      `of the code. Return the complete code ${EN_ONE_BLOCK}.`,
    zh: (l) =>
      `请在${code.zh(l)}的关键逻辑步骤中添加日志和调试代码，以便排查问题：记录输入参数、重要的中间值、分支判断和错误，并使用合适的日志级别。` +
      `优先使用代码中已有的日志工具，没有则使用${usual.zh(l)}的标准日志方式。不要改变代码的行为。${ZH_ONE_BLOCK}返回完整代码。`,
  },
  addStrongerCode: {
    en: (l) =>
      `Make ${code.en(l)} more robust: validate its parameters, handle exceptions and error results, and guard ` +
      'against null or missing values, out-of-range indexes and leaked resources, following the error-handling ' +
      `conventions ${usual.en(l)}. Keep the behaviour for valid inputs unchanged. Return the complete code ${EN_ONE_BLOCK}, ` +
      'then list the changes briefly.',
    zh: (l) =>
      `请提升${code.zh(l)}的健壮性：校验参数，处理异常和错误返回值，防范空值或缺失值、越界访问以及资源泄漏，并遵循${usual.zh(l)}的错误处理惯例。` +
      `对合法输入保持原有行为不变。${ZH_ONE_BLOCK}返回完整代码，然后简要列出所做的修改。`,
  },
  simplifyCode: {
    en: (l) =>
      `Simplify ${code.en(l)}: remove dead, redundant or ineffective code and needless complexity, keeping its ` +
      `behaviour exactly the same. Return the complete simplified code ${EN_ONE_BLOCK}, then list briefly what was ` +
      'removed or changed and why.',
    zh: (l) =>
      `请精简${code.zh(l)}：删除无效、冗余或不起作用的代码以及不必要的复杂度，同时保持其行为完全不变。` +
      `${ZH_ONE_BLOCK}返回精简后的完整代码，然后简要列出删除或修改了哪些内容及原因。`,
  },
  performanceOptimization: {
    en: (l) =>
      `Analyse the performance of ${code.en(l)}: look for inefficient algorithms or data structures, repeated or ` +
      'needless work, excessive allocation and slow I/O. For each issue explain its cost, give a concrete change ' +
      'with code and say what it gains. Keep the behaviour unchanged. If the code is already efficient, say so.',
    zh: (l) =>
      `请分析${code.zh(l)}的性能：找出低效的算法或数据结构、重复或不必要的计算、过多的内存分配以及缓慢的 I/O。` +
      '对每个问题说明其开销，给出具体的修改建议和代码，并说明预期收益。保持代码行为不变。如果代码已经足够高效，请直接说明。',
  },
};

/** The system prompt of every action: the answer's language and form. */
export const SYSTEM_PROMPTS: Record<ActionLocale, string> = {
  en:
    'You are a senior software engineer helping a developer in their IDE. Answer in English, in Markdown, ' +
    'with code in fenced code blocks tagged with their language. Keep identifiers, file names and code unchanged ' +
    'unless asked to change them.',
  zh:
    '你是一名资深软件工程师，正在开发者的 IDE 中协助其工作。请使用简体中文、以 Markdown 格式回答，' +
    '代码放在标注了语言的代码块中。除非被要求修改，否则保持标识符、文件名和代码不变。',
};
