// A partner's PKI made the way a partner would: by the `openssl` command, at test time (no key
// material is committed). A CA, and leaves it signs with the SANs the link pins.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface PartnerFiles {
  cert: string;
  key: string;
  /** PEM of the certificate. */
  pem: string;
}

export interface PartnerPki {
  dir: string;
  ca: PartnerFiles;
  /** A leaf signed by the partner CA carrying `sans` (`DNS:…`, `URI:…`). */
  leaf(name: string, sans: string[]): PartnerFiles;
  /** A self-contained file under the partner's directory (a ca.pem fetched from meshlink, say). */
  write(name: string, text: string): string;
  remove(): void;
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];

/** A partner CA (`CA:TRUE`) valid for `days`, or, with `ca: false`, a self-signed certificate that is no CA. */
export function partnerPki(options: { days?: number; cn?: string; ca?: boolean } = {}): PartnerPki {
  const dir = mkdtempSync(join(tmpdir(), 'meshlink-partner-'));
  const read = (name: string): PartnerFiles => ({ cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`), pem: readFileSync(join(dir, `${name}.crt`), 'utf8') });
  const constraints = options.ca === false ? 'basicConstraints=critical,CA:FALSE' : 'basicConstraints=critical,CA:TRUE';
  openssl(['req', '-x509', ...EC, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', String(options.days ?? 30), '-subj', `/CN=${options.cn ?? 'Partner Test CA'}`, '-addext', constraints, '-addext', 'keyUsage=critical,keyCertSign,cRLSign,digitalSignature'], dir);
  return {
    dir,
    ca: read('ca'),
    leaf(name, sans) {
      openssl(['req', ...EC, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`], dir);
      writeFileSync(join(dir, `${name}.ext`), `subjectAltName=${sans.join(',')}\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth,clientAuth\n`);
      openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '10', '-extfile', `${name}.ext`, '-out', `${name}.crt`], dir);
      return read(name);
    },
    write(name, text) {
      writeFileSync(join(dir, name), text);
      return join(dir, name);
    },
    remove() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
