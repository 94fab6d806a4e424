// Dialogs that show an agent's secrets: the AGENT_SECRET of an HMAC agent or
// the enrollment token of an Ed25519 agent exactly once (after creation,
// rotation or a new token), the ENCRYPTION_SECRET (again later while
// unlocked), and the one-paste install command. Closing a dialog removes it from the
// page, so a shown secret does not linger in the DOM.

import { h, field, button, copyButton, secretField, callout } from './ui.js';
import { openDialog } from './dialog.js';
import { fleetServerUrl } from './server-url.js';

export const ONCE_WARNING = 'This secret is shown only now. Store it on the host; it cannot be shown again (rotate to get a new one).';
export const TOKEN_WARNING = 'This token is shown only now. It works once, within 24 hours: the agent makes its own key pair on the host and enrolls the public key with it. Afterwards the server keeps only that public key (issue a new token on the agent page if this one is lost or expires).';

function shellQuote(s) {
  return `'${String(s).replace(/'/g, "'\\''")}'`;
}

function settingsOf({ agentId, agentSecret, enrollmentToken, encryptionSecret }) {
  return [
    ['OPENCLAW_FLEET_URL', fleetServerUrl()],
    ['OPENCLAW_FLEET_AGENT_ID', agentId],
    ['OPENCLAW_FLEET_AGENT_SECRET', agentSecret],
    ['OPENCLAW_FLEET_ENROLLMENT_TOKEN', enrollmentToken],
    ['OPENCLAW_FLEET_ENCRYPTION_SECRET', encryptionSecret],
  ].filter(([, v]) => v);
}

/**
 * The one paste that brings a host up: fetch this server's /install.sh, which downloads the
 * agent from this server, checks its SHA-256, and installs it as a systemd service. The
 * settings go to the installer's standard input (a here-document), never into its arguments,
 * so no secret shows in `ps`; the leading space keeps the paste out of bash's history where
 * HISTCONTROL ignores space-led commands (Debian's default).
 */
export function installCommand(values) {
  const lines = settingsOf(values).map(([k, v]) => `${k}=${shellQuote(v)}`);
  return [
    ` f="$(mktemp)" && curl -fsSo "$f" ${shellQuote(`${fleetServerUrl()}/install.sh`)} && sudo sh "$f" <<'EOF'`,
    ...lines,
    'EOF',
    'rm -f "$f"',
  ].join('\n');
}

/** Environment for a host that already has the agent, then the command. */
export function runCommand(values) {
  return `${settingsOf(values).map(([k, v]) => `${k}=${shellQuote(v)} \\`).join('\n')}\nopenclaw-fleet-agent run`;
}

function snippetField(label, text, hint = 'Paste it into a shell on the host. Prefer a shell that does not keep history, or keep the values in an env file readable only by the agent’s user (mode 0600).') {
  const ta = h('textarea', { class: 'mono snippet', readonly: true, rows: String(text.split('\n').length), spellcheck: 'false', wrap: 'off' });
  ta.value = text;
  const f = field({ label, input: ta, hint });
  f.insertBefore(h('div', { class: 'snippet-tools' }, copyButton(() => ta.value, 'Copy command', `Copy ${label.toLowerCase()}`)), ta.nextSibling);
  return f;
}

function doneButton() {
  return button('Done', { variant: 'primary' });
}

const INSTALL_HINT = 'Paste it into a shell on the host (Linux with systemd, as a user who may sudo). It downloads the agent from this server, checks its SHA-256, writes the settings to /etc/openclaw-fleet/agent.env (mode 0600) and starts the service. The secrets go to the installer on standard input, never on its command line.';

/** The one-time credential of a new agent: an HMAC AGENT_SECRET or an Ed25519 enrollment token. */
function credentialFields({ agentSecret, enrollmentToken }) {
  return enrollmentToken
    ? [callout('warn', 'Copy the enrollment token now', h('p', {}, TOKEN_WARNING)),
      secretField('Enrollment token', enrollmentToken)]
    : [callout('warn', 'Copy the agent secret now', h('p', {}, ONCE_WARNING)),
      secretField('Agent secret', agentSecret)];
}

/** After creating an agent: its AGENT_SECRET or enrollment token once, and the install command. */
export function showCreatedAgent({ agent, agentSecret, enrollmentToken, encryptionSecret, encryptionNote }) {
  const done = doneButton();
  const { close } = openDialog({
    title: `Agent “${agent.name}” created`,
    wide: true,
    sensitive: !!encryptionSecret,
    body: [
      ...credentialFields({ agentSecret, enrollmentToken }),
      encryptionSecret ? secretField('Encryption secret', encryptionSecret,
        'Encrypts this agent’s config. You can show it again later on the agent page while unlocked.') : null,
      snippetField('Install command', installCommand({ agentId: agent.id, agentSecret, enrollmentToken, encryptionSecret }),
        INSTALL_HINT),
      encryptionNote ? callout('info', null, h('p', {}, encryptionNote)) : null,
    ],
    actions: [done],
  });
  done.addEventListener('click', () => close());
}

/**
 * A new enrollment token (after switching an HMAC agent to Ed25519, or re-issuing one), once,
 * with the install command. `encryptionSecret` (unwrapped while unlocked) goes into the command,
 * which rewrites the host's settings file; without it the host's own line must be kept.
 */
export function showEnrollmentToken(agent, enrollmentToken, { encryptionSecret = null, switched = false } = {}) {
  const done = doneButton();
  const { close } = openDialog({
    title: switched ? `“${agent.name}” switched to Ed25519` : `New enrollment token for “${agent.name}”`,
    wide: true,
    sensitive: !!encryptionSecret,
    body: [
      ...credentialFields({ enrollmentToken }),
      snippetField('Install command', installCommand({ agentId: agent.id, enrollmentToken, encryptionSecret }), INSTALL_HINT),
      h('p', { class: 'muted' }, encryptionSecret ? '' : 'This command lacks the encryption secret (unlock to include it). ',
        switched
          ? 'On a host that already runs the agent you can instead replace OPENCLAW_FLEET_AGENT_SECRET with OPENCLAW_FLEET_ENROLLMENT_TOKEN in /etc/openclaw-fleet/agent.env and restart the agent.'
          : 'On a host that already runs the agent you can instead set OPENCLAW_FLEET_ENROLLMENT_TOKEN in /etc/openclaw-fleet/agent.env and restart the agent: it enrolls its key pair again. To replace the key pair (say it may have leaked), first delete .fleet-agent-identity-key in its state directory.'),
    ],
    actions: [done],
  });
  done.addEventListener('click', () => close());
}

/** After a rotation: the new AGENT_SECRET once. */
export function showRotatedSecret(agent, agentSecret) {
  const done = doneButton();
  const { close } = openDialog({
    title: `New secret for “${agent.name}”`,
    wide: true,
    body: [
      callout('warn', 'Copy the new agent secret now', h('p', {}, ONCE_WARNING)),
      secretField('Agent secret', agentSecret),
      h('p', { class: 'muted' }, 'The old secret no longer works and the agent’s sessions were ended. '
        + 'Set OPENCLAW_FLEET_AGENT_SECRET on the host to the new value and restart the agent.'),
    ],
    actions: [done],
  });
  done.addEventListener('click', () => close());
}

/** The ENCRYPTION_SECRET, unwrapped in this tab (only while unlocked). */
export function showEncryptionSecret(agent, encryptionSecret, { fresh = false } = {}) {
  const done = doneButton();
  const { close } = openDialog({
    title: fresh ? `Encryption set up for “${agent.name}”` : `Encryption secret of “${agent.name}”`,
    wide: true,
    sensitive: true,
    body: [
      fresh ? h('p', {}, 'Give this secret to the agent: set it on the host, then restart the agent.') : null,
      secretField('Encryption secret', encryptionSecret),
      snippetField('Run command', runCommand({ agentId: agent.id, agentSecret: null, encryptionSecret })),
      h('p', { class: 'muted' }, 'The command above lacks the agent secret or enrollment token, which is shown only once. '
        + 'On a host that already runs the agent, add only OPENCLAW_FLEET_ENCRYPTION_SECRET.'),
    ],
    actions: [done],
  });
  done.addEventListener('click', () => close());
}
