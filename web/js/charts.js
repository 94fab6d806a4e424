// Line charts as inline SVG built here (no chart library: the CSP allows
// same-origin scripts only, and the needs are small). Charts are drawn at the
// container's real pixel width so text stays legible on a phone, redrawn on
// resize, averaged into buckets a few pixels wide, and broken where the agent
// sent nothing (offline periods are gaps, not straight lines).

const NS = 'http://www.w3.org/2000/svg';
const HEIGHT = 150;
const PAD = { l: 44, r: 10, t: 10, b: 24 };

function s(tag, attrs = {}, text) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  if (text !== undefined) el.textContent = text;
  return el;
}

function niceMax(v) {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

function fmt(v, unit) {
  const digits = Math.abs(v) >= 100 ? 0 : Math.abs(v) >= 10 ? 1 : 2;
  return `${Number(v.toFixed(digits))}${unit === '%' ? ' %' : ` ${unit}`}`;
}

function bucketize(points, from, to, n) {
  const size = (to - from) / n;
  const sums = new Map();
  for (const [t, v] of points) {
    if (t < from || t > to || !Number.isFinite(v)) continue;
    const b = Math.min(n - 1, Math.floor((t - from) / size));
    const cur = sums.get(b) ?? { t: 0, v: 0, c: 0 };
    cur.t += t; cur.v += v; cur.c += 1;
    sums.set(b, cur);
  }
  return [...sums.entries()].sort((a, b) => a[0] - b[0]).map(([, x]) => [x.t / x.c, x.v / x.c]);
}

const clock = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const clockLong = new Intl.DateTimeFormat(undefined, { weekday: 'short', hour: '2-digit', minute: '2-digit' });
const calendar = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric' });
const calendarTime = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });

/**
 * Draws into `plot` (an element whose width is the chart's): points are
 * [unixSeconds, value]; `gap` is the silence (s) after which the line breaks.
 */
export function drawChart(plot, { title, unit, points, from, to, gap, fixedMax }) {
  const width = Math.max(240, Math.floor(plot.clientWidth || 600));
  const w = width - PAD.l - PAD.r;
  const hgt = HEIGHT - PAD.t - PAD.b;
  const data = bucketize(points, from, to, Math.max(10, Math.floor(w / 3)));
  const maxV = data.reduce((m, [, v]) => Math.max(m, v), 0);
  const top = fixedMax ?? niceMax(maxV * 1.1);
  const x = (t) => PAD.l + ((t - from) / (to - from)) * w;
  const y = (v) => PAD.t + hgt - (Math.min(v, top) / top) * hgt;

  const latest = points.length ? points[points.length - 1][1] : null;
  const label = data.length
    ? `${title}: latest ${fmt(latest, unit)}, highest ${fmt(maxV, unit)} in this period`
    : `${title}: no data in this period`;
  const svg = s('svg', { width, height: HEIGHT, viewBox: `0 0 ${width} ${HEIGHT}`, role: 'img', 'aria-label': label, class: 'chart-svg' });

  for (const frac of [0, 0.5, 1]) {
    const gy = PAD.t + hgt - frac * hgt;
    svg.append(s('line', { x1: PAD.l, x2: width - PAD.r, y1: gy, y2: gy, class: frac === 0 ? 'axis' : 'grid' }));
    svg.append(s('text', { x: PAD.l - 6, y: gy + 4, class: 'tick', 'text-anchor': 'end' }, fmt(top * frac, unit).replace(' ', '')));
  }
  const span = to - from;
  const axis = span > 3 * 86400 ? calendar : span > 6 * 3600 ? clockLong : clock;
  const tipTime = span > 3 * 86400 ? calendarTime : clock;
  const steps = width < 420 ? 2 : 3;
  for (let i = 0; i <= steps; i++) {
    const t = from + ((to - from) * i) / steps;
    const anchor = i === 0 ? 'start' : i === steps ? 'end' : 'middle';
    svg.append(s('text', { x: x(t), y: HEIGHT - 6, class: 'tick', 'text-anchor': anchor }, axis.format(new Date(t * 1000))));
  }

  if (!data.length) {
    svg.append(s('text', { x: PAD.l + w / 2, y: PAD.t + hgt / 2, class: 'empty-text', 'text-anchor': 'middle' }, 'No data in this period'));
    plot.replaceChildren(svg);
    return;
  }

  const segments = [];
  let seg = [];
  const bucketGap = Math.max(gap, ((to - from) / Math.max(10, Math.floor(w / 3))) * 2.5);
  for (const p of data) {
    if (seg.length && p[0] - seg[seg.length - 1][0] > bucketGap) { segments.push(seg); seg = []; }
    seg.push(p);
  }
  segments.push(seg);
  const base = PAD.t + hgt;
  for (const sg of segments) {
    const line = sg.map(([t, v], i) => `${i ? 'L' : 'M'}${x(t).toFixed(1)},${y(v).toFixed(1)}`).join('');
    if (sg.length === 1) {
      svg.append(s('circle', { cx: x(sg[0][0]), cy: y(sg[0][1]), r: 2.5, class: 'point' }));
      continue;
    }
    svg.append(s('path', { d: `${line}L${x(sg[sg.length - 1][0]).toFixed(1)},${base}L${x(sg[0][0]).toFixed(1)},${base}Z`, class: 'area' }));
    svg.append(s('path', { d: line, class: 'line' }));
  }

  const cursor = s('g', { class: 'cursor', visibility: 'hidden' });
  const vline = s('line', { y1: PAD.t, y2: base });
  const dot = s('circle', { r: 3.5 });
  const tipBg = s('rect', { rx: 4, height: 20, class: 'tip-bg' });
  const tip = s('text', { class: 'tip' });
  cursor.append(vline, dot, tipBg, tip);
  svg.append(cursor);
  const hit = s('rect', { x: PAD.l, y: PAD.t, width: w, height: hgt, class: 'hit' });
  svg.append(hit);
  hit.addEventListener('pointermove', (e) => {
    const box = svg.getBoundingClientRect();
    const t = from + ((e.clientX - box.left - PAD.l) / w) * (to - from);
    let best = data[0];
    for (const p of data) if (Math.abs(p[0] - t) < Math.abs(best[0] - t)) best = p;
    const px = x(best[0]);
    const py = y(best[1]);
    vline.setAttribute('x1', px); vline.setAttribute('x2', px);
    dot.setAttribute('cx', px); dot.setAttribute('cy', py);
    tip.textContent = `${fmt(best[1], unit)} · ${tipTime.format(new Date(best[0] * 1000))}`;
    const tw = tip.textContent.length * 6.6 + 12;
    const tx = Math.min(Math.max(px - tw / 2, PAD.l), width - PAD.r - tw);
    tipBg.setAttribute('x', tx); tipBg.setAttribute('y', PAD.t); tipBg.setAttribute('width', tw);
    tip.setAttribute('x', tx + 6); tip.setAttribute('y', PAD.t + 14);
    cursor.setAttribute('visibility', 'visible');
  });
  hit.addEventListener('pointerleave', () => cursor.setAttribute('visibility', 'hidden'));
  plot.replaceChildren(svg);
}
