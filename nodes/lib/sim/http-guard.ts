// What the simulator checks before it reads a request: the Host and Origin a browser would send
// (against CSRF and DNS rebinding: a hostile page can make a browser talk to loopback, but not
// with a loopback Host or Origin), body sizes, and secrets compared in constant time.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import os from 'node:os';

const LOOPBACK_NAMES = ['localhost', '127.0.0.1', '[::1]'];
const WILDCARDS = new Set(['', '0.0.0.0', '::', '[::]']);

/** Whether a bind address is reachable from other machines. */
export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^127(\.\d{1,3}){3}$/.test(h);
}

export function isWildcardHost(host: string): boolean {
  return WILDCARDS.has(host);
}

/** `::1` -> `[::1]`: the form a Host header or URL carries. */
export function bracketed(address: string): string {
  return address.includes(':') && !address.startsWith('[') ? `[${address}]` : address;
}

/**
 * Host names a request may carry: the loopback names, the configured bind host, and when bound to
 * every interface, this machine's own addresses and name (neither can be claimed by another site).
 */
export function allowedHostnames(bindHost: string): Set<string> {
  const names = new Set(LOOPBACK_NAMES);
  if (isWildcardHost(bindHost)) {
    for (const list of Object.values(os.networkInterfaces())) {
      for (const nic of list ?? []) names.add(bracketed(nic.address.toLowerCase()));
    }
    const hostname = os.hostname().toLowerCase();
    names.add(hostname);
    names.add(`${hostname}.local`);
  } else {
    names.add(bracketed(bindHost.toLowerCase()));
  }
  return names;
}

/** The host part of a Host header (`[::1]:8765` -> `[::1]`), lower case; undefined when malformed. */
export function hostnameOf(hostHeader: string | undefined): string | undefined {
  if (!hostHeader) return undefined;
  const m = /^(\[[0-9a-f:.]+\]|[^:[\]]+)(?::\d{1,5})?$/i.exec(hostHeader.trim());
  return m ? m[1].toLowerCase() : undefined;
}

/** Why a request must be refused (403), or undefined when its Host and Origin are ours. */
export function foreignRequest(req: IncomingMessage, allowed: Set<string>): string | undefined {
  const host = hostnameOf(req.headers.host);
  if (!host || !allowed.has(host)) return 'host not allowed';
  const origin = req.headers.origin;
  // No Origin: not a browser's cross-origin request (curl, the SDK, a same-origin navigation).
  if (origin === undefined) return undefined;
  let originHost: string;
  try {
    const url = new URL(origin);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return 'origin not allowed';
    originHost = url.hostname.toLowerCase();
  } catch {
    return 'origin not allowed'; // includes the opaque "null" origin of sandboxed pages and files
  }
  return allowed.has(originHost) ? undefined : 'origin not allowed';
}

export class BodyTooLarge extends Error {
  constructor(readonly limit: number) {
    super(`request body larger than ${limit} bytes`);
  }
}

/** Reads a request body up to `limit` bytes; rejects with BodyTooLarge beyond it, without buffering the rest. */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit) return reject(new BodyTooLarge(limit));
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        req.off('data', onData);
        req.pause();
        reject(new BodyTooLarge(limit));
        return;
      }
      chunks.push(c);
    };
    req.on('data', onData);
    req.on('error', reject);
    req.on('end', () => resolve(Buffer.concat(chunks)));
  });
}

const digest = (value: string) => createHash('sha256').update(value, 'utf8').digest();

/** Compares two secrets in time that does not depend on where they differ (or on their lengths). */
export function sameSecret(given: unknown, expected: string): boolean {
  return typeof given === 'string' && timingSafeEqual(digest(given), digest(expected));
}

/** Whether the Content-Type names JSON (`application/json`, any parameters). */
export function isJsonContentType(value: string | undefined): boolean {
  return /^application\/json\s*(;|$)/i.test(value ?? '');
}
