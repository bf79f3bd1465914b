'use strict';
// A stand-in for a server the keys must not reach (or a hostile Endpoint): an HTTP server that
// records every request it gets, headers included, and answers from a table of canned replies.
const http = require('http');

/** An Alpaca account as GET /v2/account answers it, more than the dialog may show. */
const ACCOUNT = {
  id: '11111111-2222-3333-4444-555555555555',
  account_number: 'PA3SECRETNUM',
  status: 'ACTIVE',
  currency: 'USD',
  cash: '1234.56',
  equity: '1234.56',
  last_equity: '1234.56',
  buying_power: '2469.12',
  portfolio_value: '1234.56',
  created_at: '2024-01-02T03:04:05Z',
};

/**
 * Starts a server on `host` (default 127.0.0.1) and a free port. `replies`: { 'GET /v2/account':
 * { status, headers, body } }, anything else 404. Resolves with { url, requests, stop() }.
 */
async function fakeBroker(replies = {}, host = '127.0.0.1') {
  const requests = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      requests.push({ method: req.method, url: req.url, headers: req.headers, body });
      const reply = replies[`${req.method} ${req.url.split('?')[0]}`] || { status: 404, body: { message: 'not found' } };
      const text = typeof reply.body === 'string' ? reply.body : JSON.stringify(reply.body);
      res.writeHead(reply.status, { 'content-type': typeof reply.body === 'string' ? 'text/html' : 'application/json', ...reply.headers });
      res.end(text);
    });
  });
  await new Promise((resolve) => server.listen(0, host, resolve));
  const { port } = server.address();
  return {
    url: `http://${host}:${port}`,
    requests,
    stop: () => new Promise((resolve) => {
      server.closeAllConnections();
      server.close(resolve);
    }),
  };
}

/** The machine's first IPv4 address that is not loopback, or undefined. */
function lanAddress() {
  for (const list of Object.values(require('os').networkInterfaces())) {
    for (const a of list || []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return undefined;
}

module.exports = { fakeBroker, lanAddress, ACCOUNT };
