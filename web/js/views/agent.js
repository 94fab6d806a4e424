// One agent: status and facts (live, editable in place), the plaintext-secret
// warning, charts, the encrypted config, and the actions: Rotate secret and
// Switch to Ed25519 for an HMAC agent, New enrollment token for an Ed25519
// one, Delete.

import * as api from '../api.js';
import { subscribe, watchAgents } from '../live.js';
import { h, button, busy, errorBox, statusBadge, timeEl, fmtDateTime, toast } from '../ui.js';
import { icon } from '../icons.js';
import { confirmDialog } from '../dialog.js';
import { showRotatedSecret, showEnrollmentToken } from '../secrets.js';
import { unwrapSecret } from '../crypto.js';
import { metricsSection } from './agent-metrics.js';
import { configSection } from './agent-config.js';
import { agentEditForm } from './agent-edit.js';
import { historySection } from './agent-history.js';
import { activitySection } from './activity.js';

/** What the agent's last heartbeat said about config delivery (`config_delivery`). */
function configDelivery(value) {
  if (value === 'not_set_up') {
    return h('span', { class: 'config-delivery-off' }, 'Config delivery not set up',
      h('span', { class: 'muted' }, ' — this host has no ENCRYPTION_SECRET, so it only reports its health; configs saved here are not applied'));
  }
  if (value === 'ready') return 'Ready';
  return h('span', { class: 'muted' }, 'Unknown');
}

/** The agent's identity type (`identity`, absent on servers before Ed25519: HMAC). */
function identityOf(a) {
  return a.identity === 'ed25519' ? 'ed25519' : 'hmac';
}

function identityFact(a) {
  if (identityOf(a) === 'hmac') return 'Shared secret (HMAC)';
  if (!a.public_key) return h('span', {}, 'Ed25519 ', h('span', { class: 'muted' }, '— waiting for the host to enroll with its token'));
  return h('span', {}, 'Ed25519, public key ', h('code', { class: 'break' }, a.public_key));
}

function fact(label, value) {
  return [h('dt', {}, label), h('dd', {}, value)];
}

export async function renderAgent(view, ctx) {
  const [id] = ctx.params;
  // The stream follows this agent (named once it is known to be the caller's).
  const watching = watchAgents();
  ctx.onCleanup(watching.release);
  let agent;
  try {
    agent = await api.agents.get(id);
    watching.set([agent.id]);
  } catch (e) {
    watching.release();
    if (e.status !== 404) throw e;
    view.append(h('div', { class: 'empty card' }, h('h1', { class: 'empty-title', tabindex: '-1' }, 'Agent not found'),
      h('p', { class: 'muted' }, 'It may have been deleted.'), h('a', { href: '#/agents' }, 'Back to agents')));
    return;
  }
  let { fleets } = await api.fleets.list();
  const fleetName = (fid) => fleets.find((f) => f.id === fid)?.name;
  ctx.setTitle(agent.name);

  const title = h('h1', { tabindex: '-1' });
  const badge = h('span');
  const warning = h('div', { class: 'slot' });
  const errorLine = h('div', { class: 'slot' });
  const facts = h('dl', { class: 'facts' });
  const overview = h('div', {}, facts);
  const actionErr = errorBox();
  const identityActions = h('span', { class: 'actions' });
  let shownIdentity = null;
  let editing = false;

  function paint(a) {
    ctx.setTitle(a.name);
    title.textContent = a.name;
    badge.replaceChildren(statusBadge(a.status));
    warning.replaceChildren(a.plaintext_secret_seen_at && identityOf(a) === 'hmac' ? h('div', { class: 'banner banner-danger', role: 'alert' },
      icon('alert', 'icon icon-lg'),
      h('div', {}, h('p', { class: 'banner-title' }, 'This agent sent its secret in plaintext — rotate it'),
        h('p', {}, 'A request carrying the agent secret itself reached the server (', timeEl(a.plaintext_secret_seen_at),
          '). Anyone who saw that traffic or its logs may hold the secret. Rotate it and update the host.'),
        button('Rotate secret now', { variant: 'danger', iconName: 'rotate', onclick: (e) => rotate(e.currentTarget) }))) : '');
    if (identityOf(a) !== shownIdentity) {
      shownIdentity = identityOf(a);
      identityActions.replaceChildren(...(shownIdentity === 'hmac'
        ? [button('Rotate secret', { iconName: 'rotate', onclick: (e) => rotate(e.currentTarget) }),
          button('Switch to Ed25519', { iconName: 'key', onclick: (e) => enrollmentToken(e.currentTarget, { switching: true }) })]
        : [button('New enrollment token', { iconName: 'key', onclick: (e) => enrollmentToken(e.currentTarget, { switching: false }) })]));
    }
    errorLine.replaceChildren(a.status === 'error' && a.error
      ? h('p', { class: 'alert alert-error' }, icon('alert'), h('span', {}, 'Agent reports: ', h('code', {}, a.error))) : '');
    facts.replaceChildren(...[
      fact('Status', statusBadge(a.status)),
      fact('Last seen', timeEl(a.last_seen, 'Never connected')),
      fact('Agent version', a.version ?? h('span', { class: 'muted' }, 'Unknown')),
      fact('Fleet', a.fleet_id ? h('a', { href: `#/agents?fleet=${a.fleet_id}` }, fleetName(a.fleet_id) ?? 'Fleet') : h('span', { class: 'muted' }, 'None')),
      fact('Policy profile', a.policy_profile ?? '—'),
      fact('Heartbeat', a.heartbeat_interval ? `every ${a.heartbeat_interval} s` : '—'),
      fact('Gateway URL', a.gateway_url ? h('code', {}, a.gateway_url) : h('span', { class: 'muted' }, 'Default')),
      fact('Identity', identityFact(a)),
      identityOf(a) === 'hmac' ? fact('Secret last used', timeEl(a.secret_last_used_at, 'Never')) : [],
      fact('Config version', `stored ${a.config_version ?? 0} · applied ${a.config_version_applied ?? '—'}`),
      fact('Config delivery', configDelivery(a.config_delivery)),
      fact('Created', h('span', { title: fmtDateTime(a.created_at) }, fmtDateTime(a.created_at))),
      fact('Agent ID', h('code', { class: 'break' }, a.id)),
    ].flat());
  }

  const editBtn = button('Edit', { iconName: 'edit', onclick: () => startEdit() });

  async function startEdit() {
    actionErr.hide();
    let policies;
    try {
      [{ fleets }, { policies }] = await Promise.all([api.fleets.list(), api.policies.list()]);
    } catch (e) {
      actionErr.show(e);
      return;
    }
    if (!ctx.isCurrent()) return;
    editing = true;
    editBtn.hidden = true;
    const stop = () => {
      editing = false;
      editBtn.hidden = false;
      overview.replaceChildren(facts);
      paint(agent);
      editBtn.focus();
    };
    overview.replaceChildren(agentEditForm({
      agent,
      fleets,
      policies,
      onCancel: stop,
      onSaved: (updated) => {
        agent = { ...agent, ...updated };
        toast(`Agent “${agent.name}” saved.`);
        stop();
      },
    }));
  }

  async function rotate(btn) {
    actionErr.hide();
    const ok = await confirmDialog({
      title: `Rotate the secret of “${agent.name}”?`,
      message: 'A new agent secret is made and shown once. The old one stops working at once and the agent’s sessions end, '
        + 'so the host must be given the new secret.',
      confirmLabel: 'Rotate secret',
      danger: true,
    });
    if (!ok) return;
    await busy(btn, async () => {
      try {
        const res = await api.agents.rotateSecret(agent.id);
        showRotatedSecret(agent, res.agent_secret);
        agent = await api.agents.get(agent.id);
        paint(agent);
      } catch (e) {
        actionErr.show(e);
      }
    });
  }

  /** The encryption secret, when this tab is unlocked and the agent has one (for the install command). */
  async function encryptionSecretIfUnlocked() {
    if (ctx.app.keyState() !== 'unlocked' || !agent.wrapped_secret) return null;
    try {
      return await unwrapSecret(await ctx.app.wrapKey(), ctx.app.session.user.id, agent.id, agent.wrapped_secret);
    } catch {
      return null;
    }
  }

  async function enrollmentToken(btn, { switching }) {
    actionErr.hide();
    const ok = await confirmDialog(switching ? {
      title: `Switch “${agent.name}” to Ed25519?`,
      message: 'Its agent secret is deleted and its sessions end now: the host is cut off until it enrolls with the '
        + 'one-time enrollment token shown next (give it to the host in place of OPENCLAW_FLEET_AGENT_SECRET and restart '
        + 'the agent). From then on the server keeps only the host’s public key, so a copy of its database can no longer '
        + 'impersonate the agent. This cannot be switched back.',
      confirmLabel: 'Switch to Ed25519',
      danger: true,
    } : {
      title: `New enrollment token for “${agent.name}”?`,
      message: 'A one-time token is made and shown once. At once the agent’s current key and any earlier token stop '
        + 'working and its sessions end: the host is offline until it enrolls with the new token (with its current key '
        + 'pair, or a new one if you delete its key file first).',
      confirmLabel: 'Make token',
      danger: true,
    });
    if (!ok) return;
    await busy(btn, async () => {
      try {
        const res = await api.agents.enrollmentToken(agent.id);
        const encryptionSecret = await encryptionSecretIfUnlocked();
        showEnrollmentToken(agent, res.enrollment_token, { encryptionSecret, switched: switching });
        agent = await api.agents.get(agent.id);
        paint(agent);
      } catch (e) {
        actionErr.show(e);
      }
    });
  }

  let deleting = false;
  async function remove(btn) {
    actionErr.hide();
    const ok = await confirmDialog({
      title: `Delete agent “${agent.name}”?`,
      message: 'Its sessions end now, its stored config and wrapped encryption secret are deleted, and the host can no longer connect. This cannot be undone.',
      confirmLabel: 'Delete agent',
      danger: true,
    });
    if (!ok) return;
    deleting = true;
    await busy(btn, async () => {
      try {
        await api.agents.remove(agent.id);
        toast(`Agent “${agent.name}” deleted.`);
        ctx.app.navigate('#/agents', { force: true });
      } catch (e) {
        deleting = false;
        actionErr.show(e);
      }
    });
  }

  const metrics = metricsSection(agent, ctx);
  const config = configSection(agent, ctx);
  const history = historySection(agent, ctx, { onRestored: () => config.reload() });
  const activity = activitySection(agent, ctx);
  paint(agent);

  view.append(
    h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' }, h('a', { href: '#/agents' }, 'Agents'), h('span', { 'aria-hidden': 'true' }, ' / ')),
    h('div', { class: 'page-header' }, h('div', { class: 'title-row' }, title, badge),
      h('div', { class: 'actions' },
        identityActions,
        button('Delete', { variant: 'ghost-danger', iconName: 'trash', onclick: (e) => remove(e.currentTarget) }))),
    actionErr, warning, errorLine,
    h('section', { class: 'card', 'aria-labelledby': 'overview-h' },
      h('div', { class: 'card-head' }, h('h2', { id: 'overview-h' }, 'Overview'), editBtn), overview),
    metrics.el,
    config.el,
    history.el,
    activity.el);

  const onAgent = (a) => {
    if (a.id !== agent.id) return;
    agent = { ...agent, ...a };
    paint(agent);
    metrics.update(a);
    config.update(a);
    history.update(a);
  };
  ctx.onCleanup(subscribe(onAgent, {
    onFleet: (f) => {
      fleets = [...fleets.filter((x) => x.id !== f.id), f];
      if (!editing) paint(agent);
    },
    onDeleted: (deleted) => {
      if (deleted !== agent.id || deleting) return;
      toast(`Agent “${agent.name}” was deleted.`);
      ctx.app.navigate('#/agents', { force: true });
    },
    // After a reconnect (or lost events): re-read; gone meanwhile means deleted.
    onResync: () => api.agents.get(agent.id).then(onAgent).catch((e) => {
      if (e.status !== 404 || !ctx.isCurrent()) return;
      toast(`Agent “${agent.name}” was deleted.`);
      ctx.app.navigate('#/agents', { force: true });
    }),
  }));
  await Promise.all([metrics.load(), config.render(), history.load(), activity.load()]);
}
