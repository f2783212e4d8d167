// The demo page at /: a development sign-in that hands the widget a token, a graph picker, and the
// conversation's session id kept in the address (#session=...) so another tab can join it and Back returns
// to the conversation before. ``?lang=zh`` shows the page and the widget in Simplified Chinese.

import './widget.js';
import { ApiError, GatewayClient } from './client.js';
import { languageOf } from './i18n.js';

const SUB_KEY = 'graphgate-demo-sub';
const SESSION_PATTERN = /^[A-Za-z0-9_.:-]{1,128}$/;

const chat = document.getElementById('chat');
const loginForm = document.getElementById('login');
const loginLabel = document.getElementById('login-label');
const loginValue = document.getElementById('login-value');
const loginMode = document.getElementById('login-mode');
const loginError = document.getElementById('login-error');
const signedIn = document.getElementById('signed-in');
const who = document.getElementById('who');
const graphSelect = document.getElementById('graph');
const logout = document.getElementById('logout');

const api = new GatewayClient(location.origin, async () => chat.token);
let mode = 'name'; // 'name': dev login mints a token; 'token': paste one (graphgate token --sub you)

// the page's own words (the widget has its catalog in web/i18n.js)
const PAGE_WORDS = {
  en: {},
  zh: {
    'Your name': '你的名字',
    'Bearer token': '令牌',
    'Use a token': '使用令牌',
    'Use dev login': '使用开发登录',
    'Sign in': '登录',
    'Sign out': '退出',
    'Signed in as': '已登录：',
    Graph: '图',
    'web chat demo': '网页聊天演示',
  },
};
const lang = languageOf(new URLSearchParams(location.search).get('lang')) || 'en';
const say = (text) => PAGE_WORDS[lang][text] || text;

function translatePage() {
  if (lang === 'en') return;
  document.documentElement.lang = lang;
  chat.setAttribute('lang', lang);
  document.querySelector('.brand .sub').textContent = say('web chat demo');
  signedIn.querySelector('span').firstChild.textContent = `${say('Signed in as')} `;
  document.querySelector('label[for="graph"]').textContent = say('Graph');
  document.getElementById('login-button').textContent = say('Sign in');
  logout.textContent = say('Sign out');
}

function setMode(next) {
  mode = next;
  loginLabel.textContent = say(mode === 'name' ? 'Your name' : 'Bearer token');
  loginValue.placeholder = mode === 'name' ? 'alice' : 'graphgate token --sub you';
  loginValue.autocomplete = mode === 'name' ? 'username' : 'off';
  loginValue.type = mode === 'name' ? 'text' : 'password';
  loginMode.textContent = say(mode === 'name' ? 'Use a token' : 'Use dev login');
  loginValue.value = '';
}

function showLoginError(text) {
  loginError.textContent = text;
  loginError.hidden = !text;
}

function sessionFromHash() {
  const match = /^#session=(.+)$/.exec(location.hash);
  const id = match ? decodeURIComponent(match[1]) : '';
  return SESSION_PATTERN.test(id) ? id : null;
}

async function devToken(sub) {
  const minted = await api.devToken(sub);
  return minted.token;
}

async function signIn(token, name, refresh) {
  chat.token = token;
  chat.getToken = refresh || null;
  who.textContent = name;
  loginForm.hidden = true;
  signedIn.hidden = false;
  showLoginError('');
  chat.focus(); // the sign-in button is gone: the message box is where the reader goes next
  await loadGraphs();
}

async function loadGraphs() {
  try {
    const list = await api.graphs();
    const current = chat.graph || list.default;
    graphSelect.replaceChildren(
      ...list.graphs.map((g) => {
        const option = document.createElement('option');
        option.value = g.name;
        option.textContent = g.name;
        return option;
      }),
    );
    graphSelect.value = current;
  } catch (err) {
    showLoginError(err instanceof ApiError ? err.message : 'Could not load the graphs.');
  }
}

function signOut() {
  try {
    localStorage.removeItem(SUB_KEY);
  } catch {
    /* storage may be unavailable */
  }
  chat.getToken = null;
  chat.token = null;
  chat.removeAttribute('session-id'); // the conversation stays remembered for this name's next sign-in
  signedIn.hidden = true;
  loginForm.hidden = false;
  setMode('name');
  loginValue.focus();
}

loginMode.addEventListener('click', () => {
  setMode(mode === 'name' ? 'token' : 'name');
  loginValue.focus();
});

loginForm.addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const value = loginValue.value.trim();
  if (!value) {
    loginValue.focus();
    return;
  }
  showLoginError('');
  if (mode === 'token') {
    await signIn(value, 'token holder', null);
    return;
  }
  try {
    const token = await devToken(value);
    try {
      localStorage.setItem(SUB_KEY, value);
    } catch {
      /* storage may be unavailable */
    }
    await signIn(token, value, () => devToken(value));
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) {
      setMode('token');
      showLoginError('Dev login is off on this server (GRAPHGATE_DEV_LOGIN). Paste a bearer token instead: graphgate token --sub you');
    } else {
      showLoginError(err instanceof ApiError ? err.message : 'Sign-in failed.');
    }
  }
});

logout.addEventListener('click', signOut);

function headingFor(graph) {
  return graph.charAt(0).toUpperCase() + graph.slice(1);
}

graphSelect.addEventListener('change', async () => {
  // the widget asks before leaving a conversation that still runs; staying keeps the graph as it was
  if (!(await chat.switchGraph(graphSelect.value))) {
    graphSelect.value = chat.graph;
    return;
  }
  chat.setAttribute('heading', headingFor(graphSelect.value));
});

chat.addEventListener('graphgate-session', (ev) => {
  const id = ev.detail.sessionId;
  const url = id ? `#session=${encodeURIComponent(id)}` : `${location.pathname}${location.search}`;
  if (location.hash === (id ? url : '')) return;
  // leaving one conversation for another (or for a new one) is a step Back can undo; the first is not
  if (sessionFromHash()) history.pushState(null, '', url);
  else history.replaceState(null, '', url);
});

chat.addEventListener('graphgate-theme', (ev) => {
  document.documentElement.dataset.theme = ev.detail.theme;
});
document.documentElement.dataset.theme = chat.theme;

chat.addEventListener('graphgate-auth-required', () => {
  if (signedIn.hidden) loginValue.focus();
});

function followAddress() {
  const id = sessionFromHash();
  if (id && id !== chat.sessionId) chat.setAttribute('session-id', id);
  else if (!id && chat.sessionId) chat.removeAttribute('session-id');
}

window.addEventListener('hashchange', followAddress);
window.addEventListener('popstate', followAddress);
translatePage();

const joined = sessionFromHash();
if (joined) chat.setAttribute('session-id', joined);

let remembered = null;
try {
  remembered = localStorage.getItem(SUB_KEY);
} catch {
  remembered = null;
}
if (remembered) {
  devToken(remembered)
    .then((token) => signIn(token, remembered, () => devToken(remembered)))
    .catch(() => {
      loginValue.value = remembered;
    });
} else {
  loginValue.focus();
}
