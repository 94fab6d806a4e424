// The benchmarks' A/B of two dashboards on one server: a page given the dashboard's own
// files (index.html, js/, css/) from a directory, e.g. main's web/ from `git archive`.

import { readFileSync } from 'node:fs';
import { extname, join } from 'node:path';

/** Serves the dashboard's own files to `page` from `dir` (DevTools Fetch domain, those paths only). */
export async function dashboardFrom(page, dir, url) {
  const cdp = await page.context().newCDPSession(page);
  const types = { '.js': 'text/javascript', '.css': 'text/css', '.html': 'text/html; charset=utf-8' };
  cdp.on('Fetch.requestPaused', ({ requestId, request }) => {
    const path = new URL(request.url).pathname;
    const file = join(dir, path === '/' ? 'index.html' : path.slice(1));
    cdp.send('Fetch.fulfillRequest', {
      requestId,
      responseCode: 200,
      responseHeaders: [{ name: 'Content-Type', value: types[extname(file)] }, { name: 'Cache-Control', value: 'no-store' }],
      body: readFileSync(file).toString('base64'),
    });
  });
  await cdp.send('Fetch.enable', { patterns: ['/', '/js/*', '/css/*'].map((p) => ({ urlPattern: `${url}${p}`, requestStage: 'Request' })) });
}

