// Organisation CAs made by the `openssl` command at test time, as a user would make them: a root
// and intermediates under it, exported as the PEM bundle PUT /issuers/{name} takes.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface OpensslCa {
  certificate: string;
  privateKey: string;
}

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

function inTemp<T>(work: (dir: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), 'meshlink-openssl-'));
  try {
    return work(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const KEY = { ec: ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'], rsa: ['-newkey', 'rsa:2048'] };

export interface CaOptions {
  days?: number;
  /** basicConstraints value, e.g. `critical,CA:TRUE,pathlen:1` or `CA:FALSE`. */
  basicConstraints?: string;
  key?: 'ec' | 'rsa';
}

/** A self-signed root. */
export function opensslRoot(subject: string, options: CaOptions = {}): OpensslCa {
  return inTemp((dir) => {
    openssl(dir, ['req', '-x509', '-new', ...KEY[options.key ?? 'ec'], '-nodes', '-keyout', 'key.pem', '-out', 'cert.pem', '-subj', subject, '-days', String(options.days ?? 3650),
      '-addext', `basicConstraints=${options.basicConstraints ?? 'critical,CA:TRUE'}`, '-addext', 'keyUsage=critical,keyCertSign,cRLSign', '-addext', 'subjectKeyIdentifier=hash']);
    return { certificate: readFileSync(join(dir, 'cert.pem'), 'utf8'), privateKey: readFileSync(join(dir, 'key.pem'), 'utf8') };
  });
}

/** A certificate (a CA unless told otherwise) signed by `parent`. */
export function opensslIntermediate(parent: OpensslCa, subject: string, options: CaOptions = {}): OpensslCa {
  return inTemp((dir) => {
    writeFileSync(join(dir, 'parent.pem'), parent.certificate);
    writeFileSync(join(dir, 'parent.key'), parent.privateKey, { mode: 0o600 });
    writeFileSync(join(dir, 'ext.cnf'), `basicConstraints=${options.basicConstraints ?? 'critical,CA:TRUE'}\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n`);
    openssl(dir, ['req', '-new', ...KEY[options.key ?? 'ec'], '-nodes', '-keyout', 'key.pem', '-out', 'req.csr', '-subj', subject]);
    openssl(dir, ['x509', '-req', '-in', 'req.csr', '-CA', 'parent.pem', '-CAkey', 'parent.key', '-CAcreateserial', '-days', String(options.days ?? 1825), '-extfile', 'ext.cnf', '-out', 'cert.pem']);
    return { certificate: readFileSync(join(dir, 'cert.pem'), 'utf8'), privateKey: readFileSync(join(dir, 'key.pem'), 'utf8') };
  });
}

/** The bundle an organisation imports: issuing CA key and certificate, then the chain up to the root. */
export function pemBundle(issuing: OpensslCa, ...chain: OpensslCa[]): string {
  return [issuing.privateKey, issuing.certificate, ...chain.map((c) => c.certificate)].join('');
}
