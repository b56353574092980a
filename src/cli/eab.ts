import { parseArgs } from 'node:util';
import { loadConfig } from '../config/load.js';
import { DEFAULT_DIRECTORY } from '../acme/links.js';
import { buildAdmin } from '../deps.js';
import { parseExpiry } from '../services/eab-keys.js';
import { cliOperator } from './admin-context.js';

const USAGE = `Usage:
  acme-pca-gateway eab create --label LABEL [--expires 30d|ISO-DATE] [--config FILE]
  acme-pca-gateway eab list [--config FILE]
  acme-pca-gateway eab revoke KEY_ID [--config FILE]
`;

/** `acme-pca-gateway eab …`: External Account Binding keys, on the configured database. */
export async function eabCommand(args: string[], out: NodeJS.WritableStream = process.stdout): Promise<number> {
  const [sub, ...rest] = args;
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    strict: true,
    options: { config: { type: 'string', short: 'c' }, label: { type: 'string' }, expires: { type: 'string' }, json: { type: 'boolean' } },
  });
  const admin = await buildAdmin(loadConfig(values.config));
  const service = admin.eabKeys;
  const now = () => admin.clock.now();
  try {
    switch (sub) {
      case 'create': {
        if (!values.label) {
          process.stderr.write(`eab create needs --label\n${USAGE}`);
          return 2;
        }
        const expires = values.expires ? parseExpiry(values.expires, now()) : null;
        const key = await service.create(DEFAULT_DIRECTORY, values.label, expires);
        await admin.events.record({ action: 'admin.eab.created', actor: cliOperator(), eabKeyId: key.keyId, directory: DEFAULT_DIRECTORY, detail: { label: key.label } });
        if (values.json) out.write(`${JSON.stringify({ keyId: key.keyId, hmacKey: key.hmacKey, label: key.label, expiresAt: key.expiresAt })}\n`);
        else
          out.write(
            [
              `EAB key created for "${key.label}"${key.expiresAt ? `, expires ${key.expiresAt.toISOString()}` : ''}.`,
              'The HMAC key is shown only now; store it safely.',
              `  key id:   ${key.keyId}`,
              `  HMAC key: ${key.hmacKey}`,
              '',
              `  certbot:  --eab-kid ${key.keyId} --eab-hmac-key ${key.hmacKey}`,
              `  lego:     --eab --kid ${key.keyId} --hmac ${key.hmacKey}`,
              '',
            ].join('\n'),
          );
        return 0;
      }
      case 'list': {
        const keys = await service.list(DEFAULT_DIRECTORY);
        if (values.json) {
          out.write(`${JSON.stringify(keys.map(({ hmacKeyEnc: _, ...k }) => k))}\n`);
          return 0;
        }
        out.write('KEY ID\tLABEL\tSTATE\tCREATED\tEXPIRES\tACCOUNT\n');
        for (const k of keys) {
          const state = k.revokedAt ? 'revoked' : k.boundAccountId ? 'bound' : k.expiresAt && k.expiresAt < now() ? 'expired' : 'unused';
          out.write(`${k.id}\t${k.label}\t${state}\t${k.createdAt.toISOString()}\t${k.expiresAt?.toISOString() ?? '-'}\t${k.boundAccountId ?? '-'}\n`);
        }
        return 0;
      }
      case 'revoke': {
        const id = positionals[0];
        if (!id) {
          process.stderr.write(`eab revoke needs a key id\n${USAGE}`);
          return 2;
        }
        const done = await service.revoke(id);
        if (done) await admin.events.record({ action: 'admin.eab.revoked', actor: cliOperator(), eabKeyId: id });
        out.write(done ? `revoked ${id}\n` : `no unrevoked key ${id}\n`);
        return done ? 0 : 1;
      }
      default:
        process.stderr.write(USAGE);
        return 2;
    }
  } finally {
    await admin.close();
  }
}
