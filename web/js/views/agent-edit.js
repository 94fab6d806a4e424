// Editing an agent in place on its page: name, fleet, policy profile and
// gateway URL, sent as one PATCH holding only what changed (an emptied
// gateway URL is sent as null, which clears it). The server applies the same
// rules as at creation; its message is shown under the form.

import * as api from '../api.js';
import { h, field, button, busy, errorBox } from '../ui.js';

function validUrl(s) {
  try {
    const u = new URL(s);
    return u.protocol === 'http:' || u.protocol === 'https:';
  } catch {
    return false;
  }
}

/** The PATCH body: fields whose value differs from the agent's. */
export function changedFields(agent, values) {
  const out = {};
  if (values.name !== agent.name) out.name = values.name;
  if ((values.fleet_id || null) !== (agent.fleet_id ?? null)) out.fleet_id = values.fleet_id || null;
  if (values.policy_profile !== agent.policy_profile) out.policy_profile = values.policy_profile;
  if ((values.gateway_url || null) !== (agent.gateway_url ?? null)) out.gateway_url = values.gateway_url || null;
  return out;
}

export function agentEditForm({ agent, fleets, policies, onSaved, onCancel }) {
  const name = h('input', { type: 'text', required: true, maxlength: 100, autocomplete: 'off', value: agent.name });
  const fleet = h('select', {}, h('option', { value: '' }, 'No fleet'),
    ...fleets.map((f) => h('option', { value: f.id, selected: f.id === agent.fleet_id }, f.name)));
  const policy = h('select', {}, ...policies.map((p) =>
    h('option', { value: p.name, selected: p.name === agent.policy_profile }, `${p.name} (heartbeat every ${p.heartbeat_interval} s)`)));
  const gateway = h('input', {
    type: 'url', autocomplete: 'off', spellcheck: 'false', placeholder: 'https://gateway.example:18789', value: agent.gateway_url ?? '',
  });
  const nameField = field({ label: 'Name', input: name });
  const gatewayField = field({ label: 'Gateway URL', input: gateway, optional: true, hint: 'Leave empty for the agent’s default gateway. The agent picks a change up at its next connection.' });
  const err = errorBox();
  const save = button('Save changes', { variant: 'primary', type: 'submit' });
  const cancel = button('Cancel', { onclick: () => onCancel() });
  const form = h('form', { class: 'stack edit-form', novalidate: true, 'aria-label': `Edit agent ${agent.name}` },
    nameField, field({ label: 'Fleet', input: fleet }), field({ label: 'Policy profile', input: policy }),
    gatewayField, err, h('div', { class: 'actions' }, save, cancel));

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    err.hide();
    nameField.setError('');
    gatewayField.setError('');
    const values = {
      name: name.value.trim(),
      fleet_id: fleet.value,
      policy_profile: policy.value,
      gateway_url: gateway.value.trim(),
    };
    if (!values.name) {
      nameField.setError('Enter a name.');
      return name.focus();
    }
    if (values.gateway_url && !validUrl(values.gateway_url)) {
      gatewayField.setError('Enter a full http(s) URL, such as https://gateway.example:18789.');
      return gateway.focus();
    }
    const changes = changedFields(agent, values);
    if (!Object.keys(changes).length) return onCancel();
    busy(save, async () => {
      try {
        onSaved(await api.agents.update(agent.id, changes));
      } catch (e2) {
        err.show(e2.status === 404 && 'fleet_id' in changes
          ? { code: e2.code, message: 'That fleet no longer exists. Reload the page and pick another.' } : e2);
      }
    }, 'Saving…');
  });
  queueMicrotask(() => name.focus());
  return form;
}
