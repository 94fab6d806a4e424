// A recording HTTP proxy for the MITM test: listens on 127.0.0.1:0, forwards every
// request unchanged (Host included, so the server's own-origin rule still holds) to
// one upstream server, streams answers back (server-sent events and long polls
// included), and, while recording is on, keeps every byte that crosses it in either
// direction: request lines, raw headers and bodies, status lines, raw headers and
// bodies. It sees exactly what a network observer between clients and server sees.

import { createServer, request as httpRequest } from 'node:http';

const headerText = (raw) => {
  let out = '';
  for (let i = 0; i < raw.length; i += 2) out += `${raw[i]}: ${raw[i + 1]}\r\n`;
  return `${out}\r\n`;
};

export async function startRecordingProxy(target) {
  const upstream = new URL(target);
  const chunks = [];
  const exchanges = [];
  let recording = false;
  const sockets = new Set();

  const server = createServer((req, res) => {
    const live = recording;
    const keep = (dir, data) => {
      if (recording) chunks.push({ dir, data: Buffer.from(data) });
    };
    const ex = { method: req.method, path: req.url, status: 0, request: [], response: [] };
    keep('request', `${req.method} ${req.url} HTTP/${req.httpVersion}\r\n${headerText(req.rawHeaders)}`);
    const up = httpRequest({
      host: upstream.hostname,
      port: upstream.port,
      method: req.method,
      path: req.url,
      headers: req.headers,
    }, (upRes) => {
      ex.status = upRes.statusCode;
      keep('response', `HTTP/${upRes.httpVersion} ${upRes.statusCode} ${upRes.statusMessage}\r\n${headerText(upRes.rawHeaders)}`);
      res.writeHead(upRes.statusCode, upRes.statusMessage, upRes.rawHeaders);
      res.flushHeaders();
      upRes.on('data', (c) => {
        keep('response', c);
        ex.response.push(c);
        res.write(c);
      });
      upRes.on('end', () => res.end());
    });
    up.on('error', () => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    req.on('data', (c) => {
      keep('request', c);
      ex.request.push(c);
      up.write(c);
    });
    req.on('end', () => up.end());
    res.on('close', () => {
      up.destroy();
      if (live) exchanges.push(ex);
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address();

  return {
    url: `http://127.0.0.1:${port}`,
    start() { recording = true; },
    stop() { recording = false; },
    /** Every recorded byte, both directions, in the order it crossed the proxy. */
    capture: () => Buffer.concat(chunks.map((c) => c.data)),
    /** Request/answer pairs that began while recording, with their bodies as text. */
    exchanges: () => exchanges.map((e) => ({
      method: e.method,
      path: e.path,
      status: e.status,
      request: Buffer.concat(e.request).toString('utf8'),
      response: Buffer.concat(e.response).toString('utf8'),
    })),
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}
