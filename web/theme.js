// Which theme the widget shows, light or dark: the reader's own choice (the header's toggle, remembered in
// localStorage) wins over the page's ``theme`` attribute, which wins over the system's preference
// (``prefers-color-scheme``). The element applies it; this module only decides.

const THEME_KEY = 'graphgate-theme';

function storedTheme() {
  try {
    const value = window.localStorage.getItem(THEME_KEY);
    return value === 'light' || value === 'dark' ? value : null;
  } catch {
    return null;
  }
}

export class ThemeChoice {
  /**
   * @param {HTMLElement} host  the element whose ``theme`` attribute counts
   * @param {() => void} onChange  called when the system's preference changes while watched
   */
  constructor(host, onChange) {
    this.host = host;
    this.media = window.matchMedia('(prefers-color-scheme: dark)');
    this.onMedia = () => onChange();
  }

  watch() {
    this.media.addEventListener('change', this.onMedia);
  }

  unwatch() {
    this.media.removeEventListener('change', this.onMedia);
  }

  /** The theme in use: 'light' or 'dark'. */
  current() {
    const chosen = storedTheme();
    if (chosen) return chosen;
    const attr = this.host.getAttribute('theme');
    if (attr === 'light' || attr === 'dark') return attr;
    return this.media.matches ? 'dark' : 'light';
  }

  /** Switch to the other theme and remember it (in the ``theme`` attribute when storage is unavailable). */
  toggle() {
    const next = this.current() === 'dark' ? 'light' : 'dark';
    try {
      window.localStorage.setItem(THEME_KEY, next);
    } catch {
      this.host.setAttribute('theme', next);
    }
  }
}
