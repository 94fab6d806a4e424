// The two master-key screens (SPEC §5): first set-up (passphrase typed
// twice, an acknowledgement that a lost key cannot be recovered, an optional
// recovery sheet), and Unlock (derive with the server's kdf, refuse weak
// parameters, check key_check, tell a wrong key at once).

import * as api from '../api.js';
import * as keystore from '../keystore.js';
import { WeakKdfError } from '../crypto.js';
import { h, field, button, busy, errorBox, callout, toast } from '../ui.js';
import { icon } from '../icons.js';
import { MIN_PASSPHRASE_LENGTH, strengthMeter, printRecoverySheet } from '../passphrase.js';

export const LOSS_WARNING = 'If you lose this key, every stored config is lost. The server cannot recover it.';

function nextHash(ctx) {
  const next = ctx.query.get('next');
  return next && next.startsWith('/') && !next.startsWith('/unlock') && !next.startsWith('/master-key')
    ? `#${next}` : '#/agents';
}

function passInput(autocomplete) {
  return h('input', { type: 'password', autocomplete, required: true, spellcheck: 'false', autocapitalize: 'off' });
}

/** Explains a failure to derive or check a master key, for any form. */
export function showKeyError(err, e, passField) {
  if (e instanceof keystore.WrongKeyError) {
    passField.setError('That is not the right master key.');
    return;
  }
  if (e instanceof WeakKdfError) {
    err.show({
      code: 'weak_kdf',
      message: 'Security error: the server sent key-derivation parameters weaker than this dashboard '
        + 'accepts, so your passphrase was not used. This should never happen with a healthy server; '
        + 'contact its operator.',
    });
    return;
  }
  err.show(e?.code ? e : { code: 'client', message: 'The master key could not be checked (the stored key check is malformed).' });
}

export async function renderMasterKeySetup(view, ctx) {
  const { app } = ctx;
  if (app.keyState() !== 'none') return app.navigate(nextHash(ctx));
  const pass = passInput('new-password');
  const again = passInput('new-password');
  const passField = field({ label: 'Master key passphrase', input: pass });
  passField.append(strengthMeter(pass));
  const againField = field({ label: 'Type it again', input: again });
  const ack = h('input', { type: 'checkbox', id: 'mk-ack', required: true });
  const ackRow = h('div', { class: 'check' }, ack, h('label', { for: 'mk-ack' }, `I understand. ${LOSS_WARNING}`));
  const err = errorBox();
  const submit = button('Set up master key', { variant: 'primary', type: 'submit', iconName: 'key' });
  const printBtn = button('Print a recovery sheet', { iconName: 'print', onclick: () => printRecoverySheet(app.session.user.email) });

  const form = h('form', { class: 'stack', novalidate: true },
    passField, againField,
    h('div', { class: 'callout callout-warn' }, icon('alert'), h('div', {},
      h('p', { class: 'callout-title' }, 'There is no reset'),
      h('p', {}, 'Nobody can recover this key for you: not the server, not its operator. '
        + 'Agents keep running with the configs they already have, but you could no longer read or change them.'),
      h('p', {}, 'A recovery sheet is a printed page to write the key on by hand and keep somewhere safe. It never contains the key itself.'),
      h('div', { class: 'actions' }, printBtn))),
    ackRow, err,
    h('div', { class: 'actions' }, submit, h('a', { href: nextHash(ctx), class: 'btn btn-ghost' }, 'Not now')));

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    err.hide();
    passField.setError('');
    againField.setError('');
    if ([...pass.value.normalize('NFC')].length < MIN_PASSPHRASE_LENGTH) {
      passField.setError(`Use at least ${MIN_PASSPHRASE_LENGTH} characters.`);
      return pass.focus();
    }
    if (pass.value !== again.value) {
      againField.setError('The two entries differ.');
      return again.focus();
    }
    if (!ack.checked) {
      err.showText('Please confirm that you understand the key cannot be recovered.');
      return ack.focus();
    }
    busy(submit, async () => {
      try {
        const userId = app.session.user.id;
        const made = await keystore.createMasterKey(pass.value, userId);
        await api.masterKey.put({ kdf: made.kdf, key_check: made.keyCheck });
        pass.value = '';
        again.value = '';
        keystore.adopt(userId, made);
        await app.reloadMasterKey();
        toast('Master key set up. This tab is unlocked.');
        app.navigate(nextHash(ctx));
      } catch (e2) {
        err.show(e2?.code ? e2 : { code: 'client', message: 'The master key could not be created in this browser.' });
      }
    }, 'Deriving key…');
  });

  view.append(h('div', { class: 'narrow' },
    h('h1', { tabindex: '-1' }, 'Set up your encryption master key'),
    h('p', { class: 'lead' }, 'Agent configs (API keys, tokens) are encrypted in this browser before they reach the server. '
      + 'Your master key protects them. The server never sees it.'),
    h('section', { class: 'card' }, form)));
  pass.focus();
}

export async function renderUnlock(view, ctx) {
  const { app } = ctx;
  const state = app.keyState();
  if (state === 'none') return app.navigate(`#/master-key?next=${encodeURIComponent(nextHash(ctx).slice(1))}`);
  if (state === 'unlocked') return app.navigate(nextHash(ctx));
  const pass = passInput('off');
  const passField = field({ label: 'Master key passphrase', input: pass });
  pass.addEventListener('input', () => passField.setError(''));
  const err = errorBox();
  const submit = button('Unlock', { variant: 'primary', type: 'submit', iconName: 'unlock' });
  const form = h('form', { class: 'stack', novalidate: true }, passField, err,
    h('div', { class: 'actions' }, submit, h('a', { href: nextHash(ctx), class: 'btn btn-ghost' }, 'Continue locked')));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    err.hide();
    passField.setError('');
    if (!pass.value) return pass.focus();
    busy(submit, async () => {
      try {
        await app.reloadMasterKey();
        await keystore.unlock(pass.value, app.session.masterKey, app.session.user.id);
        pass.value = '';
        app.navigate(nextHash(ctx));
      } catch (e2) {
        showKeyError(err, e2, passField);
        pass.select();
        pass.focus();
      }
    }, 'Unlocking…');
  });
  view.append(h('div', { class: 'narrow' },
    h('h1', { tabindex: '-1' }, 'Unlock'),
    h('p', { class: 'lead' }, 'Enter your master key to view and edit agent configs. '
      + `It is kept in this tab only and locks after ${keystore.autolockMinutes()} idle minutes.`),
    h('section', { class: 'card' }, form),
    callout('info', null, h('p', {}, 'While locked you can still see and manage agents and fleets; only config values stay hidden.'))));
  pass.focus();
}
