// The agent page's charts: CPU, memory and gateway latency for the last hour,
// day or 30 days, from GET /api/agents/{id}/metrics?since= (which reads the
// stored resolution that fits the window: raw samples, 5-minute or hourly
// buckets), extended live by the heartbeats that arrive on the event stream.

import * as api from '../api.js';
import { drawChart } from '../charts.js';
import { h, errorBox, fmtNum } from '../ui.js';

const PERIODS = [[3600, 'Last hour'], [86400, 'Last day'], [30 * 86400, 'Last 30 days']];
const SERIES = [
  { key: 'cpu_usage', title: 'CPU', unit: '%', fixedMax: 100 },
  { key: 'memory_usage', title: 'Memory', unit: '%', fixedMax: 100 },
  { key: 'latency_ms', title: 'Gateway latency', unit: 'ms' },
];

export function metricsSection(agent, ctx) {
  let period = PERIODS[0][0];
  let points = [];
  let interval = agent.heartbeat_interval || 30;
  // The width of the fetched points (s): a line breaks only after a longer silence.
  let bucket = 0;
  const err = errorBox();
  const figures = SERIES.map((sr) => {
    const latest = h('span', { class: 'chart-latest' });
    const plot = h('div', { class: 'chart-plot' });
    return { ...sr, latest, plot, el: h('figure', { class: 'chart' }, h('figcaption', {}, h('span', {}, sr.title), latest), plot) };
  });
  const toggles = PERIODS.map(([secs, label]) => h('button', {
    type: 'button', class: 'seg', 'aria-pressed': String(secs === period),
    onclick: () => {
      period = secs;
      for (const [i, b] of toggles.entries()) b.setAttribute('aria-pressed', String(PERIODS[i][0] === period));
      load();
    },
  }, label));

  function draw() {
    const to = Date.now() / 1000;
    const from = to - period;
    for (const f of figures) {
      const pts = points.filter((p) => typeof p[f.key] === 'number').map((p) => [p.ts, p[f.key]]);
      const last = pts.length ? pts[pts.length - 1][1] : null;
      f.latest.textContent = last === null ? '' : `${fmtNum(last)} ${f.unit}`;
      drawChart(f.plot, { title: f.title, unit: f.unit, points: pts, from, to, gap: Math.max(interval * 3, bucket * 2), fixedMax: f.fixedMax });
    }
  }

  async function load() {
    err.hide();
    try {
      const since = Math.floor(Date.now() / 1000) - period;
      const res = await api.agents.metrics(agent.id, since);
      const fetched = (res.points ?? []).slice().sort((a, b) => a.ts - b.ts);
      bucket = res.bucket ?? 0;
      const newest = fetched.length ? fetched[fetched.length - 1].ts : 0;
      // Heartbeats that arrived live while the request was in flight stay.
      points = [...fetched, ...points.filter((p) => p.ts > newest)];
    } catch (e) {
      err.show(e);
      points = [];
    }
    if (ctx.isCurrent()) draw();
  }

  const el = h('section', { class: 'card', 'aria-labelledby': 'metrics-h' },
    h('div', { class: 'card-head' }, h('h2', { id: 'metrics-h' }, 'Metrics'),
      h('div', { class: 'segmented', role: 'group', 'aria-label': 'Period' }, ...toggles)),
    err,
    h('div', { class: 'charts' }, ...figures.map((f) => f.el)));

  let frame = 0;
  const ro = new ResizeObserver(() => {
    cancelAnimationFrame(frame);
    frame = requestAnimationFrame(draw);
  });
  ro.observe(el);
  const tick = setInterval(draw, 60000);
  ctx.onCleanup(() => { ro.disconnect(); clearInterval(tick); cancelAnimationFrame(frame); });

  return {
    el,
    load,
    /** A live Agent update: its latest metrics become a new point. */
    update(a) {
      interval = a.heartbeat_interval || interval;
      if (!a.last_seen || !a.metrics) return;
      const lastTs = points.length ? points[points.length - 1].ts : 0;
      if (a.last_seen < lastTs) return;
      // Times are whole seconds: a second heartbeat in the same second replaces the first.
      if (a.last_seen === lastTs) points.pop();
      points.push({ ts: a.last_seen, status: a.status, ...a.metrics });
      draw();
    },
  };
}
