'use strict';
// Starts a real redis-server on a free loopback port (no persistence) for the shared-budget tests.
const { spawn, execFileSync } = require('child_process');
const net = require('net');
const { freePort } = require('./nodered-process');
const { waitFor } = require('./wait');

function hasRedis() {
  try {
    execFileSync('redis-server', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * Resolves with { url, port, stop(), kill(), freeze(), thaw() } once redis-server accepts connections.
 * options.port: a given port (default a free one); options.password: requirepass.
 */
async function startRedis(options = {}) {
  const port = options.port || (await freePort());
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', ...(options.password ? ['--requirepass', options.password] : [])];
  const proc = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  proc.stdout.on('data', (d) => (output += d));
  proc.stderr.on('data', (d) => (output += d));
  const accepts = () =>
    new Promise((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.end();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
  await waitFor(() => {
    if (proc.exitCode !== null) throw new Error(`redis-server exited with ${proc.exitCode}`);
    return accepts();
  }, 10000, `redis-server to accept connections on port ${port}`, 50).catch((err) => {
    proc.kill();
    throw new Error(`redis-server did not start on port ${port}: ${err.message}\n${output}`);
  });
  const end = (signal) =>
    new Promise((resolve) => {
      if (proc.exitCode !== null || proc.signalCode !== null) return resolve();
      proc.once('exit', () => resolve());
      proc.kill(signal);
    });
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    stop: () => end('SIGTERM'),
    /** As a power cut would: no goodbye to the clients. */
    kill: () => end('SIGKILL'),
    /** Stops the server without closing anything (SIGSTOP), as a stalled host would; thaw() goes on. */
    freeze: () => proc.kill('SIGSTOP'),
    thaw: () => proc.kill('SIGCONT'),
  };
}

module.exports = { startRedis, hasRedis };
