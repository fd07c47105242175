/**
 * Serves files from one directory (the dashboard's assets): GET/HEAD only, paths resolved inside
 * the directory (no `..`, no absolute paths, no symlinks out of it), a small content-type table,
 * `/` mapped to index.html.
 */
import { createReadStream } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, resolve, sep } from 'node:path';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8', '.json': 'application/json', '.svg': 'image/svg+xml', '.png': 'image/png',
  '.ico': 'image/x-icon', '.map': 'application/json', '.txt': 'text/plain; charset=utf-8', '.wasm': 'application/wasm',
};

export type HttpHandler = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

/** A handler that answers from `dir`; it returns false (via `next`) for paths that are not files there. */
export function staticAssets(dir: string): (req: IncomingMessage, res: ServerResponse, pathname: string) => Promise<boolean> {
  const root = resolve(dir);
  return async (req, res, pathname) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return false;
    let rel: string;
    try {
      rel = decodeURIComponent(pathname);
    } catch {
      return false;
    }
    if (rel.includes('\0')) return false;
    if (rel.endsWith('/')) rel += 'index.html';
    const file = resolve(root, `.${rel.startsWith('/') ? rel : `/${rel}`}`);
    if (file !== root && !file.startsWith(root + sep)) return false;
    try {
      const real = await realpath(file);
      const realRoot = await realpath(root);
      if (!real.startsWith(realRoot + sep)) return false;
      const st = await stat(real);
      if (!st.isFile()) return false;
      res.writeHead(200, {
        'Content-Type': TYPES[extname(real).toLowerCase()] ?? 'application/octet-stream',
        'Content-Length': st.size,
        'X-Content-Type-Options': 'nosniff',
        'Cache-Control': 'no-cache',
      });
      if (req.method === 'HEAD') {
        res.end();
        return true;
      }
      await new Promise<void>((done) => {
        const s = createReadStream(real);
        s.on('error', () => {
          res.destroy();
          done();
        });
        s.on('end', done);
        s.pipe(res);
      });
      return true;
    } catch {
      return false;
    }
  };
}
