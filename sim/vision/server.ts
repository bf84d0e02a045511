/**
 * The visualizer's server (`drp-sim vision [--port P]`, `drp-sim replay … --open`): plain node:http on
 * 127.0.0.1, no framework. It serves the built web app (`dist/vision`, built by `npm run build` from
 * `vision/`), the list of traces under the reports directory, and their bytes. The page decodes traces
 * itself (src/vision/snapshot.ts), so a trace dropped onto it needs no server at all.
 *
 * Only files it listed are served: `/api/trace?name=` looks the name up in the listing (never joins it to a
 * path), and static assets must resolve inside the assets directory. Bounded: `tracesListedMax` traces,
 * `traceServeBytesMax` bytes per trace.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { basename, extname, join, relative, resolve, sep } from 'node:path';

/** Traces listed at most. */
export const tracesListedMax = 1000;
/** Largest trace served. */
export const traceServeBytesMax = 512 * 1024 * 1024;
/** Directory depth scanned under the reports directory. */
export const traceScanDepthMax = 4;

export interface VisionServerOptions {
  /** 0 picks a free port. */
  readonly port: number;
  /** The built web app (index.html and assets/). */
  readonly assetsDir: string;
  /** Where traces are listed from (recursively). */
  readonly reportsDir: string;
  /** Further trace files to list (e.g. the one a command was given). */
  readonly files?: readonly string[];
}

export interface VisionServer {
  readonly url: string;
  readonly port: number;
  /** The listing name of a trace file the server lists, for `#trace=` links. */
  nameOf(path: string): string | undefined;
  close(): Promise<void>;
}

export interface TraceListing {
  readonly name: string;
  readonly path: string;
  readonly bytes: number;
  readonly modifiedMs: number;
}

const contentTypes: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.wasm': 'application/wasm',
};

/** The traces under `dir` (and `files`), newest first. */
export function listTraces(dir: string, files: readonly string[] = []): TraceListing[] {
  const out: TraceListing[] = [];
  const walk = (d: string, depth: number): void => {
    if (depth > traceScanDepthMax || out.length >= tracesListedMax) return;
    let names: string[];
    try {
      names = readdirSync(d).sort();
    } catch {
      return;
    }
    for (const n of names) {
      if (out.length >= tracesListedMax) return;
      const p = join(d, n);
      let st: ReturnType<typeof statSync>;
      try {
        st = statSync(p);
      } catch {
        continue;
      }
      if (st.isDirectory()) walk(p, depth + 1);
      else if (n.endsWith('.trace')) {
        out.push({
          name: relative(dir, p).split(sep).join('/'),
          path: p,
          bytes: st.size,
          modifiedMs: st.mtimeMs,
        });
      }
    }
  };
  walk(dir, 0);
  for (const f of files) {
    const p = resolve(f);
    if (out.some((t) => resolve(t.path) === p) || !existsSync(p)) continue;
    const st = statSync(p);
    out.unshift({ name: `file/${basename(p)}`, path: p, bytes: st.size, modifiedMs: st.mtimeMs });
  }
  return out.sort((a, b) => b.modifiedMs - a.modifiedMs);
}

function send(res: ServerResponse, status: number, type: string, body: string | Uint8Array): void {
  res.writeHead(status, {
    'content-type': type,
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
  });
  res.end(body);
}

const notBuilt = `<!doctype html><meta charset="utf-8"><title>Dcomms vision</title>
<body style="font-family:sans-serif;padding:2em"><h1>The visualizer is not built</h1>
<p>Run <code>npm run build</code> (it builds <code>vision/</code> into <code>dist/vision</code>), then reload.</p>`;

function handle(req: IncomingMessage, res: ServerResponse, opts: VisionServerOptions): void {
  const url = new URL(req.url ?? '/', 'http://127.0.0.1');
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    send(res, 405, 'text/plain; charset=utf-8', 'only GET');
    return;
  }
  if (url.pathname === '/api/traces') {
    const list = listTraces(opts.reportsDir, opts.files).map(({ name, bytes, modifiedMs }) => ({
      name,
      bytes,
      modifiedMs,
    }));
    send(res, 200, contentTypes['.json']!, JSON.stringify(list));
    return;
  }
  if (url.pathname === '/api/trace') {
    const name = url.searchParams.get('name') ?? '';
    const t = listTraces(opts.reportsDir, opts.files).find((x) => x.name === name);
    if (t === undefined) {
      send(res, 404, 'text/plain; charset=utf-8', `no trace named '${name.slice(0, 200)}'`);
      return;
    }
    if (t.bytes > traceServeBytesMax) {
      send(res, 413, 'text/plain; charset=utf-8', `trace of ${t.bytes} bytes exceeds ${traceServeBytesMax}`);
      return;
    }
    send(res, 200, 'application/octet-stream', readFileSync(t.path));
    return;
  }
  const root = resolve(opts.assetsDir);
  const rel = url.pathname === '/' ? 'index.html' : decodeURIComponent(url.pathname.slice(1));
  const file = resolve(root, rel);
  if (!file.startsWith(root + sep)) {
    send(res, 403, 'text/plain; charset=utf-8', 'outside the app');
    return;
  }
  if (!existsSync(file) || !statSync(file).isFile()) {
    if (rel === 'index.html') send(res, 503, contentTypes['.html']!, notBuilt);
    else send(res, 404, 'text/plain; charset=utf-8', 'not found');
    return;
  }
  send(res, 200, contentTypes[extname(file)] ?? 'application/octet-stream', readFileSync(file));
}

/** Starts the server on 127.0.0.1. */
export function startVisionServer(opts: VisionServerOptions): Promise<VisionServer> {
  const server: Server = createServer((req, res) => {
    try {
      handle(req, res, opts);
    } catch (e) {
      send(res, 500, 'text/plain; charset=utf-8', `error: ${e instanceof Error ? e.message : String(e)}`);
    }
  });
  return new Promise((resolvePromise, reject) => {
    server.once('error', reject);
    server.listen(opts.port, '127.0.0.1', () => {
      const addr = server.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : opts.port;
      resolvePromise({
        url: `http://127.0.0.1:${port}/`,
        port,
        nameOf: (path) =>
          listTraces(opts.reportsDir, opts.files).find((t) => resolve(t.path) === resolve(path))?.name,
        close: () =>
          new Promise<void>((done) => {
            server.closeAllConnections();
            server.close(() => done());
          }),
      });
    });
  });
}
