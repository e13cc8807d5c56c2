// The Prober adapter on node:tls: one mutual-TLS handshake with the link's server end, as the
// egress gateway's originating DestinationRule makes it. The served chain is verified here (not by
// Node's rejectUnauthorized) so a wrong certificate is still read and recorded.
import tls from 'node:tls';
import { inspectCertificate } from '../pki/inspect.js';
import type { ProbeErrorKind, ProbeObservation, ProbeRequest, Prober, ServedCertificate } from './port.js';

export interface TlsProberOptions {
  /** Monotonic milliseconds for the latency (a parameter, so tests need no clock of their own). */
  now?: () => number;
}

const KIND_OF_CODE: Record<string, ProbeErrorKind> = {
  ECONNREFUSED: 'refused',
  ETIMEDOUT: 'timeout',
  ENOTFOUND: 'unreachable',
  EAI_AGAIN: 'unreachable',
  EHOSTUNREACH: 'unreachable',
  ENETUNREACH: 'unreachable',
};

/** The kind of a socket error: by its code; anything else ends the handshake (TLS alerts, resets). */
export function probeErrorKind(err: unknown): ProbeErrorKind {
  return KIND_OF_CODE[(err as NodeJS.ErrnoException | undefined)?.code ?? ''] ?? 'handshake';
}

/** OpenSSL's `error:0A000412:SSL routines:ssl3_read_bytes:` prefix cut: the reason is what a person reads. */
function reasonOf(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const openssl = /error:[0-9A-F]+:[^:]+:[^:]+:([^:\n]+)/.exec(err.message);
  const code = (err as NodeJS.ErrnoException).code;
  const message = openssl ? openssl[1]!.trim() : err.message.trim();
  return code && !message.includes(code) ? `${code}: ${message}` : message;
}

function servedOf(socket: tls.TLSSocket): ServedCertificate | undefined {
  const peer = socket.getPeerX509Certificate();
  if (!peer) return undefined;
  const s = inspectCertificate(peer.toString());
  return { fingerprint: s.fingerprint, notAfter: s.notAfter.toISOString(), subject: s.subject, subjectAltNames: [...s.dnsNames, ...s.uris] };
}

export class TlsProber implements Prober {
  private readonly now: () => number;

  constructor(options: TlsProberOptions = {}) {
    this.now = options.now ?? (() => performance.now());
  }

  probe(request: ProbeRequest): Promise<ProbeObservation> {
    const started = this.now();
    return new Promise((resolve) => {
      let served: ServedCertificate | undefined;
      /** When our side verified the server (TLS 1.3: the server's verdict on us is still to come). */
      let verifiedAt: number | undefined;
      let settled = false;
      const finish = (error?: { kind: ProbeErrorKind; message: string }): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        socket.destroy();
        resolve({ ok: !error, ...(error ? { error } : {}), latencyMs: Math.max(0, Math.round((verifiedAt ?? this.now()) - started)), ...(served ? { served } : {}) });
      };
      const socket = tls.connect({
        host: request.address,
        port: request.port,
        servername: request.servername,
        cert: request.credential['tls.crt'],
        key: request.credential['tls.key'],
        ca: request.credential['ca.crt'],
        minVersion: 'TLSv1.2', // a gateway's upstream side speaks TLS 1.2 to 1.3
        rejectUnauthorized: false,
        checkServerIdentity: () => undefined, // the pins are checked below, against the DestinationRule's SANs
      });
      const timer = setTimeout(() => finish(verifiedAt === undefined ? { kind: 'timeout', message: `no handshake within ${request.timeoutMs} ms` } : undefined), request.timeoutMs);
      socket.on('error', (err) => {
        const kind = probeErrorKind(err);
        // A reset once our side finished its TLS 1.3 handshake: the server refused our certificate.
        const refusedUs = served && kind === 'handshake' ? 'the server refused the client certificate: ' : '';
        finish({ kind, message: refusedUs + reasonOf(err) });
      });
      socket.on('close', () => finish({ kind: 'handshake', message: served ? 'the server closed the connection after the handshake (it refused the client certificate)' : 'the server closed the connection during the handshake' }));
      socket.once('secureConnect', () => {
        served = servedOf(socket);
        if (!socket.authorized) return finish({ kind: 'wrong-certificate', message: `the served certificate does not verify against the link's trust: ${String(socket.authorizationError)}` });
        const sans = served?.subjectAltNames ?? [];
        if (!request.subjectAltNames.some((san) => sans.includes(san))) {
          return finish({ kind: 'wrong-certificate', message: `the served certificate's SANs [${sans.join(', ')}] hold none of ${request.subjectAltNames.join(', ')}` });
        }
        // TLS 1.2: the server verified our certificate before its Finished. TLS 1.3: its verdict
        // comes after ours, as an alert or as a session ticket; without either by the timeout, no
        // refusal came (a server that sends no tickets).
        verifiedAt = this.now();
        if (socket.getProtocol() !== 'TLSv1.3') return finish();
        socket.once('session', () => finish());
        socket.resume();
      });
    });
  }
}
