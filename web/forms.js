// What the message box sends for each graph, and the small form of options a graph declares.
//
// A form config:
//   {
//     messageField: 'topic',            // the input field the message box fills ('messages' = chat messages)
//     messageLabel: 'Topic',            // the message box's label (any label: a string, or {en, zh, ...})
//     placeholder: '...',
//     mode: 'interactive' | 'auto',     // handed to the graph as configurable "mode"
//     fields: [                         // the options form; `in` says where a value goes: 'config' or 'input'
//       { name, label, type: 'text'|'number'|'select'|'checkbox', in: 'config', value, options, min, max, step },
//     ],
//     steps: { node: 'Label' },         // how the timeline names the graph's nodes
//   }
// Graphs without an entry get one derived from their input JSON schema (GET /api/v1/graphs).

export const FORMS = {
  writer: {
    messageField: 'topic',
    messageLabel: { en: 'Topic', zh: '主题' },
    placeholder: { en: 'What should the article be about?', zh: '文章要写什么？' },
    mode: 'interactive',
    fields: [
      { name: 'target_audience', label: { en: 'Audience', zh: '读者' }, type: 'text', in: 'config', value: 'general readers' },
      { name: 'depth_level', label: { en: 'Depth', zh: '深度' }, type: 'select', in: 'config', value: 'standard', options: ['overview', 'standard', 'deep'] },
      { name: 'target_length', label: { en: 'Length (words)', zh: '长度（词）' }, type: 'number', in: 'config', value: 800, min: 100, max: 20000, step: 100 },
    ],
    steps: {
      plan: { en: 'Outline', zh: '大纲' },
      review: { en: 'Review', zh: '审阅' },
      write: { en: 'Write', zh: '写作' },
      finalize: { en: 'Assemble', zh: '成稿' },
    },
  },
};

const MESSAGE_FIELDS = ['messages', 'text', 'message', 'question', 'query', 'input', 'prompt', 'topic'];

/** The form config for ``graph``: a registered one, else one derived from ``schema`` (may be null). */
export function formFor(graph, schema, registered = FORMS) {
  if (registered[graph]) return { mode: 'interactive', fields: [], steps: {}, ...registered[graph] };
  const props = (schema && schema.properties) || {};
  const required = (schema && schema.required) || [];
  let messageField = MESSAGE_FIELDS.find((name) => name in props);
  if (!messageField) messageField = required.find((name) => (props[name] || {}).type === 'string') || 'text';
  const fields = required
    .filter((name) => name !== messageField && ['string', 'number', 'integer'].includes((props[name] || {}).type))
    .map((name) => ({
      name,
      label: props[name].title || name,
      type: props[name].type === 'string' ? 'text' : 'number',
      in: 'input',
      required: true,
    }));
  const plain = ['messages', 'text', 'message'].includes(messageField);
  // no label or placeholder of its own: the composer says "Message" in the widget's language
  const label = plain ? null : (props[messageField] || {}).title || null;
  return { messageField, messageLabel: label, placeholder: null, mode: 'interactive', fields, steps: {} };
}

/** The create-task body for ``text`` and the options form's ``values``. */
export function taskBody(form, graph, text, values) {
  const input = {};
  const config = {};
  if (form.messageField === 'messages') input.messages = [{ role: 'user', content: text }];
  else input[form.messageField] = text;
  for (const field of form.fields) {
    const value = values[field.name];
    if (value === undefined || value === '' || (typeof value === 'number' && Number.isNaN(value))) continue;
    (field.in === 'input' ? input : config)[field.name] = value;
  }
  const body = { input, config, mode: form.mode || 'interactive' };
  if (graph) body.graph = graph;
  return body;
}

/** What a task's input looks like as the user's message in the conversation. */
export function messageOf(input) {
  if (!input || typeof input !== 'object') return String(input ?? '');
  if (Array.isArray(input.messages) && input.messages.length) {
    const last = input.messages[input.messages.length - 1];
    if (last && typeof last === 'object') {
      if (typeof last.content === 'string') return last.content;
      if (Array.isArray(last.content)) {
        // text parts; the files beside them are drawn by web/attachments.js
        return last.content.filter((p) => p && p.type === 'text').map((p) => p.text).join('\n');
      }
      return JSON.stringify(last.content);
    }
    return String(last);
  }
  for (const name of MESSAGE_FIELDS) if (typeof input[name] === 'string') return input[name];
  const keys = Object.keys(input);
  if (keys.length === 1 && typeof input[keys[0]] === 'string') return input[keys[0]]; // {"request": "ship v2"}
  return keys.length ? JSON.stringify(input) : '';
}
