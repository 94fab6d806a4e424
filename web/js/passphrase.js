// Master-key passphrase helpers: a rough strength hint (a nudge, not a
// guarantee) and the printable recovery sheet, which carries the date, the
// account and blank lines to write the key on, never the key itself.

import { h, clear } from './ui.js';
import { MIN_PASSPHRASE_LENGTH } from './crypto.js';
import { fleetServerUrl } from './server-url.js';

export { MIN_PASSPHRASE_LENGTH };

const COMMON = ['password', 'passwort', 'qwerty', 'letmein', 'welcome', 'admin', 'openclaw', 'fleet',
  'secret', 'dragon', 'monkey', 'iloveyou', 'master', 'abc123', '123456'];
const SEQUENCES = ['abcdefghijklmnopqrstuvwxyz', 'qwertyuiopasdfghjklzxcvbnm', '01234567890'];

function hasRun(p) {
  const s = p.toLowerCase();
  for (const seq of SEQUENCES) {
    for (let i = 0; i + 4 <= seq.length; i++) if (s.includes(seq.slice(i, i + 4))) return true;
  }
  return /(.)\1\1/.test(s);
}

/** {score 0..4, label, hint}: an estimate of guessing resistance in bits. */
export function strength(p) {
  const chars = [...p.normalize('NFC')];
  const n = chars.length;
  if (n === 0) return { score: 0, label: '', hint: `At least ${MIN_PASSPHRASE_LENGTH} characters. Five or more random words work well.` };
  if (n < MIN_PASSPHRASE_LENGTH) {
    const left = MIN_PASSPHRASE_LENGTH - n;
    return { score: 0, label: 'Too short', hint: `${left} more character${left === 1 ? '' : 's'} needed.` };
  }
  let pool = 0;
  if (/[a-z]/.test(p)) pool += 26;
  if (/[A-Z]/.test(p)) pool += 26;
  if (/[0-9]/.test(p)) pool += 10;
  if (/[^A-Za-z0-9\s]/.test(p)) pool += 33;
  if (/\s/.test(p)) pool += 1;
  let bits = n * Math.log2(Math.max(pool, 2));
  const unique = new Set(chars).size;
  if (unique < n / 2) bits *= 0.6;
  if (hasRun(p)) bits *= 0.75;
  const lower = p.toLowerCase();
  if (COMMON.some((w) => lower.includes(w))) bits *= 0.6;
  const words = p.split(/[\s\-_.,]+/).filter((w) => w.length >= 3);
  // Words from a dictionary are far easier to guess than their letters suggest.
  if (words.length >= 2 && /^[A-Za-z]+(?:[\s\-_.,]+[A-Za-z]+)+$/.test(p.trim())) bits = Math.min(bits, words.length * 12.5);
  if (bits < 45) return { score: 1, label: 'Weak', hint: 'Easy to guess: add more words or characters.' };
  if (bits < 60) return { score: 2, label: 'Fair', hint: 'Each extra random word adds a lot.' };
  if (bits < 80) return { score: 3, label: 'Good', hint: 'Longer is still better.' };
  return { score: 4, label: 'Strong', hint: 'Hard to guess.' };
}

/** A meter element that follows an input; returns the element. */
export function strengthMeter(input) {
  const bar = h('span', { class: 'meter-bar' });
  const label = h('span', { class: 'meter-label' });
  const hint = h('span', { class: 'meter-hint' });
  const el = h('div', { class: 'meter', 'aria-live': 'polite' },
    h('span', { class: 'meter-track', 'aria-hidden': 'true' }, bar), h('p', {}, label, ' ', hint));
  const update = () => {
    const s = strength(input.value);
    bar.style.width = `${(s.score / 4) * 100}%`;
    el.dataset.score = String(s.score);
    label.textContent = s.label ? `${s.label}.` : '';
    hint.textContent = s.hint;
  };
  input.addEventListener('input', update);
  update();
  return el;
}

/** Fills the print-only sheet and opens the browser's print dialog. */
export function printRecoverySheet(email) {
  const sheet = document.getElementById('print-sheet');
  const date = new Intl.DateTimeFormat(undefined, { dateStyle: 'long' }).format(new Date());
  clear(sheet).append(
    h('h1', {}, 'OpenClaw Fleet — master key recovery sheet'),
    h('dl', {},
      h('dt', {}, 'Server'), h('dd', {}, fleetServerUrl()),
      h('dt', {}, 'Account'), h('dd', {}, email),
      h('dt', {}, 'Date'), h('dd', {}, date)),
    h('p', {}, 'Write your master key passphrase below by hand, exactly as you type it (letter case and spaces matter).'),
    h('div', { class: 'write-lines' }, ...Array.from({ length: 5 }, () => h('div', { class: 'write-line' }))),
    h('p', { class: 'sheet-warning' }, 'If you lose this key, every stored config is lost. The server cannot recover it.'),
    h('p', {}, 'Keep this sheet somewhere safe and private, away from the computer. Anyone who holds it and can sign in to your account can read your configs.'),
  );
  document.body.classList.add('printing-sheet');
  const done = () => {
    document.body.classList.remove('printing-sheet');
    clear(sheet);
    window.removeEventListener('afterprint', done);
  };
  window.addEventListener('afterprint', done);
  window.print();
}
