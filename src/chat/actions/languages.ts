import type { ActionLocale } from './locale.js';

/**
 * What the prompts need to know about a VS Code language id: how to name it in a sentence, the
 * Markdown fence tag, and the usual unit-test framework and doc-comment style, so that `addTests`
 * and `addComment` ask for what a developer in that language expects.
 */

export type Localized = Record<ActionLocale, string>;

export interface LanguageProfile {
  /** Display name for sentences ("Python"); empty when the language is unknown or not given. */
  name: string;
  /** Tag after the opening fence (highlight.js / markdown-it names); empty for none. */
  fence: string;
  /** The usual unit-test framework; undefined: the prompt says "the usual one for this language". */
  testFramework?: Localized;
  /** The idiomatic doc-comment style; undefined when there is no single usual one. */
  docStyle?: Localized;
}

interface Known {
  name: string;
  fence?: string;
  testFramework?: Localized | string;
  docStyle?: Localized | string;
}

const JS_TESTS: Localized = {
  en: 'Jest (or Vitest when the project already uses it)',
  zh: 'Jest（项目已使用 Vitest 时用 Vitest）',
};
const REACT_TESTS: Localized = {
  en: 'Jest with React Testing Library',
  zh: 'Jest 和 React Testing Library',
};
const TRIPLE_SLASH: Localized = { en: '/// doc comments', zh: '/// 文档注释' };
const DOXYGEN: Localized = { en: 'Doxygen comments', zh: 'Doxygen 注释' };

const KNOWN = new Map<string, Known>(
  Object.entries({
    python: {
      name: 'Python',
      testFramework: 'pytest',
      docStyle: { en: 'docstrings', zh: 'docstring 文档字符串' },
    },
    javascript: { name: 'JavaScript', testFramework: JS_TESTS, docStyle: 'JSDoc' },
    javascriptreact: {
      name: 'JavaScript (React)',
      fence: 'jsx',
      testFramework: REACT_TESTS,
      docStyle: 'JSDoc',
    },
    typescript: { name: 'TypeScript', testFramework: JS_TESTS, docStyle: 'TSDoc' },
    typescriptreact: {
      name: 'TypeScript (React)',
      fence: 'tsx',
      testFramework: REACT_TESTS,
      docStyle: 'TSDoc',
    },
    vue: {
      name: 'Vue',
      testFramework: { en: 'Vitest with Vue Test Utils', zh: 'Vitest 和 Vue Test Utils' },
      docStyle: 'JSDoc',
    },
    go: {
      name: 'Go',
      testFramework: {
        en: 'the standard testing package (table-driven tests)',
        zh: '标准库 testing 包（表驱动测试）',
      },
      docStyle: { en: 'Go doc comments', zh: 'Go 文档注释' },
    },
    java: { name: 'Java', testFramework: 'JUnit 5', docStyle: 'Javadoc' },
    kotlin: { name: 'Kotlin', testFramework: 'JUnit 5', docStyle: 'KDoc' },
    scala: { name: 'Scala', testFramework: 'ScalaTest', docStyle: 'Scaladoc' },
    c: { name: 'C', testFramework: 'Unity', docStyle: DOXYGEN },
    cpp: { name: 'C++', testFramework: 'GoogleTest', docStyle: DOXYGEN },
    csharp: {
      name: 'C#',
      testFramework: 'xUnit',
      docStyle: { en: 'XML documentation comments', zh: 'XML 文档注释' },
    },
    rust: {
      name: 'Rust',
      testFramework: {
        en: 'the built-in #[test] harness in a #[cfg(test)] module',
        zh: '内置的 #[test]（放在 #[cfg(test)] 模块中）',
      },
      docStyle: TRIPLE_SLASH,
    },
    php: { name: 'PHP', testFramework: 'PHPUnit', docStyle: 'PHPDoc' },
    ruby: { name: 'Ruby', testFramework: 'RSpec', docStyle: { en: 'YARD comments', zh: 'YARD 注释' } },
    swift: { name: 'Swift', testFramework: 'XCTest', docStyle: TRIPLE_SLASH },
    'objective-c': { name: 'Objective-C', fence: 'objectivec', testFramework: 'XCTest' },
    dart: { name: 'Dart', testFramework: 'package:test', docStyle: TRIPLE_SLASH },
    lua: { name: 'Lua', testFramework: 'busted', docStyle: 'LuaDoc' },
    shellscript: { name: 'Shell', fence: 'bash', testFramework: 'bats' },
    powershell: { name: 'PowerShell', testFramework: 'Pester' },
    r: { name: 'R', testFramework: 'testthat', docStyle: 'roxygen2' },
    perl: { name: 'Perl', testFramework: 'Test::More', docStyle: 'POD' },
    sql: { name: 'SQL' },
    html: { name: 'HTML' },
    css: { name: 'CSS' },
  }),
);

const localized = (v: Localized | string | undefined): Localized | undefined =>
  typeof v === 'string' ? { en: v, zh: v } : v;

/** The profile of a VS Code language id (any case); an unknown id is named as given. */
export function languageProfile(languageId: string): LanguageProfile {
  const id = languageId.trim();
  const known = KNOWN.get(id.toLowerCase());
  if (!known) {
    // A fence tag must be one word; anything else is better left untagged than mis-tagged.
    return { name: id, fence: /^[\w+#.-]+$/.test(id) ? id.toLowerCase() : '' };
  }
  const testFramework = localized(known.testFramework);
  const docStyle = localized(known.docStyle);
  return {
    name: known.name,
    fence: known.fence ?? id.toLowerCase(),
    ...(testFramework && { testFramework }),
    ...(docStyle && { docStyle }),
  };
}
