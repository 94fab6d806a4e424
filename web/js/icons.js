// A handful of line icons drawn as inline SVG (no icon font, no external
// sprite: the CSP allows only same-origin resources and no inline styles).

const NS = 'http://www.w3.org/2000/svg';

const PATHS = {
  lock: ['M6 11h12v10H6z', 'M8 11V7a4 4 0 0 1 8 0v4'],
  unlock: ['M6 11h12v10H6z', 'M8 11V7a4 4 0 0 1 7.6-1.7'],
  copy: ['M9 9h11v11H9z', 'M5 15H4V4h11v1'],
  eye: ['M2 12s3.6-7 10-7 10 7 10 7-3.6 7-10 7S2 12 2 12z', 'M12 9a3 3 0 1 0 0 6 3 3 0 0 0 0-6z'],
  eyeOff: ['M3 3l18 18', 'M10.6 5.1A10 10 0 0 1 12 5c6.4 0 10 7 10 7a17 17 0 0 1-3 3.9',
    'M6.6 6.6A17 17 0 0 0 2 12s3.6 7 10 7a9.7 9.7 0 0 0 5.4-1.6', 'M9.9 9.9a3 3 0 0 0 4.2 4.2'],
  plus: ['M12 5v14', 'M5 12h14'],
  edit: ['M4 20h4L19 9l-4-4L4 16z', 'M13.5 6.5l4 4'],
  trash: ['M4 7h16', 'M10 11v6', 'M14 11v6', 'M6 7l1 13h10l1-13', 'M9 7V4h6v3'],
  rotate: ['M20 11a8 8 0 1 0-2.3 5.7', 'M20 4v7h-7'],
  alert: ['M12 3l10 18H2z', 'M12 10v5', 'M12 18v.01'],
  info: ['M12 3a9 9 0 1 0 0 18 9 9 0 0 0 0-18z', 'M12 11v6', 'M12 7.5v.01'],
  key: ['M14.5 3a6.5 6.5 0 1 1-5.9 9.2L3 17.8V21h3.2v-2h2v-2h2l1.2-1.2', 'M16.5 7.5v.01'],
  print: ['M6 9V3h12v6', 'M6 18H4v-8h16v8h-2', 'M6 14h12v7H6z'],
  server: ['M4 4h16v7H4z', 'M4 13h16v7H4z', 'M8 7.5v.01', 'M8 16.5v.01'],
  logout: ['M15 4h4v16h-4', 'M10 8l-4 4 4 4', 'M6 12h10'],
  shield: ['M12 3l8 3v6c0 5-3.5 8-8 9-4.5-1-8-4-8-9V6z'],
};

export function icon(name, cls = 'icon') {
  const svg = document.createElementNS(NS, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('class', cls);
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('focusable', 'false');
  for (const d of PATHS[name] ?? []) {
    const p = document.createElementNS(NS, 'path');
    p.setAttribute('d', d);
    svg.append(p);
  }
  return svg;
}

/** The product mark: a simple claw-like fan of three strokes in a rounded square. */
export function logo() {
  const svg = document.createElementNS(NS, 'svg');
  svg.setAttribute('viewBox', '0 0 32 32');
  svg.setAttribute('class', 'logo');
  svg.setAttribute('aria-hidden', 'true');
  const rect = document.createElementNS(NS, 'rect');
  for (const [k, v] of Object.entries({ x: 1, y: 1, width: 30, height: 30, rx: 8, class: 'logo-bg' })) rect.setAttribute(k, v);
  svg.append(rect);
  for (const d of ['M10 23c0-6 1-10 4-14', 'M16 23c0-6 .5-10 2-14', 'M22 23c0-5-.5-8-2-11']) {
    const p = document.createElementNS(NS, 'path');
    p.setAttribute('d', d);
    p.setAttribute('class', 'logo-fg');
    svg.append(p);
  }
  return svg;
}
