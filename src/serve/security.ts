/**
 * Access rules: loopback by default, a shared token for anything wider, and no cross-site
 * WebSocket use from browsers.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';
import { ServeConfigError } from './serve-config-error.js';

/** True for 127.0.0.0/8, ::1, ::ffff:127.x and the name localhost. */
export function isLoopbackHost(host: string): boolean {
  const h = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  if (h === 'localhost') return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (isIP(h) === 6) {
    const lower = h.toLowerCase();
    if (lower === '::1' || lower === '0:0:0:0:0:0:0:1') return true;
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(lower);
    return mapped !== null && mapped[1].startsWith('127.');
  }
  return false;
}

/**
 * Refuses to expose the server beyond this machine without a token, unless told it is fine
 * (e.g. behind an authenticating proxy).
 */
export function checkBind(host: string, token: string | undefined, insecure: boolean): void {
  if (isLoopbackHost(host) || token || insecure) return;
  throw new ServeConfigError(
    `refusing to listen on ${host} without a token: anyone who can reach it could use the server. ` +
    'Give --token (or SPIKESTREAM_TOKEN), bind 127.0.0.1, or pass --insecure if something else guards access.',
  );
}

const digest = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

/**
 * Constant-time token check: both sides are hashed first so the comparison always covers 32
 * bytes, whatever the lengths, and timingSafeEqual leaks nothing about where they differ.
 */
export function tokenMatches(expected: string, given: unknown): boolean {
  if (typeof given !== 'string') {
    timingSafeEqual(digest(expected), digest(''));
    return false;
  }
  return timingSafeEqual(digest(expected), digest(given));
}

/** `Authorization: Bearer <token>` check for the HTTP endpoints. */
export function bearerMatches(expected: string, header: string | undefined): boolean {
  const m = header ? /^Bearer\s+(.+)$/i.exec(header.trim()) : null;
  return tokenMatches(expected, m ? m[1] : undefined);
}

/**
 * Browsers send Origin on WebSocket upgrades and do not apply the same-origin policy to them, so
 * any web page could otherwise talk to a server on localhost. Allowed: no Origin (non-browser
 * clients), an Origin whose host is the Host the request was sent to (pages this server serves),
 * and the configured origins ('*' allows all).
 */
export function originAllowed(origin: string | undefined, hostHeader: string | undefined, allowed: readonly string[]): boolean {
  if (origin === undefined) return true;
  if (allowed.includes('*') || allowed.includes(origin)) return true;
  try {
    return hostHeader !== undefined && new URL(origin).host === hostHeader;
  } catch {
    return false;
  }
}
