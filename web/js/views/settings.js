// Settings: change the master key (re-wrapping every agent's encryption
// secret in this browser and replacing them all in one request), the
// auto-lock delay, and the account.

import * as api from '../api.js';
import * as keystore from '../keystore.js';
import { unwrapSecret, wrapSecret } from '../crypto.js';
import { h, field, button, busy, errorBox, toast, pageHeader } from '../ui.js';
import { MIN_PASSPHRASE_LENGTH, strengthMeter, printRecoverySheet } from '../passphrase.js';
import { showKeyError } from './masterkey.js';
import { passwordForm, sessionsList } from './account.js';

function pw(autocomplete) {
  return h('input', { type: 'password', autocomplete, required: true, spellcheck: 'false', autocapitalize: 'off' });
}

function changeKeyForm(app) {
  const current = pw('off');
  const fresh = pw('new-password');
  const again = pw('new-password');
  const password = pw('current-password');
  const currentField = field({ label: 'Current master key', input: current });
  const freshField = field({ label: 'New master key', input: fresh });
  freshField.append(strengthMeter(fresh));
  const againField = field({ label: 'Type the new key again', input: again });
  const passwordField = field({ label: 'Account password', input: password, hint: 'Required so that a stolen session alone cannot replace your key.' });
  const progress = h('p', { class: 'muted slot', role: 'status' });
  const err = errorBox();
  const submit = button('Change master key', { variant: 'primary', type: 'submit', iconName: 'key' });
  const form = h('form', { class: 'stack', novalidate: true },
    currentField, freshField, againField, passwordField, err, progress, h('div', { class: 'actions' }, submit));

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    err.hide();
    for (const f of [currentField, freshField, againField, passwordField]) f.setError('');
    if (!current.value) return currentField.setError('Enter your current master key.');
    if ([...fresh.value.normalize('NFC')].length < MIN_PASSPHRASE_LENGTH) return freshField.setError(`Use at least ${MIN_PASSPHRASE_LENGTH} characters.`);
    if (fresh.value !== again.value) return againField.setError('The two entries differ.');
    if (!password.value) return passwordField.setError('Enter your account password.');
    busy(submit, async () => {
      const userId = app.session.user.id;
      let old;
      try {
        progress.textContent = 'Checking the current key…';
        await app.reloadMasterKey();
        old = await keystore.deriveChecked(current.value, app.session.masterKey, userId);
        old.bytes.fill(0);
      } catch (e2) {
        progress.textContent = '';
        return showKeyError(err, e2, currentField);
      }
      try {
        progress.textContent = 'Collecting agents…';
        const agents = await api.allAgents();
        const secrets = [];
        for (const [i, a] of agents.entries()) {
          progress.textContent = `Unwrapping agent secrets: ${i + 1} of ${agents.length}…`;
          const d = await api.agents.get(a.id);
          if (!d.wrapped_secret) continue;
          try {
            secrets.push([d.id, await unwrapSecret(old.key, userId, d.id, d.wrapped_secret)]);
          } catch {
            throw Object.assign(new Error(), { code: 'unwrap_failed', message: `The encryption secret of “${d.name}” could not be unwrapped with the current key. Nothing was changed.` });
          }
        }
        progress.textContent = 'Deriving the new key…';
        const made = await keystore.createMasterKey(fresh.value, userId);
        const wrapped = [];
        for (const [agentId, secret] of secrets) {
          wrapped.push({ agent_id: agentId, wrapped_secret: await wrapSecret(made.key, userId, agentId, secret) });
        }
        progress.textContent = 'Saving…';
        await api.masterKey.put({ kdf: made.kdf, key_check: made.keyCheck, wrapped_secrets: wrapped, password: password.value });
        for (const input of [current, fresh, again, password]) input.value = '';
        keystore.adopt(userId, made);
        await app.reloadMasterKey();
        progress.textContent = '';
        toast(`Master key changed; ${wrapped.length} agent secret${wrapped.length === 1 ? '' : 's'} re-wrapped. This tab is unlocked with the new key.`);
      } catch (e3) {
        progress.textContent = '';
        if (e3.code === 'wrong_password' || e3.code === 'invalid_credentials') passwordField.setError('That is not your account password.');
        else if (e3.code === 'conflict') err.show({ code: e3.code, message: 'Agents changed while the key was being changed. Nothing was saved; please try again.' });
        else err.show(e3?.code ? e3 : { code: 'client', message: 'The master key could not be changed. Nothing was saved.' });
      }
    }, 'Changing…');
  });
  return form;
}

function autolockForm() {
  const minutes = h('input', {
    type: 'number', class: 'short', min: '1', max: String(keystore.MAX_AUTOLOCK_MINUTES), step: '1', required: true,
    inputmode: 'numeric', value: String(keystore.autolockMinutes()),
  });
  const f = field({ label: 'Lock after this many idle minutes', input: minutes, hint: `Default ${keystore.DEFAULT_AUTOLOCK_MINUTES}. Applies to this browser.` });
  const form = h('form', { novalidate: true }, f, h('div', { class: 'actions' }, button('Save', { type: 'submit' })));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const n = Number(minutes.value);
    if (!Number.isInteger(n) || n < 1 || n > keystore.MAX_AUTOLOCK_MINUTES) {
      return f.setError(`Enter a whole number from 1 to ${keystore.MAX_AUTOLOCK_MINUTES}.`);
    }
    f.setError('');
    keystore.setAutolockMinutes(n);
    toast(`Auto-lock set to ${n} minute${n === 1 ? '' : 's'}.`);
  });
  return form;
}

function section(id, title, intro, ...body) {
  return h('section', { class: 'card settings-section', 'aria-labelledby': id },
    h('div', { class: 'intro' }, h('h2', { id }, title), ...intro.map((t) => h('p', { class: 'muted' }, t))),
    h('div', { class: 'body' }, ...body));
}

export async function renderSettings(view, ctx) {
  const { app } = ctx;
  await app.reloadMasterKey();
  const state = app.keyState();
  const email = app.session.user.email;
  const keySection = state === 'none'
    ? section('mk-h', 'Encryption master key', ['Set one up to store encrypted configs for your agents.'],
      h('div', { class: 'actions' }, h('a', { class: 'btn btn-primary', href: '#/master-key?next=%2Fsettings' }, 'Set up master key')))
    : section('mk-h', 'Change master key', [
      'Every agent’s encryption secret is re-wrapped in this browser under the new key and replaced in one step.',
      'Agents and their configs are not affected.'], changeKeyForm(app));

  view.append(
    pageHeader('Settings'),
    keySection,
    section('al-h', 'Auto-lock', ['The unlocked master key is forgotten after this much time without activity in the tab.'], autolockForm()),
    section('acct-h', 'Account', ['The owner account of the agents and fleets shown here.'],
      h('dl', { class: 'facts' }, h('dt', {}, 'Signed in as'), h('dd', {}, email)),
      h('div', { class: 'actions' },
        state !== 'none' ? button('Print a recovery sheet', { iconName: 'print', onclick: () => printRecoverySheet(email) }) : null,
        button('Log out', { iconName: 'logout', onclick: () => app.logout() }))));
  const sessions = sessionsList();
  view.append(
    section('pw-h', 'Sign-in password', [
      'The password signs you in to this server. Changing it signs out every other session.',
      'It does not touch your master key or any config: those stay encrypted under your master key, which the server never had. The same holds when the server’s operator resets your password.'],
    passwordForm(() => sessions.reload())),
    section('ss-h', 'Sessions', ['Where your account is signed in. End any session you do not recognise.'], sessions));
}
