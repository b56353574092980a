import { parseArgs } from 'node:util';
import { DEFAULT_DIRECTORY } from '../acme/links.js';
import { describeRules, type IssuanceRules } from '../acme/issuance-policy.js';
import { describeScopes, type PreauthorizedScopes } from '../acme/preauthorization.js';
import { describeOverrides, type RateLimitOverrides } from '../acme/rate-limits.js';
import { loadConfig } from '../config/load.js';
import type { GatewayConfig } from '../config/schema.js';
import { buildAdmin } from '../deps.js';
import { parseExpiry } from '../services/eab-keys.js';
import { POLICY_FLAGS, POLICY_USAGE, policyFromFlags } from './eab-policy.js';
import { cliOperator } from './admin-context.js';
import { EXTRA_FLAGS, EXTRA_USAGE, rateLimitsFromFlags, scopeNotes, scopesFromFlags } from './eab-extras.js';

const USAGE = `Usage:
  acme-pca-gateway eab create --label LABEL [--expires 30d|ISO-DATE] [--directory NAME] [policy, rate and scope flags] [--config FILE]
  acme-pca-gateway eab list [--directory NAME] [--json] [--config FILE]
  acme-pca-gateway eab uses KEY_ID [--directory NAME] [--json] [--config FILE]   every identifier the key pre-authorized
  acme-pca-gateway eab revoke KEY_ID [--directory NAME] [--config FILE]   (also stops its pre-authorized scopes)
Keys belong to one directory (default: the top-level one); a key of one directory is unknown in another.
${POLICY_USAGE}${EXTRA_USAGE}`;

/** `acme-pca-gateway eab …`: External Account Binding keys, on the configured database. */
export async function eabCommand(args: string[], out: NodeJS.WritableStream = process.stdout): Promise<number> {
  const [sub, ...rest] = args;
  let parsed;
  try {
    parsed = parseArgs({
      args: rest,
      allowPositionals: true,
      strict: true,
      options: {
        config: { type: 'string', short: 'c' },
        label: { type: 'string' },
        expires: { type: 'string' },
        directory: { type: 'string' },
        json: { type: 'boolean' },
        ...POLICY_FLAGS,
        ...EXTRA_FLAGS,
      },
    });
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  const config = loadConfig(values.config);
  const directory = values.directory ?? DEFAULT_DIRECTORY;
  if (directory !== DEFAULT_DIRECTORY && !Object.hasOwn(config.directories, directory)) {
    const names = [DEFAULT_DIRECTORY, ...Object.keys(config.directories)].join(', ');
    process.stderr.write(`eab: no directory named "${directory}" in the configuration (directories: ${names})\n`);
    return 2;
  }
  let policy: IssuanceRules | null = null;
  let rateLimits: RateLimitOverrides | null = null;
  let scopes: PreauthorizedScopes | null = null;
  if (sub === 'create') {
    try {
      policy = policyFromFlags(values);
      rateLimits = rateLimitsFromFlags(values);
      scopes = scopesFromFlags(values);
    } catch (err) {
      process.stderr.write(`eab create: ${(err as Error).message}\n`);
      return 2;
    }
  }
  const admin = await buildAdmin(config);
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
        const dirPolicy = directoryPolicy(config, directory);
        for (const note of [...ineffective(policy, dirPolicy), ...scopeNotes(scopes, directory, dirPolicy)]) process.stderr.write(`note: ${note}\n`);
        const key = await service.create(directory, values.label, expires, policy, { rateLimits, preauthorizedScopes: scopes });
        await admin.events.record({ action: 'admin.eab.created', actor: cliOperator(), eabKeyId: key.keyId, directory, detail: { label: key.label } });
        if (values.json) {
          out.write(`${JSON.stringify({ keyId: key.keyId, hmacKey: key.hmacKey, label: key.label, expiresAt: key.expiresAt, directory, policy, rateLimits, preauthorizedScopes: scopes })}\n`);
        } else {
          out.write(
            [
              `EAB key created for "${key.label}" in directory ${directory}${key.expiresAt ? `, expires ${key.expiresAt.toISOString()}` : ''}.`,
              `Policy: ${policy ? `the directory's, narrowed by ${describeRules(policy)}` : "the directory's"}`,
              `Rate limits: ${rateLimits ? `the directory's, with ${describeOverrides(rateLimits)}` : "the directory's"}`,
              `Pre-authorized: ${scopes ? `${describeScopes(scopes)}${dirPolicy.preAuthorization === true ? '' : ' (ignored: the directory has policy.preAuthorization off)'}` : 'nothing'}`,
              'The HMAC key is shown only now; store it safely.',
              `  key id:   ${key.keyId}`,
              `  HMAC key: ${key.hmacKey}`,
              '',
              `  certbot:  --eab-kid ${key.keyId} --eab-hmac-key ${key.hmacKey}`,
              `  lego:     --eab --kid ${key.keyId} --hmac ${key.hmacKey}`,
              '',
            ].join('\n'),
          );
        }
        return 0;
      }
      case 'list': {
        const keys = await service.list(directory);
        if (values.json) {
          out.write(`${JSON.stringify(keys.map(({ hmacKeyEnc: _, ...k }) => k))}\n`);
          return 0;
        }
        out.write('KEY ID\tLABEL\tSTATE\tCREATED\tEXPIRES\tACCOUNT\tPOLICY\tRATE LIMITS\tPRE-AUTHORIZED\tPRE-AUTHORIZED USES\n');
        for (const k of keys) {
          const state = k.revokedAt ? 'revoked' : k.boundAccountId ? 'bound' : k.expiresAt && k.expiresAt < now() ? 'expired' : 'unused';
          const uses = k.preauthorized ? `${k.preauthorized.count}, last ${k.preauthorized.lastUsedAt.toISOString()}` : '-';
          out.write(
            `${k.id}\t${k.label}\t${state}\t${k.createdAt.toISOString()}\t${k.expiresAt?.toISOString() ?? '-'}\t${k.boundAccountId ?? '-'}\t${describeRules(k.policy)}\t${describeOverrides(k.rateLimits)}\t${describeScopes(k.preauthorizedScopes)}\t${uses}\n`,
          );
        }
        return 0;
      }
      case 'uses': {
        const id = positionals[0];
        if (!id) {
          process.stderr.write(`eab uses needs a key id\n${USAGE}`);
          return 2;
        }
        const uses = await service.uses(id, directory);
        if (!uses) {
          process.stderr.write(`no key ${id} in directory ${directory}\n`);
          return 1;
        }
        if (values.json) {
          out.write(`${JSON.stringify(uses)}\n`);
          return 0;
        }
        out.write('USED AT\tIDENTIFIER\tSCOPE\tORDER\tACCOUNT\n');
        for (const u of uses) out.write(`${u.usedAt.toISOString()}\t${u.wildcard ? '*.' : ''}${u.identifier.value}\t${u.scope}\t${u.orderId}\t${u.accountId}\n`);
        return 0;
      }
      case 'revoke': {
        const id = positionals[0];
        if (!id) {
          process.stderr.write(`eab revoke needs a key id\n${USAGE}`);
          return 2;
        }
        const done = await service.revoke(id, directory);
        if (done) await admin.events.record({ action: 'admin.eab.revoked', actor: cliOperator(), eabKeyId: id, directory });
        out.write(done ? `revoked ${id}\n` : `no unrevoked key ${id} in directory ${directory}\n`);
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

function directoryPolicy(config: GatewayConfig, directory: string): IssuanceRules & { preAuthorization?: boolean | undefined } {
  return directory === DEFAULT_DIRECTORY ? config.policy : config.directories[directory]!.policy;
}

/**
 * What a key's rules allow that its directory does not: harmless (a key only narrows) but likely a
 * mistake, so `eab create` says so.
 */
function ineffective(key: IssuanceRules | null, dir: IssuanceRules): string[] {
  if (!key) return [];
  const notes: string[] = [];
  const within = (name: string, zone: string) => name === zone || name.endsWith(`.${zone}`);
  for (const s of key.allowedSuffixes ?? []) {
    if (dir.allowedSuffixes && !dir.allowedSuffixes.some((d) => within(s, d))) notes.push(`--allow-suffix ${s} is outside the directory's allowedSuffixes (${dir.allowedSuffixes.join(', ')}): names under it stay refused`);
  }
  for (const c of key.allowedChallenges ?? []) if (dir.allowedChallenges && !dir.allowedChallenges.includes(c)) notes.push(`--allow-challenge ${c}: the directory does not offer it`);
  for (const t of key.keyTypes ?? []) if (dir.keyTypes && !dir.keyTypes.includes(t)) notes.push(`--key-type ${t}: the directory does not accept it`);
  if (key.maxValidityDays && dir.maxValidityDays && key.maxValidityDays > dir.maxValidityDays) notes.push(`--max-validity-days ${key.maxValidityDays}: the directory's ${dir.maxValidityDays} days still apply`);
  return notes;
}
