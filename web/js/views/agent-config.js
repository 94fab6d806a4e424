// The agent page's "Encrypted config" card. Depending on the master-key
// state it asks to set up or unlock the key, sets up the agent's encryption
// secret, or unwraps that secret, decrypts the stored envelope and shows the
// editor. Config values never appear while locked.

import * as api from '../api.js';
import { generateEncryptionSecret, unwrapSecret, wrapSecret } from '../crypto.js';
import { EMPTY_DOC, openCurrent, recordSeen, RollbackError, seenVersion, VersionMismatchError } from '../rollback.js';
import { h, button, busy, errorBox, callout } from '../ui.js';
import { icon } from '../icons.js';
import { showEncryptionSecret } from '../secrets.js';
import { configEditor } from './config-editor.js';

export function configSection(initial, ctx) {
  const { app } = ctx;
  let detail = initial;
  let editor = null;
  const versions = h('p', { class: 'muted versions' });
  const headActions = h('div', { class: 'actions' });
  const body = h('div', { class: 'stack' });
  const el = h('section', { class: 'card', 'aria-labelledby': 'config-h' },
    h('div', { class: 'card-head' }, h('div', {}, h('h2', { id: 'config-h' }, 'Encrypted config'), versions), headActions),
    body);
  ctx.onCleanup(() => editor?.destroy());
  ctx.setLeaveGuard(() => !!editor?.isDirty());

  function showVersions(a) {
    const applied = a.config_version_applied;
    const stored = a.config_version ?? 0;
    const state = stored === 0 ? 'No config stored yet.'
      : `Stored version ${stored} · agent applied ${applied ? `version ${applied}` : 'none yet'}`;
    let tag = '';
    if (stored > 0) {
      tag = applied === stored ? h('span', { class: 'tag tag-ok' }, 'up to date') : h('span', { class: 'tag tag-warn' }, 'not applied yet');
    }
    versions.replaceChildren(state, tag);
  }

  const next = () => encodeURIComponent(`/agents/${detail.id}`);

  async function render() {
    editor?.destroy();
    editor = null;
    headActions.replaceChildren();
    showVersions(detail);
    const state = app.keyState();
    if (state === 'none') {
      body.replaceChildren(callout('info', 'Set up your master key first',
        h('p', {}, 'Configs are encrypted in your browser with a key only you hold.'),
        h('p', {}, h('a', { class: 'btn btn-primary', href: `#/master-key?next=${next()}` }, icon('key'), h('span', {}, 'Set up master key')))));
      return;
    }
    if (state === 'locked') {
      body.replaceChildren(h('div', { class: 'locked-box' }, icon('lock', 'icon icon-lg'),
        h('p', { class: 'locked-title' }, 'Unlock to view and edit'),
        h('p', { class: 'muted' }, 'Config values are encrypted. Unlock your master key in this tab to see them.'),
        h('a', { class: 'btn btn-primary', href: `#/unlock?next=${next()}` }, icon('unlock'), h('span', {}, 'Unlock'))));
      return;
    }
    const err = errorBox();
    if (!detail.wrapped_secret) {
      const setup = button('Set up encryption', { variant: 'primary', iconName: 'key' });
      setup.addEventListener('click', () => busy(setup, async () => {
        err.hide();
        try {
          const secret = generateEncryptionSecret();
          const wrapped = await wrapSecret(await app.wrapKey(), app.session.user.id, detail.id, secret);
          detail = await api.agents.putWrappedSecret(detail.id, { wrapped_secret: wrapped, key_check: app.session.masterKey?.key_check });
          showEncryptionSecret(detail, secret, { fresh: true });
          await render();
        } catch (e) {
          err.show(e);
        }
      }, 'Setting up…'));
      body.replaceChildren(callout('info', 'This agent has no encryption secret yet',
        h('p', {}, 'Set one up to store an encrypted config. It is made in this browser and stored only wrapped under your master key; you then give it to the agent.'),
        h('div', { class: 'actions' }, setup)), err);
      return;
    }
    let secret;
    try {
      secret = await unwrapSecret(await app.wrapKey(), app.session.user.id, detail.id, detail.wrapped_secret);
    } catch {
      err.showText('This agent’s encryption secret could not be unwrapped with your master key. It was wrapped under another key, or was altered.');
      body.replaceChildren(err);
      return;
    }
    headActions.replaceChildren(button('Show encryption secret', {
      iconName: 'eye', onclick: () => showEncryptionSecret(detail, secret),
    }));
    const userId = app.session.user.id;
    let doc = EMPTY_DOC;
    try {
      ({ doc } = await openCurrent({
        userId, agentId: detail.id, secret, stored: detail.config_version ?? 0, envelope: detail.config,
      }));
    } catch (e) {
      if (!ctx.isCurrent()) return;
      if (e instanceof RollbackError || e instanceof VersionMismatchError) {
        refuse(e);
        return;
      }
      err.showText(`Stored version ${detail.config_version} could not be decrypted with this agent’s encryption secret. `
        + 'Saving a new config replaces it.');
    }
    if (!ctx.isCurrent()) return;
    editor = configEditor({
      agent: detail,
      secret,
      doc,
      version: detail.config_version ?? 0,
      seen: () => seenVersion(userId, detail.id),
      userReload: () => reload(),
      onSaved: (v) => {
        recordSeen(userId, detail.id, v);
        detail = { ...detail, config_version: v };
        showVersions(detail);
      },
    });
    body.replaceChildren(err, editor.el);
  }

  /** A refused answer: warn, show nothing of it, and offer no save over it. */
  function refuse(e) {
    const rollback = e instanceof RollbackError;
    body.replaceChildren(h('div', { class: 'alert alert-error', role: 'alert' }, icon('alert'), h('div', {},
      h('p', { class: 'callout-title' }, rollback ? 'Possible rollback: this config is not shown' : 'Inconsistent answer: this config is not shown'),
      h('p', {}, e.message),
      h('p', {}, 'Nothing was decrypted for display and saving is disabled here, so the old config is not sealed again as the newest. '
        + 'The server may be replaying an old config; the agent refuses such a config as well. Reload later, and report it to whoever runs the server if it persists.'),
      h('div', { class: 'actions' }, button('Check again', { iconName: 'rotate', onclick: () => reload() })))));
  }

  async function reload() {
    detail = await api.agents.get(detail.id);
    await render();
  }

  return {
    el,
    render,
    reload,
    /** A live Agent update (no config or wrapped secret in it). */
    update(a) {
      detail = { ...detail, ...a, config: detail.config, wrapped_secret: detail.wrapped_secret };
      showVersions(detail);
      if (editor) editor.newerStored(a.config_version);
    },
  };
}
