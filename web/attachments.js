// Files attached to the next message: the paperclip button, drag and drop onto the composer, and pasting
// files into the message box. Each file is uploaded at once (POST /api/v1/files) and shown as a chip with
// its state; the message goes with the ids of the files that are ready (docs/files.md). Files the server
// refuses (type, size) show why on their chip and are not sent.
//
// What a sent message carried is shown in its bubble by ``filesOf``/``fileNodes``: images inline, other
// files as links (their URLs are signed: no token needed).

import { h, icon } from './dom.js';
import { english } from './i18n.js';

export class Attachments {
  /** @param {{upload: (file: File) => Promise<{file_id: string}>, changed: () => void, t?: (key: string, params?: object) => string}} handlers */
  constructor({ upload, changed, t = english }) {
    this.t = t;
    this.upload = upload;
    this.changed = changed;
    this.items = []; // {file, state: 'uploading'|'ready'|'refused', id, error, chip}
    this.input = h('input', { type: 'file', multiple: true, hidden: true, tabindex: '-1' });
    this.input.addEventListener('change', () => {
      this.add([...this.input.files]);
      this.input.value = '';
    });
    this.button = h(
      'button',
      { type: 'button', class: 'secondary attach', 'aria-label': t('attachFiles'), title: t('attachFiles'), onclick: () => this.input.click() },
      icon('paperclip'),
    );
    this.list = h('ul', { class: 'attachments', 'aria-label': t('attachedFiles'), hidden: true });
  }

  relabel() {
    this.button.setAttribute('aria-label', this.t('attachFiles'));
    this.button.title = this.t('attachFiles');
    this.list.setAttribute('aria-label', this.t('attachedFiles'));
  }

  /** Let ``target`` take dropped files, and ``box`` pasted ones. */
  watch(target, box) {
    target.addEventListener('dragover', (ev) => {
      if (this.button.hidden || !hasFiles(ev.dataTransfer)) return;
      ev.preventDefault();
      target.classList.add('dropping');
    });
    target.addEventListener('dragleave', () => target.classList.remove('dropping'));
    target.addEventListener('drop', (ev) => {
      target.classList.remove('dropping');
      if (this.button.hidden || !hasFiles(ev.dataTransfer)) return;
      ev.preventDefault();
      this.add([...ev.dataTransfer.files]);
    });
    box.addEventListener('paste', (ev) => {
      const files = [...((ev.clipboardData && ev.clipboardData.files) || [])];
      if (this.button.hidden || !files.length) return;
      ev.preventDefault();
      this.add(files);
    });
  }

  /** Whether this graph takes files at all (a chat graph does); the button and drops follow. */
  set enabled(on) {
    this.button.hidden = !on;
    if (!on) this.clear();
  }

  add(files) {
    for (const file of files) {
      const item = { file, state: 'uploading', id: null, error: null };
      item.chip = h('li', { class: 'chip' });
      this.items.push(item);
      this.list.append(item.chip);
      this.draw(item);
      this.upload(file).then(
        (made) => {
          item.state = 'ready';
          item.id = made.file_id;
          this.draw(item);
        },
        (err) => {
          item.state = 'refused';
          item.error = (err && err.message) || this.t('uploadFailed');
          this.draw(item);
        },
      );
    }
    this.list.hidden = !this.items.length;
    this.changed();
  }

  draw(item) {
    const note = { uploading: this.t('uploading'), ready: '', refused: item.error }[item.state];
    const remove = h('button', { type: 'button', class: 'remove', 'aria-label': this.t('removeFile', { name: item.file.name }), onclick: () => this.remove(item) }, '×');
    item.chip.dataset.state = item.state;
    const shown = note ? h('span', { class: 'note', title: note }, note) : '';
    item.chip.replaceChildren(h('span', { class: 'name', title: item.file.name }, item.file.name || this.t('file')), shown, remove);
    this.changed();
  }

  remove(item) {
    this.items = this.items.filter((i) => i !== item);
    item.chip.remove();
    this.list.hidden = !this.items.length;
    this.changed();
  }

  /** Ids of the files ready to go. */
  ids() {
    return this.items.filter((i) => i.state === 'ready').map((i) => i.id);
  }

  get uploading() {
    return this.items.some((i) => i.state === 'uploading');
  }

  clear() {
    this.items = [];
    this.list.replaceChildren();
    this.list.hidden = true;
  }
}

function hasFiles(transfer) {
  return Boolean(transfer && [...(transfer.types || [])].includes('Files'));
}

/** The file blocks (images, files, audio) of a task's input message. */
export function filesOf(input) {
  const messages = input && Array.isArray(input.messages) ? input.messages : [];
  const last = messages.length ? messages[messages.length - 1] : null;
  const parts = last && Array.isArray(last.content) ? last.content : (input && Array.isArray(input.attachments) ? input.attachments : []);
  return parts.filter((p) => p && typeof p === 'object' && ['image', 'file', 'audio'].includes(p.type) && p.url);
}

/** What a message's files look like in its bubble: images inline, the rest as links. */
export function fileNodes(blocks) {
  return blocks.map((block) => {
    const name = (block.extras && block.extras.filename) || block.type;
    if (block.type === 'image') return h('a', { href: block.url, target: '_blank', rel: 'noopener', class: 'file image' }, h('img', { src: block.url, alt: name }));
    return h('a', { href: block.url, target: '_blank', rel: 'noopener', class: 'file' }, name);
  });
}
