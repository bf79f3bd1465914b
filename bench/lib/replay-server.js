'use strict';
// A loopback Alpaca look-alike for the benchmarks. On one port:
// - the stocks market-data stream (/v2/iex, /v2/sip): Alpaca's msgpack dialogue, serving the
//   trades the benchmark hands it (msgpack timestamps with nanoseconds, as Alpaca sends), timed
//   on this side of the socket;
// - everything else (REST, the trading stream) passed through to a built-in simulator, noting
//   when each order POST arrives and its client order id.
// It runs in the benchmark's own process; every consumer runs in a child process of its own.
const http = require('http');
const net = require('net');
const { EventEmitter } = require('events');
const { WebSocketServer } = require('ws');
const { encode, decode, ExtData, EXT_TIMESTAMP, encodeTimeSpecToTimestamp } = require('@msgpack/msgpack');
const { root, wallNow } = require('./common');
const { Simulator } = require(`${root}/dist/lib/sim/simulator`);

const DATA_PATHS = new Set(['/v2/iex', '/v2/sip', '/v2/delayed_sip']);
const CHANNELS = ['trades', 'quotes', 'bars', 'updatedBars', 'dailyBars', 'statuses', 'lulds', 'imbalances'];

/** Alpaca's msgpack timestamp (ext -1) of epoch ms `ms` plus `nanos` nanoseconds. */
function timestamp(ms, nanos = 0) {
  const sec = Math.floor(ms / 1000);
  const nsec = (ms - sec * 1000) * 1e6 + nanos;
  return new ExtData(EXT_TIMESTAMP, encodeTimeSpecToTimestamp({ sec, nsec: Math.floor(nsec) }));
}

/** One trade frame element as Alpaca sends it. */
function trade(symbol, id, price, atMs, conditions = ['@']) {
  return { T: 't', S: symbol, i: id, x: 'V', p: price, s: 100, t: timestamp(atMs, id % 1000), c: conditions, z: 'C' };
}

/**
 * `total` trades over `symbols` round robin, `perFrame` to a frame, ids 1..total, each frame
 * msgpack-encoded once (the consumers are measured, not this encoder).
 */
function tradeFrames({ total, perFrame, symbols, startMs = Date.now() }) {
  const frames = [];
  for (let id = 1; id <= total; ) {
    const frame = [];
    for (let k = 0; k < perFrame && id <= total; k++, id++) {
      frame.push(trade(symbols[id % symbols.length], id, 100 + (id % 500) / 100, startMs + id / 1000));
    }
    frames.push(Buffer.from(encode(frame)));
  }
  return frames;
}

class ReplayServer extends EventEmitter {
  constructor({ sim = {} } = {}) {
    super();
    this.sim = new Simulator({ seed: 5, tickMs: 60_000, marketHours: 'always', ...sim, faults: { rateLimitPerMinute: 1_000_000, dataRateLimitPerMinute: 1_000_000, ...sim.faults } });
    this.clients = new Set();
    this.agent = new http.Agent({ keepAlive: true });
    this.wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
    this.server = http.createServer((req, res) => this.pass(req, res));
    this.server.on('upgrade', (req, socket, head) => this.upgrade(req, socket, head));
    this.tcp = new Set();
    this.server.on('connection', (s) => {
      this.tcp.add(s);
      s.once('close', () => this.tcp.delete(s));
    });
  }

  async start() {
    await this.sim.start();
    this.simPort = Number(new URL(this.sim.url).port);
    await new Promise((r) => this.server.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${this.server.address().port}`;
    return this.url;
  }

  async stop() {
    for (const c of this.clients) c.ws.terminate();
    for (const s of this.tcp) s.destroy();
    this.wss.close();
    this.agent.destroy();
    await new Promise((r) => this.server.close(r));
    await this.sim.stop();
  }

  /** The data client that subscribed last. */
  get client() {
    let last;
    for (const c of this.clients) if (c.subscribed) last = c;
    return last;
  }

  /** Sends pre-encoded frames as fast as the client drains them; resolves with the send times. */
  blast(frames, inFlight = 64) {
    const c = this.client;
    if (!c) return Promise.reject(new Error('no subscribed data client'));
    return new Promise((resolve, reject) => {
      const started = wallNow();
      let next = 0;
      let pending = 0;
      let scheduled = false;
      const pump = () => {
        scheduled = false;
        while (pending < inFlight && next < frames.length) {
          pending++;
          c.ws.send(frames[next++], written);
        }
        if (pending === 0 && next === frames.length) resolve({ started, finished: wallNow() });
      };
      const written = (err) => {
        pending--;
        if (err) return reject(err);
        if (!scheduled) {
          scheduled = true;
          setImmediate(pump);
        }
      };
      pump();
    });
  }

  /** Sends one frame of trades now; returns the wall time just before the write. */
  sendTrades(trades) {
    const c = this.client;
    if (!c) return undefined;
    const frame = encode(trades);
    const at = wallNow();
    c.ws.send(frame);
    return at;
  }

  // --- the market-data stream ------------------------------------------------------------

  upgrade(req, socket, head) {
    const path = new URL(req.url, 'http://localhost').pathname;
    if (!DATA_PATHS.has(path)) return this.passUpgrade(req, socket, head);
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      const c = { ws, authed: false, subscribed: false, subs: Object.fromEntries(CHANNELS.map((ch) => [ch, new Set()])) };
      this.clients.add(c);
      ws.on('error', () => undefined);
      ws.once('close', () => this.clients.delete(c));
      ws.send(encode([{ T: 'success', msg: 'connected' }]));
      ws.on('message', (data) => {
        let m;
        try {
          m = decode(data);
        } catch {
          return ws.send(encode([{ T: 'error', code: 400, msg: 'invalid syntax' }]));
        }
        if (m.action === 'auth') {
          c.authed = true;
          return ws.send(encode([{ T: 'success', msg: 'authenticated' }]));
        }
        if (!c.authed) return ws.send(encode([{ T: 'error', code: 401, msg: 'not authenticated' }]));
        if (m.action === 'subscribe' || m.action === 'unsubscribe') {
          for (const ch of CHANNELS) {
            for (const s of Array.isArray(m[ch]) ? m[ch] : []) c.subs[ch][m.action === 'subscribe' ? 'add' : 'delete'](s);
          }
          ws.send(encode([{ T: 'subscription', ...Object.fromEntries(CHANNELS.map((ch) => [ch, [...c.subs[ch]]])) }]));
          c.subscribed = c.subs.trades.size > 0;
          if (c.subscribed) this.emit('subscribed', [...c.subs.trades]);
        }
      });
    });
  }

  // --- everything else: the simulator ---------------------------------------------------------

  pass(req, res) {
    const arrived = wallNow();
    const isOrder = req.method === 'POST' && req.url.startsWith('/v2/orders');
    const chunks = [];
    const upstream = http.request(
      { host: '127.0.0.1', port: this.simPort, method: req.method, path: req.url, headers: { ...req.headers, host: `127.0.0.1:${this.simPort}` }, agent: this.agent },
      (answer) => {
        res.writeHead(answer.statusCode, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', () => res.destroy());
    req.on('data', (d) => {
      if (isOrder) chunks.push(d);
      upstream.write(d);
    });
    req.on('end', () => {
      upstream.end();
      if (!isOrder) return;
      try {
        const body = JSON.parse(Buffer.concat(chunks).toString());
        this.emit('order', { clientOrderId: body.client_order_id, arrived });
      } catch {
        // not an order body we can read: nothing to time
      }
    });
  }

  passUpgrade(req, socket, head) {
    const upstream = net.connect(this.simPort, '127.0.0.1', () => {
      const lines = [`${req.method} ${req.url} HTTP/1.1`];
      for (let i = 0; i < req.rawHeaders.length; i += 2) {
        const name = req.rawHeaders[i];
        lines.push(`${name}: ${name.toLowerCase() === 'host' ? `127.0.0.1:${this.simPort}` : req.rawHeaders[i + 1]}`);
      }
      upstream.write(`${lines.join('\r\n')}\r\n\r\n`);
      if (head?.length) upstream.write(head);
      socket.pipe(upstream).pipe(socket);
    });
    const close = () => {
      socket.destroy();
      upstream.destroy();
    };
    upstream.on('error', close);
    socket.on('error', close);
    socket.on('close', close);
    upstream.on('close', close);
  }
}

module.exports = { ReplayServer, tradeFrames, trade, timestamp };
