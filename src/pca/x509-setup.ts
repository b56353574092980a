// @peculiar/x509 resolves its algorithm registry through tsyringe, which needs reflect-metadata loaded first.
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

/**
 * Makes sure @peculiar/x509 has a WebCrypto provider. Idempotent: the library keeps one process-wide
 * provider, so this only fills it in when nobody (test setup, another entry point) has.
 */
export function ensureX509Crypto(): void {
  if (!x509.cryptoProvider.has(x509.CryptoProvider.DEFAULT)) x509.cryptoProvider.set(webcrypto as never);
}

export { x509 };
