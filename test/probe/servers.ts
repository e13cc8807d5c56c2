// Server ends for the probe tests: a Node tls server in the ingress gateway's role (MUTUAL, TLS 1.3,
// the client identity pinned) serving a credential, `openssl s_server` doing the same from files,
// a closed port, and a TCP server that never answers a handshake. Each registers its own cleanup.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import net from 'node:net';
import tls from 'node:tls';
import type { SdsCredential } from '../../shared/pki/types.js';
import { until } from '../support/dataplane.js';

export const LOOPBACK = '127.0.0.1';
const cleanups: (() => Promise<void> | void)[] = [];

/** Closes every server the helpers started (call in afterEach). */
export async function closeServers(): Promise<void> {
  await Promise.all(cleanups.splice(0).map((c) => c()));
}

function listen(server: net.Server, port = 0): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, LOOPBACK, () => resolve((server.address() as net.AddressInfo).port));
  });
}

function track(server: net.Server): void {
  const sockets = new Set<net.Socket>();
  server.on('connection', (s: net.Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  cleanups.push(() => {
    for (const s of sockets) s.destroy();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
}

/**
 * The ingress gateway's role: the server Secret as loaded now; `credential` is read once (a
 * gateway that never reloads it). On `port` when given (a link's gateway port), else any.
 */
export async function gatewayServer(credential: SdsCredential, port = 0): Promise<number> {
  const server = tls.createServer({ cert: credential['tls.crt'], key: credential['tls.key'], ca: credential['ca.crt'], requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.3' });
  server.on('secureConnection', (socket) => socket.on('error', () => socket.destroy()));
  server.on('tlsClientError', () => undefined);
  track(server);
  return listen(server, port);
}

/** A TCP server that accepts and never answers: the probe's ClientHello gets nothing back. */
export async function silentServer(): Promise<number> {
  const server = net.createServer((socket) => socket.on('error', () => socket.destroy()));
  track(server);
  return listen(server);
}

/** A port nothing listens on (bound, then closed). */
export async function closedPort(): Promise<number> {
  const server = net.createServer();
  const port = await listen(server);
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** `openssl s_server` requiring and verifying a client certificate against `ca` (PEM), serving `cert` and `key` (PEM). */
export async function opensslServer(files: { cert: string; key: string; ca: string }, listenOn?: number): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'meshlink-probe-'));
  const path = (name: string, text: string) => {
    writeFileSync(join(dir, name), text, { mode: 0o600 });
    return join(dir, name);
  };
  const port = listenOn ?? (await closedPort());
  const args = ['s_server', '-accept', `${LOOPBACK}:${port}`, '-cert', path('tls.crt', files.cert), '-key', path('tls.key', files.key), '-CAfile', path('ca.crt', files.ca), '-Verify', '1', '-verify_return_error', '-naccept', '100'];
  const child: ChildProcessWithoutNullStreams = spawn('openssl', args, { stdio: 'pipe' });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  cleanups.push(() => {
    child.kill();
    rmSync(dir, { recursive: true, force: true });
  });
  await until(() => out.includes('ACCEPT'), 'openssl s_server to listen');
  return port;
}
