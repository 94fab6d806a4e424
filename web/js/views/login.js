// Sign-in, and account creation: the first account while the server has none
// (GET /api/auth/status has_users=false), or any account while registration
// is open. Creating an account signs in right away.

import * as api from '../api.js';
import { h, field, button, busy, errorBox } from '../ui.js';
import { logo } from '../icons.js';

const MIN_PASSWORD = 12;

function authShell(title, intro, form, footer) {
  return h('div', { class: 'auth' },
    h('div', { class: 'auth-brand' }, logo(), h('span', {}, 'OpenClaw Fleet')),
    h('section', { class: 'card auth-card' },
      h('h1', { tabindex: '-1' }, title),
      intro ? h('p', { class: 'muted' }, intro) : null,
      form),
    footer ? h('p', { class: 'auth-footer' }, footer) : null);
}

function input(type, autocomplete, extra = {}) {
  return h('input', { type, autocomplete, required: true, spellcheck: 'false', autocapitalize: 'off', ...extra });
}

export async function renderLogin(view, ctx) {
  const status = await api.auth.status().catch(() => null);
  if (status && !status.has_users) return ctx.app.navigate('#/setup');
  const email = input('email', 'username');
  const password = input('password', 'current-password');
  const submit = button('Sign in', { variant: 'primary', type: 'submit' });
  const err = errorBox();
  const form = h('form', { class: 'stack', novalidate: true },
    field({ label: 'Email', input: email }),
    field({ label: 'Password', input: password }),
    err, submit);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    err.hide();
    if (!email.value.trim() || !password.value) return err.showText('Enter your email and password.');
    busy(submit, async () => {
      try {
        const res = await api.auth.login(email.value.trim(), password.value);
        password.value = '';
        await ctx.app.enter(res.user, ctx.query.get('next'));
      } catch (e2) {
        err.show(e2.code === 'invalid_credentials'
          ? { code: e2.code, message: 'The email or password is not right.' } : e2);
        password.select();
      }
    }, 'Signing in…');
  });
  const footer = status?.registration_open ? ['No account yet? ', h('a', { href: '#/setup' }, 'Create one')] : null;
  view.append(authShell('Sign in', null, form, footer));
  email.focus();
}

export async function renderFirstAccount(view, ctx) {
  const status = await api.auth.status();
  const first = !status.has_users;
  if (!first && !status.registration_open) return ctx.app.navigate('#/login');
  ctx.setTitle(first ? 'Create the first account' : 'Create an account');
  const email = input('email', 'username');
  const password = input('password', 'new-password', { minlength: MIN_PASSWORD });
  const confirm = input('password', 'new-password', { minlength: MIN_PASSWORD });
  const pwField = field({ label: 'Password', input: password, hint: `At least ${MIN_PASSWORD} characters.` });
  const confirmField = field({ label: 'Confirm password', input: confirm });
  const submit = button(first ? 'Create account and sign in' : 'Create account', { variant: 'primary', type: 'submit' });
  const err = errorBox();
  const form = h('form', { class: 'stack', novalidate: true },
    field({ label: 'Email', input: email }), pwField, confirmField, err, submit);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    err.hide();
    pwField.setError('');
    confirmField.setError('');
    if (!email.value.trim()) return err.showText('Enter an email address.');
    if ([...password.value].length < MIN_PASSWORD) {
      pwField.setError(`Use at least ${MIN_PASSWORD} characters.`);
      return password.focus();
    }
    if (password.value !== confirm.value) {
      confirmField.setError('The two passwords differ.');
      return confirm.focus();
    }
    busy(submit, async () => {
      try {
        await api.auth.register(email.value.trim(), password.value);
        const res = await api.auth.login(email.value.trim(), password.value);
        password.value = '';
        confirm.value = '';
        await ctx.app.enter(res.user, null);
      } catch (e2) {
        err.show(e2);
      }
    }, 'Creating…');
  });
  const intro = first
    ? 'This server has no account yet. The account you create now owns this installation.'
    : 'Create an account on this server.';
  view.append(authShell(first ? 'Create the first account' : 'Create an account', intro, form,
    first ? null : ['Already have an account? ', h('a', { href: '#/login' }, 'Sign in')]));
  email.focus();
}
