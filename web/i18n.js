// The widget's words, in one catalog per language: English and Simplified Chinese. A widget picks its
// language once, when it joins the page (pickLanguage), and hands its ``t`` to every part it builds. Words
// the graph writes (questions, answers, option labels) are shown as the graph wrote them.
//
// A catalog entry is a string with {name} slots, or a function of the parameters (for plurals). A key the
// Chinese catalog lacks falls back to English (tests/web/test_i18n.py checks that none is missing).

const en = {
  // the frame
  chat: 'Chat',
  newConversation: 'New conversation',
  conversations: 'Conversations',
  conversationLog: 'Conversation',
  empty: 'Send a message to start a conversation.',
  switchTheme: 'Switch to {theme} theme',
  light: 'light',
  dark: 'dark',
  openChat: 'Open chat',
  closeChat: 'Close chat',
  unanswered: 'A question is waiting for your answer',
  // connection
  connIdle: 'Ready',
  connConnecting: 'Connecting…',
  connOpen: 'Live',
  connReconnecting: 'Reconnecting…',
  connClosed: 'Not connected',
  connError: 'Unavailable',
  // errors the widget shows
  somethingWrong: 'Something went wrong.',
  signInToChat: 'Sign in to chat: the server needs a valid token.',
  unreachable: 'The server could not be reached. Try again in a moment.',
  blockedByCors:
    'The chat server at {api} does not accept requests from this page ({origin}). Its operator must allow this origin (GRAPHGATE_CORS_ORIGINS).',
  cannotLoad: 'The chat could not load: the server at {api} did not answer. Check the address, or try again later.',
  conversationUnavailable: 'This conversation is not available.',
  // the composer
  message: 'Message',
  typeMessage: 'Type a message',
  options: 'Options',
  send: 'Send',
  answer: 'Answer',
  cancel: 'Cancel',
  hintSend: 'Enter sends · Shift+Enter adds a line',
  hintAnswer: 'Enter answers the question above',
  hintChoose: 'Choose an answer above to go on',
  hintWorking: 'Working… you can send the next message when this one is done',
  attachFiles: 'Attach files',
  attachedFiles: 'Attached files',
  removeFile: 'Remove {name}',
  uploading: 'uploading…',
  uploadFailed: 'upload failed',
  file: 'file',
  // leaving a conversation
  leaveRunning: 'The answer is still being written. It goes on without you, and you can come back to it from Conversations.',
  leaveWaiting: 'A question here is still waiting for your answer. You can come back to it from Conversations.',
  leave: 'Leave',
  stay: 'Stay',
  // the conversation list
  conversationsEmpty: 'No conversations yet.',
  conversationsFailed: 'The conversations could not be loaded.',
  untitled: 'Untitled conversation',
  current: 'current',
  stateRunning: 'running',
  stateWaiting: 'waiting for you',
  stateFailed: 'failed',
  stateCancelled: 'cancelled',
  close: 'Close',
  // a turn
  statusQueued: 'Queued',
  queuedAhead: 'Queued ({n} ahead)',
  statusWorking: 'Working…',
  statusWaiting: 'Waiting for your answer',
  waitingAnswers: 'Waiting for {n} answers',
  statusDone: 'Done',
  doneIn: 'Done in {s} s',
  statusFailed: 'Failed',
  failedBecause: 'Failed: {reason}',
  unknownError: 'unknown error',
  statusCancelled: 'Cancelled',
  cancelledBecause: 'Cancelled: {reason}',
  retrying: 'Retrying…',
  retryStep: 'Retry {n}',
  continuing: 'Continuing…',
  steps: 'Steps',
  stepsCount: (p) => `${p.n} step${p.n === 1 ? '' : 's'}`,
  showSteps: 'Show the steps',
  output: 'Output',
  runningTool: 'Running {tool}',
  aTool: 'a tool',
  answerComplete: 'The answer is complete.',
  retry: 'Retry',
  retryLabel: 'Send the same message again',
  edit: 'Edit',
  editLabel: 'Edit this message and send it again',
  copy: 'Copy',
  copied: 'Copied',
  copyFailed: 'Copy failed',
  copyAnswer: 'Copy the answer',
  sentAt: 'Sent at {time}',
  // questions
  needsAnswer: 'The assistant needs your answer.',
  questionOf: 'Question {i} of {n}',
  approvalOf: 'Approval {i} of {n}',
  question: 'Question: {text}',
  approvalNeeded: 'Approval needed: {text}',
  yourAnswer: 'Your answer',
  ownWords: 'Or answer in your own words',
  answered: 'Answered: {label}',
  notePlaceholder: 'A note (optional)',
  whatShouldChange: '{option}: what should change?',
  answerRefused: 'Not accepted: {reason}',
  answerNotSent: 'The answer could not be sent. Try again.',
  signInToAnswer: 'Sign in again to answer.',
  noDeadlineAnswer: 'No answer before the deadline.',
  waitingApproval: 'Waiting for approval by {who}',
  needsApproval: 'Needs approval by {who}',
  approvalProgress: ' ({given} of {required} approvals)',
  theApprovers: 'the approvers',
  // tool approvals
  approve: 'Approve',
  saveEdits: 'Save edits',
  reject: 'Reject',
  respondInstead: 'Respond instead',
  approveWithEdits: 'Approve with my edits',
  submitDecisions: 'Submit decisions',
  approved: 'Approved',
  rejected: 'Rejected',
  rejectedBecause: 'Rejected: {reason}',
  respondedInstead: "Answered in the tool's place: {message}",
  edited: 'Edited: {call}',
  editedNoChanges: 'Edited: {name} (no changes)',
  tallyApprove: 'approved',
  tallyEdit: 'edited',
  tallyReject: 'rejected',
  tallyRespond: "answered in the tool's place",
  tallyOther: 'answered',
  argumentsOf: 'Arguments of {name} (JSON)',
  decisionFor: 'Decision for {name}',
  reasonOrResponse: "Reason for a rejection, or the answer to give in the tool's place",
  reasonOptional: 'Reason (optional, sent with a rejection)',
  writeResponse: "Write the answer to give in the tool's place first.",
  invalidJson: 'The arguments are not valid JSON: {error}',
  notAnObject: 'The arguments must be a JSON object, such as {"to": "bob@example.com"}.',
  nOfM: ' ({i} of {n})',
  // tool calls
  toolCalls: 'Tool calls',
  toolDone: 'done',
  toolFailed: 'failed',
  toolStopped: '— stopped',
  toolsFolded: (p) => `${p.n} earlier tool call${p.n === 1 ? '' : 's'}`,
  // feedback
  helpfulQuestion: 'Was this answer helpful?',
  helpful: 'Helpful',
  notHelpful: 'Not helpful',
  whatWasWrong: 'What was wrong? (optional)',
  thanksComment: 'Thanks, your comment is recorded.',
  thanks: 'Thanks for the feedback.',
};

/** @type {Record<keyof typeof en, string | ((p: object) => string)>} */
const zh = {
  chat: '聊天',
  newConversation: '新对话',
  conversations: '对话列表',
  conversationLog: '对话',
  empty: '发送一条消息开始对话。',
  switchTheme: '切换到{theme}主题',
  light: '浅色',
  dark: '深色',
  openChat: '打开聊天',
  closeChat: '关闭聊天',
  unanswered: '有一个问题在等你回答',
  connIdle: '就绪',
  connConnecting: '正在连接…',
  connOpen: '实时',
  connReconnecting: '正在重新连接…',
  connClosed: '未连接',
  connError: '不可用',
  somethingWrong: '出错了。',
  signInToChat: '请先登录：服务器需要有效的令牌。',
  unreachable: '无法连接服务器，请稍后再试。',
  blockedByCors: '{api} 的聊天服务器不接受来自本页面（{origin}）的请求。需要其管理员允许这个来源（GRAPHGATE_CORS_ORIGINS）。',
  cannotLoad: '聊天无法加载：{api} 的服务器没有响应。请检查地址，或稍后再试。',
  conversationUnavailable: '这个对话不可用。',
  message: '消息',
  typeMessage: '输入消息',
  options: '选项',
  send: '发送',
  answer: '回答',
  cancel: '取消',
  hintSend: 'Enter 发送 · Shift+Enter 换行',
  hintAnswer: 'Enter 回答上面的问题',
  hintChoose: '请在上面选择一个回答以继续',
  hintWorking: '正在处理… 完成后才能发送下一条消息',
  attachFiles: '添加文件',
  attachedFiles: '已添加的文件',
  removeFile: '移除 {name}',
  uploading: '上传中…',
  uploadFailed: '上传失败',
  file: '文件',
  leaveRunning: '回答仍在生成。离开后它会继续运行，你可以从“对话列表”回到这里。',
  leaveWaiting: '这里还有一个问题在等你回答。你可以从“对话列表”回到这里。',
  leave: '离开',
  stay: '留下',
  conversationsEmpty: '还没有对话。',
  conversationsFailed: '无法加载对话列表。',
  untitled: '无标题对话',
  current: '当前',
  stateRunning: '运行中',
  stateWaiting: '等你回答',
  stateFailed: '失败',
  stateCancelled: '已取消',
  close: '关闭',
  statusQueued: '排队中',
  queuedAhead: '排队中（前面还有 {n} 个）',
  statusWorking: '处理中…',
  statusWaiting: '等待你的回答',
  waitingAnswers: '等待 {n} 个回答',
  statusDone: '完成',
  doneIn: '用时 {s} 秒完成',
  statusFailed: '失败',
  failedBecause: '失败：{reason}',
  unknownError: '未知错误',
  statusCancelled: '已取消',
  cancelledBecause: '已取消：{reason}',
  retrying: '正在重试…',
  retryStep: '第 {n} 次重试',
  continuing: '继续中…',
  steps: '步骤',
  stepsCount: (p) => `${p.n} 个步骤`,
  showSteps: '显示步骤',
  output: '输出',
  runningTool: '正在运行 {tool}',
  aTool: '工具',
  answerComplete: '回答已完成。',
  retry: '重试',
  retryLabel: '再次发送同一条消息',
  edit: '编辑',
  editLabel: '编辑这条消息并重新发送',
  copy: '复制',
  copied: '已复制',
  copyFailed: '复制失败',
  copyAnswer: '复制回答',
  sentAt: '发送于 {time}',
  needsAnswer: '助手需要你的回答。',
  questionOf: '问题 {i} / {n}',
  approvalOf: '审批 {i} / {n}',
  question: '问题：{text}',
  approvalNeeded: '需要审批：{text}',
  yourAnswer: '你的回答',
  ownWords: '或者用你自己的话回答',
  answered: '已回答：{label}',
  notePlaceholder: '备注（可选）',
  whatShouldChange: '{option}：需要改什么？',
  answerRefused: '未被接受：{reason}',
  answerNotSent: '回答没能发送，请重试。',
  signInToAnswer: '请重新登录后回答。',
  noDeadlineAnswer: '截止时间前没有人回答。',
  waitingApproval: '等待 {who} 审批',
  needsApproval: '需要 {who} 审批',
  approvalProgress: '（{given} / {required} 个批准）',
  theApprovers: '审批人',
  approve: '批准',
  saveEdits: '保存修改',
  reject: '拒绝',
  respondInstead: '改为直接回复',
  approveWithEdits: '按我的修改批准',
  submitDecisions: '提交决定',
  approved: '已批准',
  rejected: '已拒绝',
  rejectedBecause: '已拒绝：{reason}',
  respondedInstead: '已代替工具回答：{message}',
  edited: '已修改：{call}',
  editedNoChanges: '已修改：{name}（无改动）',
  tallyApprove: '已批准',
  tallyEdit: '已修改',
  tallyReject: '已拒绝',
  tallyRespond: '已代替工具回答',
  tallyOther: '已回答',
  argumentsOf: '{name} 的参数（JSON）',
  decisionFor: '对 {name} 的决定',
  reasonOrResponse: '拒绝的理由，或代替工具给出的回答',
  reasonOptional: '理由（可选，随拒绝一起发送）',
  writeResponse: '请先写下代替工具给出的回答。',
  invalidJson: '参数不是有效的 JSON：{error}',
  notAnObject: '参数必须是一个 JSON 对象，例如 {"to": "bob@example.com"}。',
  nOfM: '（{i} / {n}）',
  toolCalls: '工具调用',
  toolDone: '完成',
  toolFailed: '失败',
  toolStopped: '— 已停止',
  toolsFolded: (p) => `更早的 ${p.n} 次工具调用`,
  helpfulQuestion: '这个回答有帮助吗？',
  helpful: '有帮助',
  notHelpful: '没有帮助',
  whatWasWrong: '哪里不对？（可选）',
  thanksComment: '谢谢，你的意见已记录。',
  thanks: '谢谢你的反馈。',
};

export const CATALOGS = { en, zh };
export const LANGUAGES = Object.keys(CATALOGS);

/** The catalog language for a BCP 47 tag ("zh-CN", "zh-Hans" -> "zh"; "en-GB" -> "en"), or null. */
export function languageOf(tag) {
  if (!tag || typeof tag !== 'string') return null;
  const base = tag.trim().toLowerCase().split(/[-_]/)[0];
  return LANGUAGES.includes(base) ? base : null;
}

/**
 * The language of a widget: its ``data-lang`` or ``lang`` attribute, else the page's (the nearest ``lang``
 * around it), else the browser's languages in order, else English.
 */
export function pickLanguage(el, browser = typeof navigator !== 'undefined' ? navigator.languages || [navigator.language] : []) {
  const own = el && (el.getAttribute('data-lang') || el.getAttribute('lang'));
  const page = el && el.parentElement && el.parentElement.closest('[lang]');
  for (const tag of [own, page && page.getAttribute('lang'), ...browser]) {
    const lang = languageOf(tag);
    if (lang) return lang;
  }
  return 'en';
}

/** ``t(key, params)`` in ``lang``: the catalog's words with their {slots} filled. */
export function translator(lang = 'en') {
  const catalog = CATALOGS[lang] || en;
  const t = (key, params = {}) => {
    const entry = key in catalog ? catalog[key] : en[key];
    if (entry === undefined) return key;
    if (typeof entry === 'function') return entry(params);
    return entry.replace(/\{(\w+)\}/g, (slot, name) => (name in params ? String(params[name]) : slot));
  };
  t.lang = CATALOGS[lang] ? lang : 'en';
  return t;
}

/** A config's words (a form's labels): a string as it is, or ``{en: ..., zh: ...}`` in ``lang`` (else English,
 * else the first given). */
export function localized(value, lang) {
  if (value === null || value === undefined || typeof value !== 'object') return value;
  return value[lang] ?? value.en ?? Object.values(value)[0];
}

/** English: what the parts use when no translator is handed to them. */
export const english = translator('en');
