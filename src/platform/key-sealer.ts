import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

// EAB HMAC keys must be recoverable to verify a binding, so they cannot be hashed; they are sealed
// with AES-256-GCM under a key-encryption key (KEK) that lives in its own file, mode 0600, beside
// (not inside) the database. The serving certificate's private key, which replicas share through
// the database, is sealed the same way, so a copy of the database alone gives neither away.

export class EabKeySealer {
  constructor(private readonly kek: Buffer) {
    if (kek.length !== 32) throw new Error('the EAB key-encryption key must be 32 bytes');
  }

  /** Reads the KEK file, creating it with a fresh random key on first use. */
  static fromFile(path: string): EabKeySealer {
    if (!existsSync(path)) {
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, `${randomBytes(32).toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
    }
    chmodSync(path, 0o600);
    return new EabKeySealer(Buffer.from(readFileSync(path, 'utf8').trim(), 'base64'));
  }

  seal(plain: Buffer, keyId: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.kek, iv);
    cipher.setAAD(Buffer.from(keyId)); // a sealed key cannot be moved to another key id
    const body = Buffer.concat([cipher.update(plain), cipher.final()]);
    return ['v1', iv.toString('base64url'), body.toString('base64url'), cipher.getAuthTag().toString('base64url')].join('.');
  }

  open(sealed: string, keyId: string): Buffer {
    const [version, iv, body, tag] = sealed.split('.');
    if (version !== 'v1' || !iv || body === undefined || !tag) throw new Error('unknown sealed key format');
    const decipher = createDecipheriv('aes-256-gcm', this.kek, Buffer.from(iv, 'base64url'));
    decipher.setAAD(Buffer.from(keyId));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    return Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]);
  }
}
