import type { ActionKey, ActionLocale } from '../actions/index.js';
import type { Advise } from './wire.js';

/**
 * Follow-up suggestions shown under an answer (`agent_advise`, config `chat.advise`). The
 * original asked the model for them in a second call after every answer, doubling the cost
 * (chat-server §2.12 #9); fixed suggestions per action serve the same purpose for free: each
 * offers the natural next step after that action.
 */

const ADVISES: Record<ActionKey, Record<ActionLocale, Advise[]>> = {
  explain: {
    zh: [
      { title: '举例说明', prompt: '请举一个调用这段代码的例子，并说明输出结果' },
      { title: '找出潜在问题', prompt: '这段代码有哪些潜在问题或边界情况？' },
    ],
    en: [
      { title: 'Show an example', prompt: 'Show an example call of this code and its result' },
      { title: 'Find pitfalls', prompt: 'What pitfalls or edge cases does this code have?' },
    ],
  },
  addComment: {
    zh: [
      { title: '解释代码', prompt: '请解释这段代码的实现' },
      { title: '生成单元测试', prompt: '请为这段代码生成单元测试' },
    ],
    en: [
      { title: 'Explain the code', prompt: 'Explain how this code works' },
      { title: 'Generate unit tests', prompt: 'Generate unit tests for this code' },
    ],
  },
  addTests: {
    zh: [
      { title: '补充边界用例', prompt: '请再补充一些边界情况和异常情况的测试用例' },
      { title: '如何运行测试', prompt: '如何安装依赖并运行这些测试？' },
    ],
    en: [
      { title: 'More edge cases', prompt: 'Add more tests for edge cases and error cases' },
      { title: 'How to run them', prompt: 'How do I install what is needed and run these tests?' },
    ],
  },
  codeReview: {
    zh: [
      { title: '给出修改后的代码', prompt: '请按审查意见给出修改后的完整代码' },
      { title: '生成单元测试', prompt: '请为修改后的代码生成单元测试' },
    ],
    en: [
      { title: 'Show the fixed code', prompt: 'Show the complete code with the review findings fixed' },
      { title: 'Generate unit tests', prompt: 'Generate unit tests for the fixed code' },
    ],
  },
  addDebugCode: {
    zh: [
      { title: '如何查看日志', prompt: '运行时如何开启并查看这些日志？' },
      { title: '增加容错', prompt: '请再为这段代码增加异常处理和参数校验' },
    ],
    en: [
      { title: 'Where to see the logs', prompt: 'How do I enable and read these logs at runtime?' },
      { title: 'Enhance robustness', prompt: 'Also add exception handling and parameter validation' },
    ],
  },
  addStrongerCode: {
    zh: [
      { title: '生成单元测试', prompt: '请为这些异常处理生成单元测试' },
      { title: '增加日志', prompt: '请再为关键步骤添加日志' },
    ],
    en: [
      { title: 'Test the error paths', prompt: 'Generate unit tests for the new error handling' },
      { title: 'Add logging', prompt: 'Also add logging to the key steps' },
    ],
  },
  simplifyCode: {
    zh: [
      { title: '确认行为不变', prompt: '请说明精简后的代码为什么与原来行为一致' },
      { title: '性能优化', prompt: '这段代码还有哪些性能优化空间？' },
    ],
    en: [
      { title: 'Same behaviour?', prompt: 'Explain why the simplified code behaves the same as before' },
      { title: 'Optimize performance', prompt: 'How could this code be made faster?' },
    ],
  },
  performanceOptimization: {
    zh: [
      { title: '给出优化后的代码', prompt: '请给出优化后的完整代码' },
      { title: '如何验证性能', prompt: '如何编写基准测试来验证优化效果？' },
    ],
    en: [
      { title: 'Show the optimized code', prompt: 'Show the complete optimized code' },
      { title: 'Measure it', prompt: 'How do I write a benchmark to measure the improvement?' },
    ],
  },
  chat: {
    zh: [
      { title: '详细说明', prompt: '请更详细地说明' },
      { title: '推荐最佳方案', prompt: '推荐一个最佳方案' },
    ],
    en: [
      { title: 'Tell me more', prompt: 'Please explain in more detail' },
      { title: 'Recommend the best option', prompt: 'Recommend the best option' },
    ],
  },
};

export function advisesFor(action: ActionKey, locale: ActionLocale): Advise[] {
  return ADVISES[action][locale];
}
