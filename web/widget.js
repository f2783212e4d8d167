// graphgate web widget: defines <graphgate-chat>, and mounts one after each script tag that asks for it:
//
//   <script type="module" src="https://gateway.example/widget.js" data-graph="writer"></script>
//
// A script tag with data-graph (or data-mount) gets a widget right after it (or inside data-target, a CSS
// selector); its data-* attributes (graph, api, token, session-id, theme, heading, mode, lang, remember)
// become the widget's attributes: data-mode="launcher" puts it in a bubble in the page's corner. A script
// tag without them only defines the element. docs/web.md is the embedding guide.

import { GraphgateChat } from './element.js';

export { GraphgateChat };
export { renderMarkdown } from './markdown.js';

if (!customElements.get('graphgate-chat')) customElements.define('graphgate-chat', GraphgateChat);

const ENTRY_URLS = new Set([import.meta.url, new URL('../widget.js', import.meta.url).href]);
const PASSED_ON = ['graph', 'api', 'token', 'sessionId', 'theme', 'heading', 'mode', 'lang', 'remember'];

function attributeName(key) {
  return key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

/** Mount a widget for every script tag of this file that carries data-graph or data-mount. */
export function mountFromScriptTags(root = document) {
  const mounted = [];
  for (const script of root.querySelectorAll('script[src]')) {
    const data = script.dataset;
    if (!ENTRY_URLS.has(script.src) || data.graphgateMounted || !('graph' in data || 'mount' in data)) continue;
    data.graphgateMounted = 'true';
    const chat = document.createElement('graphgate-chat');
    for (const key of PASSED_ON) if (data[key]) chat.setAttribute(attributeName(key), data[key]);
    const target = data.target ? document.querySelector(data.target) : null;
    if (data.mode === 'launcher') document.body.append(chat); // fixed in the corner, whatever the script's place
    else if (target) target.append(chat);
    else script.after(chat);
    mounted.push(chat);
  }
  return mounted;
}

mountFromScriptTags();
