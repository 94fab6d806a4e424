// Settings → the account: change the password (the current one is required;
// every other session ends) and the list of sessions, each of which can be
// ended. Neither touches the master key or any config, and the page says so.

import * as api from '../api.js';
import { h, field, button, busy, errorBox, toast, timeEl, clear } from '../ui.js';
import { confirmDialog } from '../dialog.js';

const MIN_PASSWORD_LENGTH = 12;

function pw(autocomplete) {
  return h('input', { type: 'password', autocomplete, required: true, spellcheck: 'false', autocapitalize: 'off' });
}

/** The "Sign-in password" form; `onChanged` runs after a change (sessions ended). */
export function passwordForm(onChanged) {
  const current = pw('current-password');
  const fresh = pw('new-password');
  const again = pw('new-password');
  const currentField = field({ label: 'Current password', input: current });
  const freshField = field({ label: 'New password', input: fresh, hint: `At least ${MIN_PASSWORD_LENGTH} characters.` });
  const againField = field({ label: 'Type the new password again', input: again });
  const err = errorBox();
  const submit = button('Change password', { variant: 'primary', type: 'submit', iconName: 'key' });
  const form = h('form', { class: 'stack', novalidate: true, 'aria-label': 'Change password' },
    currentField, freshField, againField, err, h('div', { class: 'actions' }, submit));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    err.hide();
    for (const f of [currentField, freshField, againField]) f.setError('');
    if (!current.value) return currentField.setError('Enter your current password.');
    if ([...fresh.value].length < MIN_PASSWORD_LENGTH) return freshField.setError(`Use at least ${MIN_PASSWORD_LENGTH} characters.`);
    if (fresh.value !== again.value) return againField.setError('The two entries differ.');
    busy(submit, async () => {
      try {
        const res = await api.me.changePassword(current.value, fresh.value);
        for (const input of [current, fresh, again]) input.value = '';
        const n = res.ended_sessions ?? 0;
        toast(`Password changed. ${n} other session${n === 1 ? ' was' : 's were'} signed out.`);
        onChanged?.();
      } catch (e2) {
        if (e2.code === 'wrong_password') currentField.setError('That is not your current password.');
        else err.show(e2);
      }
    }, 'Changing…');
  });
  return form;
}

function describe(s) {
  const agent = s.user_agent ?? 'Unknown browser';
  return s.client_addr ? `${agent} — ${s.client_addr}` : agent;
}

/** The list of the account's sessions, with "End session" on all but this one. */
export function sessionsList() {
  const list = h('ul', { class: 'session-list', 'aria-label': 'Sessions' });
  const err = errorBox();
  const wrap = h('div', { class: 'stack' }, list, err);
  async function load() {
    err.hide();
    try {
      const { sessions } = await api.me.sessions();
      clear(list);
      for (const s of sessions) {
        const label = describe(s);
        const end = s.current ? h('span', { class: 'badge' }, 'This session')
          : button('End session', { 'aria-label': `End session: ${label}` });
        end.addEventListener('click', async () => {
          if (s.current) return;
          const ok = await confirmDialog({ title: 'End this session?', message: `${label} will be signed out.`, confirmLabel: 'End session', danger: true });
          if (!ok) return;
          await busy(end, async () => {
            try {
              await api.me.endSession(s.id);
              toast('Session ended.');
              await load();
            } catch (e2) { err.show(e2); }
          });
        });
        list.append(h('li', { class: 'session', 'aria-current': s.current ? 'true' : null },
          h('div', { class: 'session-what' }, h('p', { class: 'session-agent' }, label),
            h('p', { class: 'muted' }, 'Signed in ', timeEl(s.created_at), ' · last used ', timeEl(s.last_used_at, 'unknown'))),
          end));
      }
    } catch (e) {
      err.show(e);
    }
  }
  wrap.reload = load;
  load();
  return wrap;
}
