// A loopback data plane of Node TLS proxies in the gateways' roles (egress originating mTLS with
// the client Secret, ingress terminating it with the server Secret) in front of a TCP echo server:
// proves with a real TLS stack that a link's Secrets form a mutual-TLS pair for its host.
import { randomBytes, X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import net from 'node:net';
import tls from 'node:tls';
import { parse as parseYaml } from 'yaml';
import { sideIdentity } from '../../shared/link/names.js';
import type { SdsCredential } from '../../shared/pki/types.js';
import type { MemoryCluster } from './memory-clusters.js';

/** Reads the CURRENT credential of one side; called on every new handshake (the SDS model). */
export type SecretSource = () => SdsCredential | Promise<SdsCredential>;

export interface DataPlaneOptions {
  /** The link's host: the SNI the egress sends and the ingress requires, the server's DNS SAN. */
  host: string;
  link: string;
  clientSecret: SecretSource;
  serverSecret: SecretSource;
  /** Where the ingress forwards to; a TCP echo server of the plane's own when absent. */
  upstream?: { port: number };
}

export interface DataPlaneStats {
  /** Handshakes both ends accepted (CA and SAN pins on both sides; the ingress alone for direct clients). */
  handshakesOk: number;
  /** Handshakes refused or broken, counted once per end that saw it (so a refusal may count twice). */
  handshakeFailures: number;
  /** Every failure of the plane, handshake or not, as `<where>: <reason>`, in order. */
  failures: string[];
  /** SHA-256 fingerprints (lowercase hex, as the status API shows them) of accepted certificates, with counts. */
  clientCertificates: Map<string, number>;
  serverCertificates: Map<string, number>;
}

export interface DataPlane {
  /** Plain TCP in: client workloads dial this (the sidecar -> egress gateway hop, mesh mTLS elided). */
  egressPort: number;
  /** mTLS in: the server cluster's ingress gateway. */
  ingressPort: number;
  /** The echo server's port; the upstream's port when one was given. */
  echoPort: number;
  host: string;
  link: string;
  stats: DataPlaneStats;
  /**
   * The first recorded failure matching `match`, waiting for it if needed (a refused client can
   * see its connection end before the refusing end records why). Rejects after a safety timeout.
   */
  failureMatching(match: RegExp, options?: { timeoutMs?: number }): Promise<string>;
  /** Destroys every open connection and closes the three servers. */
  close(): Promise<void>;
}

const LOOPBACK = '127.0.0.1';
/** A safety net so a broken plane fails a test instead of hanging it; not a speed assertion. */
const DEFAULT_TIMEOUT_MS = 5_000;

/** `CODE: reason`, with OpenSSL's `<id>:error:<hex>:SSL routines:<function>:` prefix and source path cut. */
function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const code = (err as NodeJS.ErrnoException).code;
  const openssl = /error:[0-9A-F]+:[^:]+:[^:]+:([^:\n]+)/.exec(err.message);
  const message = openssl ? openssl[1]!.trim() : err.message.trim();
  return code && !message.includes(code) ? `${code}: ${message}` : message;
}

/**
 * TLS-layer errors (alerts, verification) and identity-pin refusals. In TLS 1.3 the server's
 * verdict on the client certificate reaches the client after its handshake "completed", as an
 * alert: still a handshake failure.
 */
function isHandshakeError(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code ?? '';
  return code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_');
}

function fingerprint(cert: X509Certificate): string {
  return cert.fingerprint256.replaceAll(':', '').toLowerCase();
}

function count(map: Map<string, number>, key: string): void {
  map.set(key, (map.get(key) ?? 0) + 1);
}

/**
 * Every DNS and URI SAN of a certificate (Istio's `subjectAltNames` matches any SAN type), read
 * by Node's OpenSSL rather than meshlink's pki code, so the check stays independent of the code
 * that minted the certificate. Node quotes (JSON) a value holding a comma or other special byte.
 */
export function subjectAltNames(cert: X509Certificate): { dns: string[]; uris: string[] } {
  const out = { dns: [] as string[], uris: [] as string[] };
  for (const m of (cert.subjectAltName ?? '').matchAll(/([A-Za-z ]+):("(?:[^"\\]|\\.)*"|[^,]*)(?:, |$)/g)) {
    const value = m[2]!.startsWith('"') ? (JSON.parse(m[2]!) as string) : m[2]!;
    if (m[1] === 'DNS') out.dns.push(value);
    else if (m[1] === 'URI') out.uris.push(value);
  }
  return out;
}

/**
 * Secure contexts built from a credential, rebuilt only when the Secret's content changes (an
 * SDS push); each handshake still asks the source for the current content.
 */
function contextCache(options: tls.SecureContextOptions): (secret: SdsCredential) => tls.SecureContext {
  let last: { key: string; context: tls.SecureContext } | undefined;
  return (secret) => {
    const key = `${secret['tls.crt']}\0${secret['tls.key']}\0${secret['ca.crt']}`;
    if (last?.key !== key) {
      last = { key, context: tls.createSecureContext({ ...options, cert: secret['tls.crt'], key: secret['tls.key'], ca: secret['ca.crt'] }) };
    }
    return last.context;
  };
}

function listen(server: net.Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, LOOPBACK, () => {
      server.off('error', reject);
      resolve((server.address() as net.AddressInfo).port);
    });
  });
}

function closeServer(server: net.Server): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) return resolve();
    server.close(() => resolve());
  });
}

/** Pipes two sockets both ways; an error or close on one destroys the other. */
function splice(a: net.Socket, b: net.Socket): void {
  a.pipe(b);
  b.pipe(a);
  a.once('close', () => b.destroy());
  b.once('close', () => a.destroy());
}

export async function startDataPlane(opts: DataPlaneOptions): Promise<DataPlane> {
  const host = opts.host.toLowerCase();
  const clientIdentity = sideIdentity(host, opts.link, 'client');
  const serverIdentity = sideIdentity(host, opts.link, 'server');
  const stats: DataPlaneStats = { handshakesOk: 0, handshakeFailures: 0, failures: [], clientCertificates: new Map(), serverCertificates: new Map() };
  const sockets = new Set<net.Socket>();
  let closing = false;

  const track = (socket: net.Socket): void => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  };
  const waiters = new Set<{ match: RegExp; resolve: (failure: string) => void }>();
  const fail = (where: string, reason: string, handshake: boolean): void => {
    if (closing) return;
    const failure = `${where}: ${reason}`;
    stats.failures.push(failure);
    if (handshake) stats.handshakeFailures++;
    for (const w of waiters) {
      if (w.match.test(failure)) {
        waiters.delete(w);
        w.resolve(failure);
      }
    }
  };
  // A refused peer may see its connection close before the refusing end has recorded why.
  const failureMatching = (match: RegExp, options: { timeoutMs?: number } = {}): Promise<string> => {
    const seen = stats.failures.find((f) => match.test(f));
    if (seen !== undefined) return Promise.resolve(seen);
    const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    return new Promise((resolve, reject) => {
      const waiter = {
        match,
        resolve: (failure: string) => {
          clearTimeout(timer);
          resolve(failure);
        },
      };
      const timer = setTimeout(() => {
        waiters.delete(waiter);
        reject(new Error(`no failure matching ${match} within ${timeoutMs} ms; failures: ${JSON.stringify(stats.failures)}`));
      }, timeoutMs);
      waiters.add(waiter);
    });
  };

  // Pairs the two ends of an egress-originated connection by the egress socket's local port (the
  // ingress sees it as the remote port): in TLS 1.3 the client finishes its handshake before the
  // server has judged the client certificate, and Node checks the server's identity only after
  // the handshake, so neither end alone knows that both accepted. An entry the egress refused
  // stays as a tombstone until the ingress reports on that port (it may still accept it), so
  // the ingress never mistakes it for a direct client.
  const pending = new Map<number, { egress: boolean; ingress: boolean; refused: boolean }>();
  const MAX_PENDING = 10_000;
  const accept = (port: number | undefined, end: 'egress' | 'ingress'): void => {
    const entry = port === undefined ? undefined : pending.get(port);
    if (!entry) {
      if (end === 'ingress') stats.handshakesOk++; // a direct client, not through the egress
      return;
    }
    entry[end] = true;
    if (entry.refused) {
      if (end === 'ingress') pending.delete(port!);
    } else if (entry.egress && entry.ingress) {
      stats.handshakesOk++;
      pending.delete(port!);
    }
  };
  const refuse = (port: number | undefined, end: 'egress' | 'ingress'): void => {
    const entry = port === undefined ? undefined : pending.get(port);
    if (!entry) return;
    if (end === 'ingress' || entry.ingress) pending.delete(port!);
    else entry.refused = true;
  };
  const expectFromEgress = (port: number): void => {
    if (pending.size >= MAX_PENDING) pending.delete(pending.keys().next().value!);
    pending.set(port, { egress: false, ingress: false, refused: false });
  };

  // The "MySQL server".
  let echo: net.Server | undefined;
  let echoPort = opts.upstream?.port ?? 0;
  if (!opts.upstream) {
    echo = net.createServer((socket) => {
      track(socket);
      socket.on('error', () => socket.destroy());
      socket.pipe(socket);
    });
    echoPort = await listen(echo);
  }

  // Ingress gateway: Gateway tls mode MUTUAL, credentialName = the server Secret, hosts [host],
  // minProtocolVersion TLSV1_3, subjectAltNames [client identity].
  const serverContext = contextCache({ minVersion: 'TLSv1.3' });
  const ingress = tls.createServer({
    // No default certificate: a ClientHello without SNI matches no filter chain, as on the Gateway.
    requestCert: true,
    rejectUnauthorized: true,
    minVersion: 'TLSv1.3',
    SNICallback: (servername, cb) => {
      if (servername.toLowerCase() !== host) {
        cb(new Error(`SNI "${servername}" is not the link host "${host}"`));
        return;
      }
      // SDS: the Secret as it is now, for this new handshake; open connections keep theirs.
      Promise.resolve()
        .then(opts.serverSecret)
        .then(
          (secret) => cb(null, serverContext(secret)),
          (err) => cb(new Error(`server Secret unreadable: ${describe(err)}`)),
        );
    },
  });
  ingress.on('tlsClientError', (err, socket) => {
    const sni = socket.servername ? `SNI "${socket.servername}"` : 'no SNI';
    // Node verifies the client chain after OpenSSL's handshake and, with rejectUnauthorized,
    // destroys the socket silently: the verdict is in authorizationError, the error is a hang-up.
    const verdict = socket.authorizationError
      ? `client certificate refused: ${String(socket.authorizationError)}`
      : (err as NodeJS.ErrnoException).code === 'ECONNRESET'
        ? `the client left during the handshake (${describe(err)})`
        : describe(err);
    fail('ingress', `handshake refused (${sni}): ${verdict}`, true);
  });
  ingress.on('secureConnection', (socket) => {
    track(socket);
    const remotePort = socket.remotePort;
    socket.on('error', (err) => fail('ingress', `connection error: ${describe(err)}`, false));
    const peer = socket.getPeerX509Certificate();
    const sans = peer ? subjectAltNames(peer) : undefined;
    if (!peer || !sans || ![...sans.dns, ...sans.uris].includes(clientIdentity)) {
      refuse(remotePort, 'ingress');
      fail('ingress', `client identity [${sans ? [...sans.uris, ...sans.dns].join(', ') : 'no certificate'}] does not include ${clientIdentity}`, true);
      socket.destroy();
      return;
    }
    count(stats.clientCertificates, fingerprint(peer));
    accept(remotePort, 'ingress');
    const upstream = net.connect(echoPort, LOOPBACK);
    track(upstream);
    upstream.on('error', (err) => fail('ingress', `upstream ${LOOPBACK}:${echoPort}: ${describe(err)}`, false));
    splice(socket, upstream);
  });
  const ingressPort = await listen(ingress);

  // The server pins of the DestinationRule: chain to the client Secret's ca.crt (done by TLS),
  // then the server's identity and the host among its SANs.
  const checkServer = (_name: string, cert: tls.PeerCertificate): Error | undefined => {
    const peer = new X509Certificate(cert.raw);
    const sans = subjectAltNames(peer);
    const missing = [...(sans.uris.includes(serverIdentity) ? [] : [`URI ${serverIdentity}`]), ...(sans.dns.includes(host) ? [] : [`DNS ${host}`])];
    if (missing.length === 0) return undefined;
    const err = new Error(`server certificate SANs [${[...sans.uris, ...sans.dns].join(', ')}] lack ${missing.join(' and ')}`);
    (err as NodeJS.ErrnoException).code = 'ERR_TLS_CERT_ALTNAME_INVALID';
    return err;
  };

  // Egress gateway: DestinationRule tls mode MUTUAL, credentialName = the client Secret, sni = host.
  const clientContext = contextCache({});
  const egress = net.createServer((client) => {
    track(client);
    client.on('error', () => client.destroy());
    Promise.resolve()
      .then(opts.clientSecret)
      .then(
        (secret) => {
          if (client.destroyed) return;
          const upstream = tls.connect({
            host: LOOPBACK,
            port: ingressPort,
            servername: host,
            secureContext: clientContext(secret),
            minVersion: 'TLSv1.2', // the upstream side of a gateway speaks TLS 1.2 to 1.3
            checkServerIdentity: checkServer,
          });
          track(upstream);
          let localPort: number | undefined;
          upstream.once('connect', () => {
            localPort = upstream.localPort;
            if (localPort !== undefined) expectFromEgress(localPort);
          });
          let secured = false;
          upstream.once('secureConnect', () => {
            secured = true;
            const peer = upstream.getPeerX509Certificate();
            if (peer) count(stats.serverCertificates, fingerprint(peer));
            accept(localPort, 'egress');
          });
          upstream.on('error', (err) => {
            if (!secured || isHandshakeError(err)) refuse(localPort, 'egress');
            const handshake = !secured || isHandshakeError(err);
            fail('egress', `${handshake ? 'handshake failed' : 'connection error'}: ${describe(err)}`, handshake);
          });
          splice(client, upstream);
        },
        (err) => {
          fail('egress', `client Secret unreadable: ${describe(err)}`, true);
          client.destroy();
        },
      );
  });
  const egressPort = await listen(egress);

  return {
    egressPort,
    ingressPort,
    echoPort,
    host,
    link: opts.link,
    stats,
    failureMatching,
    async close() {
      closing = true;
      for (const socket of sockets) socket.destroy();
      await Promise.all([closeServer(egress), closeServer(ingress), ...(echo ? [closeServer(echo)] : [])]);
    },
  };
}

/**
 * An SDS stand-in with propagation under the test's control: serves the snapshot taken at the
 * last push(), so a test can let one gateway see a new Secret before the other.
 */
export async function manualSds(source: SecretSource): Promise<SecretSource & { push(): Promise<void> }> {
  let current = await source();
  const served = (() => current) as SecretSource & { push(): Promise<void> };
  served.push = async () => {
    current = await source();
  };
  return served;
}

/** Decodes a v1 Secret's base64 `data` into the three SDS keys; throws when one is missing. */
export function credentialFromSecret(secret: unknown, where: string): SdsCredential {
  const data = (secret as { data?: Record<string, unknown> } | undefined)?.data;
  if (!data) throw new Error(`${where}: no Secret (or no data)`);
  const decode = (key: keyof SdsCredential): string => {
    const value = data[key];
    if (typeof value !== 'string' || value === '') throw new Error(`${where}: Secret has no ${key}`);
    return Buffer.from(value, 'base64').toString('utf8');
  };
  return { 'tls.crt': decode('tls.crt'), 'tls.key': decode('tls.key'), 'ca.crt': decode('ca.crt') };
}

/** The Secret as a MemoryCluster holds it now (re-read on every call). */
export function secretFromCluster(cluster: MemoryCluster, namespace: string, name: string): () => SdsCredential {
  return () => credentialFromSecret(cluster.get('Secret', namespace, name), `${cluster.cluster}/${namespace}/${name}`);
}

/**
 * The Secret as LocalDirectoryTarget wrote it (`<dir>/<namespace>/secret-<name>.yaml`, dir being
 * the cluster's directory, `localClusterDir(stateDir, cluster)`), re-read on every call.
 */
export function secretFromDirectory(dir: string, namespace: string, name: string): () => Promise<SdsCredential> {
  const file = join(dir, namespace, `secret-${name}.yaml`);
  return async () => credentialFromSecret(parseYaml(await readFile(file, 'utf8')), file);
}

/**
 * Writes the payload and resolves with the same number of bytes read back, then ends the
 * connection. Rejects when the connection closes or errs first (with what was received).
 */
function exchangeOnce(socket: net.Socket, payload: Buffer, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let received = 0;
    let error: Error | undefined;
    let settled = false;
    const settle = (result: Buffer | Error): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (result instanceof Error) {
        socket.destroy();
        reject(result);
      } else {
        socket.end();
        resolve(result);
      }
    };
    const timer = setTimeout(() => settle(new Error(`no echo within ${timeoutMs} ms (${received} of ${payload.length} bytes back)`)), timeoutMs);
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      received += chunk.length;
      if (received >= payload.length) settle(Buffer.concat(chunks));
    });
    socket.on('error', (err) => {
      error ??= err;
    });
    socket.once('close', () => {
      const reason = error ? describe(error) : 'closed by the peer';
      settle(Object.assign(new Error(`connection ended after ${received} of ${payload.length} bytes: ${reason}`), { cause: error }));
    });
    socket.write(payload);
  });
}

/** A client workload's round trip: plain TCP to the egress port, payload out, echo back. */
export function roundTrip(port: number, payload: Buffer, options: { timeoutMs?: number } = {}): Promise<Buffer> {
  return exchangeOnce(net.connect(port, LOOPBACK), payload, options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
}

/**
 * A round trip over TLS straight to a port (the ingress), bypassing the egress: for clients the
 * ingress must refuse. Node sends no SNI for an IP address unless `servername` is given.
 */
export function tlsRoundTrip(port: number, options: tls.ConnectionOptions, payload: Buffer, timeout: { timeoutMs?: number } = {}): Promise<Buffer> {
  return exchangeOnce(tls.connect({ host: LOOPBACK, port, ...options }), payload, timeout.timeoutMs ?? DEFAULT_TIMEOUT_MS);
}

/** Client TLS options presenting a credential as the egress would (certificate, key, CA bundle). */
export function clientTlsOptions(secret: SdsCredential, servername: string | undefined): tls.ConnectionOptions {
  return { cert: secret['tls.crt'], key: secret['tls.key'], ca: secret['ca.crt'], ...(servername === undefined ? {} : { servername }) };
}

/** A long-lived client connection: exchanges run one after another on the same TCP connection. */
export interface Connection {
  /** Writes the payload and resolves with as many bytes of echo; one exchange at a time. */
  exchange(payload: Buffer, options?: { timeoutMs?: number }): Promise<Buffer>;
  readonly closed: boolean;
  close(): Promise<void>;
}

export function openConnection(port: number): Promise<Connection> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, LOOPBACK);
    let buffered = Buffer.alloc(0);
    let closed = false;
    let error: Error | undefined;
    let waiter: { want: number; resolve: (b: Buffer) => void; reject: (e: Error) => void } | undefined;
    const serve = (): void => {
      if (!waiter) return;
      if (buffered.length >= waiter.want) {
        const out = buffered.subarray(0, waiter.want);
        buffered = buffered.subarray(waiter.want);
        const w = waiter;
        waiter = undefined;
        w.resolve(Buffer.from(out));
      } else if (closed) {
        const w = waiter;
        waiter = undefined;
        w.reject(new Error(`connection ended after ${buffered.length} of ${w.want} bytes: ${error ? describe(error) : 'closed by the peer'}`, { cause: error }));
      }
    };
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      serve();
    });
    socket.on('error', (err) => {
      error ??= err;
    });
    socket.once('close', () => {
      closed = true;
      serve();
    });
    socket.once('error', reject);
    socket.once('connect', () => {
      socket.off('error', reject);
      resolve({
        get closed() {
          return closed;
        },
        exchange(payload, options = {}) {
          if (waiter) return Promise.reject(new Error('an exchange is already running on this connection'));
          if (closed) return Promise.reject(new Error(`connection already closed${error ? `: ${describe(error)}` : ''}`));
          return new Promise<Buffer>((res, rej) => {
            const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
            const timer = setTimeout(() => {
              waiter = undefined;
              rej(new Error(`no echo within ${timeoutMs} ms`));
            }, timeoutMs);
            waiter = {
              want: payload.length,
              resolve: (b) => (clearTimeout(timer), res(b)),
              reject: (e) => (clearTimeout(timer), rej(e)),
            };
            socket.write(payload);
            serve();
          });
        },
        close() {
          return new Promise<void>((res) => {
            if (closed) return res();
            socket.once('close', () => res());
            socket.end();
          });
        },
      });
    });
  });
}

export interface TrafficOptions {
  /** A new connection (and one round trip on it) every this many ms. */
  everyMs: number;
  payloadBytes: number;
  /** Round trips allowed in flight at once; a tick beyond it is skipped (counted). Default 16. */
  maxInFlight?: number;
  timeoutMs?: number;
}

export interface TrafficReport {
  /** Round trips started, succeeded (echo identical), failed. */
  attempted: number;
  ok: number;
  failed: number;
  /** Ticks skipped because maxInFlight round trips were running. */
  skipped: number;
  /** Client-side reasons of failed round trips (the first 100). */
  failures: string[];
  /** What the plane recorded while the traffic ran (the reasons behind client-side failures). */
  planeFailures: string[];
  /** Handshakes both ends accepted while the traffic ran. */
  handshakesOk: number;
}

const MAX_REASONS = 100;

/**
 * Client workloads dialing continuously: a NEW connection every `everyMs`, each doing one round
 * trip of fresh random bytes through the egress. Runs until stop(), which waits for the round
 * trips in flight and reports.
 */
export interface Traffic {
  /** Counts so far (a copy), to wait for progress before changing something or stopping. */
  progress(): Pick<TrafficReport, 'attempted' | 'ok' | 'failed'>;
  /** Stops dialing, waits for the round trips in flight, and reports. */
  stop(): Promise<TrafficReport>;
}

export function runTraffic(plane: DataPlane, options: TrafficOptions): Traffic {
  const maxInFlight = options.maxInFlight ?? 16;
  const failuresBefore = plane.stats.failures.length;
  const handshakesBefore = plane.stats.handshakesOk;
  const report: TrafficReport = { attempted: 0, ok: 0, failed: 0, skipped: 0, failures: [], planeFailures: [], handshakesOk: 0 };
  const inFlight = new Set<Promise<void>>();
  const failed = (reason: string): void => {
    report.failed++;
    if (report.failures.length < MAX_REASONS) report.failures.push(reason);
  };
  const tick = (): void => {
    if (inFlight.size >= maxInFlight) {
      report.skipped++;
      return;
    }
    report.attempted++;
    const payload = randomBytes(options.payloadBytes);
    const run: Promise<void> = roundTrip(plane.egressPort, payload, options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs })
      .then(
        (echoed) => (echoed.equals(payload) ? void report.ok++ : failed(`echo differs from the ${payload.length} bytes sent`)),
        (err) => failed(describe(err)),
      )
      .finally(() => inFlight.delete(run));
    inFlight.add(run);
  };
  const timer = setInterval(tick, options.everyMs);
  tick();
  return {
    progress: () => ({ attempted: report.attempted, ok: report.ok, failed: report.failed }),
    async stop() {
      clearInterval(timer);
      while (inFlight.size > 0) await Promise.all([...inFlight]);
      report.planeFailures = plane.stats.failures.slice(failuresBefore);
      report.handshakesOk = plane.stats.handshakesOk - handshakesBefore;
      return report;
    },
  };
}

/**
 * Resolves once `condition()` holds, checking every few ms: for waiting on progress (traffic
 * counts, recorded failures), never for measuring time. Rejects after a safety timeout.
 */
export async function until(condition: () => boolean, what: string, options: { timeoutMs?: number } = {}): Promise<void> {
  const deadline = Date.now() + (options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
