// The "New agent" dialog. The identity is an Ed25519 key pair the host makes
// and enrolls with a one-time token (the default: the server stores only the
// public key) or the HMAC shared secret of the original handshake. While
// unlocked it also makes the agent's ENCRYPTION_SECRET here in the browser and
// stores only its wrapped form; then it shows the enrollment token (or the
// AGENT_SECRET) once with the install command.

import * as api from '../api.js';
import { generateEncryptionSecret, wrapSecret } from '../crypto.js';
import { h, field, button, busy, errorBox, callout, uid } from '../ui.js';
import { openDialog } from '../dialog.js';
import { showCreatedAgent } from '../secrets.js';

function validUrl(s) {
  try {
    const u = new URL(s);
    return u.protocol === 'http:' || u.protocol === 'https:' || u.protocol === 'ws:' || u.protocol === 'wss:';
  } catch {
    return false;
  }
}

/** The identity choice: Ed25519 (checked) or HMAC; `.value` reads the chosen one. */
function identityChoice() {
  const group = uid('identity');
  const option = (value, label, hint, checked) => {
    const input = h('input', { type: 'radio', name: group, value, id: uid('identity'), checked });
    return { input, row: h('div', { class: 'check' }, input, h('label', { for: input.id }, label, h('span', { class: 'hint' }, hint))) };
  };
  const ed = option('ed25519', 'Ed25519 key pair (recommended)',
    ' The host makes its own key pair and enrolls it once with a token; the server stores only the public key, so neither its database nor its keys can impersonate the host.', true);
  const hmac = option('hmac', 'Shared secret (HMAC)',
    ' The original handshake, for agents that cannot enroll yet. The server holds the secret too.', false);
  const el = h('fieldset', { class: 'identity-choice' }, h('legend', {}, 'Identity'), ed.row, hmac.row);
  return { el, get value() { return hmac.input.checked ? 'hmac' : 'ed25519'; } };
}

export async function openCreateAgent(app, { fleetId, onCreated }) {
  const [fleetsRes, policiesRes] = await Promise.all([api.fleets.list(), api.policies.list()]);
  const name = h('input', { type: 'text', required: true, maxlength: 100, autocomplete: 'off' });
  const fleet = h('select', {}, h('option', { value: '' }, 'No fleet'),
    ...fleetsRes.fleets.map((f) => h('option', { value: f.id, selected: f.id === fleetId }, f.name)));
  const policy = h('select', {}, ...policiesRes.policies.map((p) =>
    h('option', { value: p.name }, `${p.name} (heartbeat every ${p.heartbeat_interval} s)`)));
  const gateway = h('input', { type: 'url', autocomplete: 'off', placeholder: 'https://gateway.example:18789', spellcheck: 'false' });
  const nameField = field({ label: 'Name', input: name });
  const gatewayField = field({ label: 'Gateway URL', input: gateway, optional: true, hint: 'Where the agent reaches its OpenClaw gateway, if not the default.' });
  const identity = identityChoice();
  const err = errorBox();
  const state = app.keyState();
  const note = state === 'unlocked'
    ? 'An encryption secret for this agent’s config is generated in this browser; the server only stores it wrapped under your master key.'
    : state === 'locked'
      ? 'Locked: the encryption secret can be set up later on the agent page, after unlocking.'
      : 'No master key yet: set one up to store encrypted configs for your agents.';
  const submit = button('Create agent', { variant: 'primary', type: 'submit' });
  const cancel = button('Cancel');
  const form = h('form', { class: 'stack', novalidate: true, id: 'create-agent-form' },
    nameField, field({ label: 'Fleet', input: fleet }), field({ label: 'Policy profile', input: policy }),
    gatewayField, identity.el, callout('info', null, h('p', {}, note)), err);
  submit.setAttribute('form', 'create-agent-form');
  const { close } = openDialog({ title: 'New agent', body: [form], actions: [cancel, submit] });
  cancel.addEventListener('click', () => close());

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    err.hide();
    nameField.setError('');
    gatewayField.setError('');
    if (!name.value.trim()) {
      nameField.setError('Enter a name.');
      return name.focus();
    }
    if (gateway.value.trim() && !validUrl(gateway.value.trim())) {
      gatewayField.setError('Enter a full URL, such as https://gateway.example:18789.');
      return gateway.focus();
    }
    busy(submit, async () => {
      let created;
      try {
        created = await api.agents.create({
          name: name.value.trim(),
          fleet_id: fleet.value || null,
          policy_profile: policy.value || undefined,
          gateway_url: gateway.value.trim() || null,
          identity: identity.value,
        });
      } catch (e2) {
        err.show(e2);
        return;
      }
      const { agent, agent_secret: agentSecret, enrollment_token: enrollmentToken } = created;
      let encryptionSecret = null;
      let encryptionNote = null;
      if (app.keyState() === 'unlocked') {
        try {
          const wk = await app.wrapKey();
          const secret = generateEncryptionSecret();
          const wrapped = await wrapSecret(wk, app.session.user.id, agent.id, secret);
          await api.agents.putWrappedSecret(agent.id, { wrapped_secret: wrapped, key_check: app.session.masterKey?.key_check });
          encryptionSecret = secret;
        } catch (e3) {
          encryptionNote = `The encryption secret could not be stored (${e3?.message ?? 'error'}). Set up encryption later on the agent page.`;
        }
      } else {
        encryptionNote = `${state === 'none'
          ? 'Set up a master key, then use “Set up encryption” on the agent page'
          : 'Unlock, then use “Set up encryption” on the agent page'}: the agent also needs OPENCLAW_FLEET_ENCRYPTION_SECRET before it can run.`;
      }
      close();
      showCreatedAgent({ agent, agentSecret, enrollmentToken, encryptionSecret, encryptionNote });
      onCreated?.(agent);
    }, 'Creating…');
  });
}
