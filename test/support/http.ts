// Real HTTP over a socket for edge tests: a server from functions-framework's getTestServer that
// counts the bytes it read off each connection, and a node:http client that streams a body in
// chunks (chunked transfer encoding unless a Content-Length is given) and stops when the answer
// comes, the way curl stops an upload the server refused.
import { request, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { getTestServer } from '@google-cloud/functions-framework/testing';

export interface CountingServer {
  url: string;
  port: number;
  /** Bytes the server read off all its connections so far (headers included). */
  bytesRead(): number;
  close(): Promise<void>;
}

export async function listenCounting(functionName: string): Promise<CountingServer> {
  const server = getTestServer(functionName) as unknown as Server;
  const sockets: Socket[] = [];
  server.on('connection', (socket: Socket) => sockets.push(socket));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    bytesRead: () => sockets.reduce((n, s) => n + s.bytesRead, 0),
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

export interface StreamedAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
  json: any;
  /** Body bytes the client handed to its socket before the answer came. */
  sent: number;
}

/**
 * Sends `total` bytes (the repeated `chunk`, or `body` once) to `path`; resolves with the answer.
 * Errors after the answer (the server closing a refused upload) are expected and ignored.
 */
export function streamRequest(
  server: { port: number },
  options: { method?: string; path: string; headers?: Record<string, string>; body?: Buffer; chunk?: Buffer; total?: number },
): Promise<StreamedAnswer> {
  return new Promise((resolve, reject) => {
    let answered = false;
    let sent = 0;
    const req = request({ host: '127.0.0.1', port: server.port, method: options.method ?? 'POST', path: options.path, headers: options.headers ?? {} });
    req.on('error', (err) => {
      if (!answered) reject(err);
    });
    let wake = () => {};
    req.on('drain', () => wake());
    req.on('close', () => wake());
    req.on('response', (res) => {
      answered = true;
      wake();
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('error', () => {});
      res.on('end', () => {
        const text = Buffer.concat(parts).toString('utf8');
        let json: unknown;
        try {
          json = text ? JSON.parse(text) : undefined;
        } catch {
          json = undefined;
        }
        req.destroy();
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json, sent });
      });
    });
    const write = async () => {
      if (options.body) {
        sent += options.body.length;
        req.end(options.body);
        return;
      }
      const chunk = options.chunk ?? Buffer.alloc(64 * 1024, 32);
      const total = options.total ?? 0;
      while (sent < total && !answered && !req.destroyed) {
        const piece = total - sent >= chunk.length ? chunk : chunk.subarray(0, total - sent);
        sent += piece.length;
        if (!req.write(piece)) {
          // Wait for room, or for the answer (a server that stopped reading never drains us).
          await new Promise<void>((done) => {
            wake = done;
          });
        }
      }
      if (!answered && !req.destroyed) req.end();
    };
    write().catch(reject);
  });
}
