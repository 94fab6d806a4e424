// Fleets: list, create, rename in place, and delete with confirmation (the
// server refuses to delete a fleet that still holds agents, and says so). The
// list follows live events: fleets created or renamed elsewhere, agents moved,
// and re-reads after the live stream comes back from a drop.

import * as api from '../api.js';
import { subscribe } from '../live.js';
import { h, field, button, busy, errorBox, toast, pageHeader, timeEl } from '../ui.js';
import { confirmDialog } from '../dialog.js';

export async function renderFleets(view, ctx) {
  const name = h('input', { type: 'text', maxlength: 100, required: true, autocomplete: 'off' });
  const nameField = field({ label: 'New fleet name', input: name });
  const create = button('Create fleet', { variant: 'primary', type: 'submit', iconName: 'plus' });
  const createErr = errorBox();
  const form = h('form', { class: 'inline-form', novalidate: true }, nameField, create);
  const listErr = errorBox();
  const list = h('div', { class: 'card flush' });
  let renaming = null;

  async function load() {
    const { fleets } = await api.fleets.list();
    if (!ctx.isCurrent()) return;
    list.replaceChildren(fleets.length ? table(fleets) : h('div', { class: 'empty' },
      h('p', { class: 'empty-title' }, 'No fleets yet'),
      h('p', { class: 'muted' }, 'Fleets group agents, for example by site or customer. Create one above.')));
  }

  function table(fleets) {
    return h('table', { class: 'table' },
      h('caption', { class: 'sr-only' }, 'Fleets'),
      h('thead', {}, h('tr', {},
        h('th', { scope: 'col' }, 'Name'), h('th', { scope: 'col', class: 'num' }, 'Agents'),
        h('th', { scope: 'col' }, 'Created'), h('th', { scope: 'col' }, h('span', { class: 'sr-only' }, 'Actions')))),
      h('tbody', {}, ...fleets.map((f) => {
        const nameCell = h('th', { scope: 'row', 'data-label': 'Name' }, h('a', { href: `#/agents?fleet=${encodeURIComponent(f.id)}` }, f.name));
        const rename = button('Rename', {
          variant: 'ghost', iconName: 'edit', 'aria-label': `Rename fleet ${f.name}`,
          onclick: () => startRename(f, nameCell, rename),
        });
        return h('tr', { dataset: { id: f.id } },
          nameCell,
          h('td', { 'data-label': 'Agents', class: 'num' }, String(f.agent_count ?? 0)),
          h('td', { 'data-label': 'Created' }, timeEl(f.created_at)),
          h('td', { class: 'row-actions' }, rename, button('Delete', {
            variant: 'ghost-danger', iconName: 'trash', 'aria-label': `Delete fleet ${f.name}`,
            onclick: (e) => remove(f, e.currentTarget),
          })));
      })));
  }

  function startRename(fleet, cell, opener) {
    listErr.hide();
    const input = h('input', { type: 'text', maxlength: 100, required: true, autocomplete: 'off', value: fleet.name });
    const nameField = field({ label: `New name for fleet ${fleet.name}`, input });
    const save = button('Save', { variant: 'primary', type: 'submit' });
    const before = [...cell.childNodes];
    const done = () => {
      renaming = null;
      cell.replaceChildren(...before);
      opener.hidden = false;
    };
    const cancel = button('Cancel', { onclick: () => { done(); opener.focus(); } });
    const form = h('form', { class: 'inline-form rename-form', novalidate: true }, nameField, save, cancel);
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      nameField.setError('');
      const value = input.value.trim();
      if (!value) {
        nameField.setError('Enter a name.');
        return input.focus();
      }
      if (value === fleet.name) return done();
      busy(save, async () => {
        try {
          await api.fleets.rename(fleet.id, value);
          toast(`Fleet “${fleet.name}” renamed to “${value}”.`);
          renaming = null;
          await load();
        } catch (e2) {
          nameField.setError(e2.code === 'conflict' ? `A fleet named “${value}” already exists.` : e2.message);
          input.focus();
        }
      }, 'Saving…');
    });
    input.addEventListener('keydown', (e) => { if (e.key === 'Escape') { e.preventDefault(); done(); opener.focus(); } });
    renaming = fleet.id;
    opener.hidden = true;
    cell.replaceChildren(form);
    input.focus();
    input.select();
  }

  async function remove(fleet, btn) {
    listErr.hide();
    const ok = await confirmDialog({
      title: `Delete fleet “${fleet.name}”?`,
      message: fleet.agent_count
        ? `It still holds ${fleet.agent_count} agent${fleet.agent_count === 1 ? '' : 's'}: move or delete them first, or the server will refuse.`
        : 'The fleet is empty. This cannot be undone.',
      confirmLabel: 'Delete fleet',
      danger: true,
    });
    if (!ok) return;
    await busy(btn, async () => {
      try {
        await api.fleets.remove(fleet.id);
        toast(`Fleet “${fleet.name}” deleted.`);
        await load();
      } catch (e) {
        listErr.show(e.code === 'conflict' ? { code: e.code, message: `“${fleet.name}” still holds agents. Delete or move them first.` } : e);
      }
    });
  }

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    createErr.hide();
    nameField.setError('');
    const value = name.value.trim();
    if (!value) {
      nameField.setError('Enter a name.');
      return name.focus();
    }
    busy(create, async () => {
      try {
        await api.fleets.create(value);
        name.value = '';
        toast(`Fleet “${value}” created.`);
        await load();
      } catch (e2) {
        createErr.show(e2.code === 'conflict' ? { code: e2.code, message: `A fleet named “${value}” already exists.` } : e2);
      }
    });
  });

  let reloadTimer = null;
  const scheduleReload = () => {
    clearTimeout(reloadTimer);
    reloadTimer = setTimeout(() => { if (!renaming) load().catch((e) => listErr.show(e)); }, 500);
  };
  ctx.onCleanup(() => clearTimeout(reloadTimer));
  ctx.onCleanup(subscribe(() => {}, {
    onFleet: scheduleReload,
    onFleetDeleted: scheduleReload,
    onDeleted: scheduleReload,
    onResync: scheduleReload,
  }));

  view.append(
    pageHeader('Fleets'),
    h('section', { class: 'card' }, form, createErr),
    listErr,
    list);
  await load();
}
