// Modal dialogs on the native <dialog> element: it traps focus, closes on
// Escape and marks the rest of the page inert. On close the dialog is removed
// from the DOM (so a one-time secret shown in it is gone) and focus returns to
// the element that opened it.

import { h, uid, button } from './ui.js';

export function openDialog({ title, body = [], actions = [], wide = false, onClose, sensitive = false }) {
  const opener = document.activeElement;
  const titleId = uid('dlg');
  const dialog = h('dialog', {
    class: `dialog${wide ? ' dialog-wide' : ''}`, 'aria-labelledby': titleId, dataset: sensitive ? { sensitive: 'true' } : null,
  });
  const closeBtn = h('button', { type: 'button', class: 'dialog-close', 'aria-label': 'Close' }, '×');
  const footer = h('div', { class: 'dialog-actions' }, ...actions);
  dialog.append(
    h('div', { class: 'dialog-head' }, h('h2', { id: titleId }, title), closeBtn),
    h('div', { class: 'dialog-body' }, ...body),
    footer,
  );
  let closed = false;
  const close = (value) => {
    if (closed) return;
    closed = true;
    if (dialog.open) dialog.close();
    dialog.remove();
    onClose?.(value);
    if (opener && opener.isConnected && typeof opener.focus === 'function') opener.focus();
  };
  closeBtn.addEventListener('click', () => close(undefined));
  dialog.addEventListener('close', () => close(undefined));
  document.body.append(dialog);
  dialog.showModal();
  const first = dialog.querySelector('[autofocus]') ?? dialog.querySelector('input, select, textarea');
  if (first) first.focus();
  return { dialog, close, footer };
}

/**
 * Closes open dialogs: all of them, or only those showing material that the
 * master key protects (when the key locks).
 */
export function closeDialogs({ sensitiveOnly = false } = {}) {
  for (const d of document.querySelectorAll(sensitiveOnly ? 'dialog[data-sensitive]' : 'dialog')) d.close();
}

/** Asks before something irreversible; resolves true only on the confirm button. */
export function confirmDialog({ title, message, confirmLabel = 'Confirm', danger = false, details = [] }) {
  return new Promise((resolve) => {
    let result = false;
    const cancel = button('Cancel', { autofocus: danger });
    const ok = button(confirmLabel, { variant: danger ? 'danger' : 'primary', autofocus: !danger });
    const { close } = openDialog({
      title,
      body: [h('p', {}, message), ...details],
      actions: [cancel, ok],
      onClose: () => resolve(result),
    });
    cancel.addEventListener('click', () => close());
    ok.addEventListener('click', () => { result = true; close(); });
  });
}
