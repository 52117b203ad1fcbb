/**
 * Throw-away certificates for TLS tests, made with the openssl CLI (Debian package openssl):
 * a CA, a server certificate for 127.0.0.1 / localhost signed by it, and a client certificate
 * signed by it, written where the docker CLI looks with DOCKER_CERT_PATH (ca.pem, cert.pem,
 * key.pem) plus the server's pair.
 *
 *   const pki = makePki(dir);            // pki.dir/{ca,cert,key,server-cert,server-key}.pem
 *   const other = makePki(otherDir);     // another CA: its client certificate must be refused
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface Pki {
  dir: string;
  ca: string;
  caKey: string;
  serverCert: string;
  serverKey: string;
  /** The client's pair, named as DOCKER_CERT_PATH wants it. */
  clientCert: string;
  clientKey: string;
}

function openssl(args: string[], cwd: string): void {
  const r = spawnSync('openssl', args, { cwd, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`openssl ${args.join(' ')}: ${r.error?.message ?? r.stderr}`);
}

/** A CA, a server certificate (SAN 127.0.0.1, ::1, localhost) and a client certificate in `dir`. */
export function makePki(dir: string, name = 'gantry-test'): Pki {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const p: Pki = {
    dir,
    ca: path.join(dir, 'ca.pem'),
    caKey: path.join(dir, 'ca-key.pem'),
    serverCert: path.join(dir, 'server-cert.pem'),
    serverKey: path.join(dir, 'server-key.pem'),
    clientCert: path.join(dir, 'cert.pem'),
    clientKey: path.join(dir, 'key.pem'),
  };
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl(
    [
      'req',
      '-x509',
      ...ec,
      '-keyout',
      p.caKey,
      '-out',
      p.ca,
      '-days',
      '2',
      '-subj',
      `/CN=${name} CA`,
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    ],
    dir,
  );
  const issue = (cert: string, key: string, cn: string, ext: string) => {
    const csr = `${cert}.csr`;
    const extFile = `${cert}.ext`;
    fs.writeFileSync(extFile, ext);
    openssl(['req', ...ec, '-keyout', key, '-out', csr, '-subj', `/CN=${cn}`], dir);
    openssl(['x509', '-req', '-in', csr, '-CA', p.ca, '-CAkey', p.caKey, '-CAcreateserial', '-out', cert, '-days', '2', '-extfile', extFile], dir);
    fs.rmSync(csr);
    fs.rmSync(extFile);
  };
  issue(
    p.serverCert,
    p.serverKey,
    'gantryd',
    'subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost\nextendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature\n',
  );
  issue(p.clientCert, p.clientKey, `${name} client`, 'extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature\n');
  return p;
}
