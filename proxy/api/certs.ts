/**
 * The API server's credentials, made at first start and kept in the state directory:
 *   pki/ca.crt, pki/ca.key            a self-signed CA (RSA 2048, 10 years)
 *   pki/apiserver.crt, apiserver.key  the serving certificate for 127.0.0.1/localhost, signed by the CA
 *   token                             the bearer token kubectl sends (32 random bytes, base64url)
 * Keys and randomness come from node:crypto; node-forge writes the X.509 certificates (node:crypto
 * parses X.509 but cannot create it; forge is pure JavaScript with no dependencies, so no openssl
 * binary is needed). Files are written atomically, keys with mode 0600.
 */
import { generateKeyPairSync, randomBytes, X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type Forge from 'node-forge';
import { writeFileAtomic } from './state-files.js';

export interface ApiCredentials {
  readonly caPem: string;
  readonly certPem: string;
  readonly keyPem: string;
  readonly token: string;
}

const YEAR_MS = 365 * 24 * 3600 * 1000;

function newKey(): { privatePem: string; publicPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    privatePem: privateKey.export({ format: 'pem', type: 'pkcs8' }) as string,
    publicPem: publicKey.export({ format: 'pem', type: 'spki' }) as string,
  };
}

function serial(): string {
  const b = randomBytes(16);
  b[0] = b[0]! & 0x7f; // a positive INTEGER
  return b.toString('hex');
}

function baseCert(forge: typeof Forge, publicPem: string, now: Date, years: number): Forge.pki.Certificate {
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicPem);
  cert.serialNumber = serial();
  cert.validity.notBefore = new Date(now.getTime() - 60_000);
  cert.validity.notAfter = new Date(now.getTime() + years * YEAR_MS);
  return cert;
}

/** A new CA: self-signed, may sign certificates. */
function makeCA(forge: typeof Forge, now: Date): { certPem: string; keyPem: string } {
  const k = newKey();
  const cert = baseCert(forge, k.publicPem, now, 10);
  const name = [{ name: 'commonName', value: 'kpath-ca' }];
  cert.setSubject(name);
  cert.setIssuer(name);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(forge.pki.privateKeyFromPem(k.privatePem), forge.md.sha256.create());
  return { certPem: forge.pki.certificateToPem(cert), keyPem: k.privatePem };
}

/** A serving certificate for the loopback names and `host`, signed by the CA. */
function makeServing(
  forge: typeof Forge,
  ca: { certPem: string; keyPem: string },
  host: string,
  now: Date,
): { certPem: string; keyPem: string } {
  const k = newKey();
  const caCert = forge.pki.certificateFromPem(ca.certPem);
  const cert = baseCert(forge, k.publicPem, now, 2);
  cert.setSubject([{ name: 'commonName', value: 'kube-apiserver' }]);
  cert.setIssuer(caCert.subject.attributes);
  const altNames: { type: number; value?: string; ip?: string }[] = [
    { type: 2, value: 'localhost' },
    { type: 2, value: 'kubernetes' },
    { type: 2, value: 'kubernetes.default.svc' },
  ];
  for (const n of new Set(['127.0.0.1', '::1', host])) {
    if (/^[\d.:]+$/.test(n)) altNames.push({ type: 7, ip: n });
    else if (n !== 'localhost') altNames.push({ type: 2, value: n });
  }
  cert.setExtensions([
    { name: 'basicConstraints', cA: false, critical: true },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true },
    { name: 'subjectAltName', altNames },
    { name: 'authorityKeyIdentifier', keyIdentifier: caCert.generateSubjectKeyIdentifier().getBytes() },
  ]);
  cert.sign(forge.pki.privateKeyFromPem(ca.keyPem), forge.md.sha256.create());
  return { certPem: forge.pki.certificateToPem(cert), keyPem: k.privatePem };
}

function readIf(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** True if the serving certificate covers `host` and is valid a day from now. */
function servingUsable(certPem: string, host: string, now: Date): boolean {
  try {
    const c = new X509Certificate(certPem);
    if (new Date(c.validTo).getTime() < now.getTime() + 24 * 3600 * 1000) return false;
    return /^[\d.:]+$/.test(host) ? c.checkIP(host) !== undefined : c.checkHost(host) !== undefined;
  } catch {
    return false;
  }
}

/**
 * Load the CA, serving certificate and token from `stateDir`, making what is missing. The CA and the
 * token are kept across starts (a kubeconfig written once keeps working); the serving certificate is
 * re-issued when it no longer covers the address or is about to expire.
 */
export async function loadOrCreateCredentials(stateDir: string, host: string): Promise<ApiCredentials> {
  const pki = join(stateDir, 'pki');
  mkdirSync(pki, { recursive: true, mode: 0o700 });
  const now = new Date();
  let caCert = readIf(join(pki, 'ca.crt'));
  let caKey = readIf(join(pki, 'ca.key'));
  let fresh = false;
  // node-forge (~3 MiB once loaded) only when a certificate has to be made: not on a start that
  // finds usable ones in the state directory.
  const forge = async () => (await import('node-forge')).default;
  if (!caCert || !caKey) {
    const ca = makeCA(await forge(), now);
    caCert = ca.certPem;
    caKey = ca.keyPem;
    writeFileAtomic(join(pki, 'ca.key'), caKey, 0o600);
    writeFileAtomic(join(pki, 'ca.crt'), caCert, 0o644);
    fresh = true;
  }
  let cert = readIf(join(pki, 'apiserver.crt'));
  let key = readIf(join(pki, 'apiserver.key'));
  if (fresh || !cert || !key || !servingUsable(cert, host, now)) {
    const s = makeServing(await forge(), { certPem: caCert, keyPem: caKey }, host, now);
    cert = s.certPem;
    key = s.keyPem;
    writeFileAtomic(join(pki, 'apiserver.key'), key, 0o600);
    writeFileAtomic(join(pki, 'apiserver.crt'), cert, 0o644);
  }
  const tokenPath = join(stateDir, 'token');
  let token = readIf(tokenPath)?.trim();
  if (!token) {
    token = randomBytes(32).toString('base64url');
    writeFileAtomic(tokenPath, `${token}\n`, 0o600);
  }
  return { caPem: caCert, certPem: cert, keyPem: key, token };
}

export function credentialsExist(stateDir: string): boolean {
  return existsSync(join(stateDir, 'pki', 'ca.crt')) && existsSync(join(stateDir, 'token'));
}
