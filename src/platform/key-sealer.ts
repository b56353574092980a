import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, readFileSync } from 'node:fs';
import { PRIVATE_MODE, writePrivateFile } from './private-file.js';

// EAB HMAC keys must be recoverable to verify a binding, so they cannot be hashed; they are sealed
// with AES-256-GCM under a key-encryption key (KEK) that lives in its own file, mode 0600 whatever
// the umask (platform/private-file.ts), beside (not inside) the database. The serving certificate's
// private key, which replicas share through the database, is sealed the same way, so a copy of the
// database alone gives neither away.

export class EabKeySealer {
  constructor(private readonly kek: Buffer) {
    if (kek.length !== 32) throw new Error('the EAB key-encryption key must be 32 bytes');
  }

  /** Reads the KEK file, creating it with a fresh random key on first use. */
  static fromFile(path: string): EabKeySealer {
    if (!existsSync(path)) {
      try {
        writePrivateFile(path, `${randomBytes(32).toString('base64')}\n`, { exclusive: true });
      } catch (err) {
        // Another process (the gateway and an `eab create` started together) made it first: use theirs.
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
    }
    chmodSync(path, PRIVATE_MODE); // also a file made by an older version or by hand
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
