// The fleet server's URL as agents and the printed recovery sheet must name it. Served
// by the server, that is this page's origin. Served by the operator CLI's local
// dashboard (`openclaw-fleet-ctl dashboard`, on 127.0.0.1), the CLI answers
// /local-dashboard.json itself with the server it forwards to; the server has no such
// file (404), so the page's origin stays.

let serverUrl = globalThis.location?.origin ?? '';

export async function loadServerUrl() {
  try {
    const res = await fetch('/local-dashboard.json', { cache: 'no-store', credentials: 'omit' });
    if (!res.ok) return;
    const data = await res.json();
    const url = new URL(data?.server);
    if (url.protocol === 'https:' || url.protocol === 'http:') serverUrl = url.href.replace(/\/$/, '');
  } catch {
    // Not the local dashboard, or no answer: keep the page's origin.
  }
}

/** The base URL agents use, e.g. https://fleet.example.com. */
export function fleetServerUrl() {
  return serverUrl;
}
