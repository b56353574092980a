import { issuancePolicySchema } from '../config/policy-schema.js';
import type { IssuanceRules } from '../acme/issuance-policy.js';

// `eab create` flags for a key's narrowing of its directory's issuance policy (issue 9). Each flag
// sets one policy key; repeatable flags build its list. The rules are checked with the same schema
// as the configuration file, and a refusal names the flag.

/** parseArgs options of the policy flags. */
export const POLICY_FLAGS = {
  'allow-suffix': { type: 'string', multiple: true },
  'allow-name': { type: 'string', multiple: true },
  'deny-name': { type: 'string', multiple: true },
  'allow-ip': { type: 'string', multiple: true },
  'no-ip': { type: 'boolean' },
  'no-wildcards': { type: 'boolean' },
  'max-identifiers': { type: 'string' },
  'allow-challenge': { type: 'string', multiple: true },
  'key-type': { type: 'string', multiple: true },
  'min-rsa-bits': { type: 'string' },
  'max-validity-days': { type: 'string' },
} as const;

export const POLICY_USAGE = `Narrowing the directory's issuance policy for this key (a key can only narrow it):
  --allow-suffix S ...        names must equal S or end in .S           (allowedSuffixes)
  --allow-name N ...          exact names besides the suffixes           (allowedNames)
  --deny-name N|.S ...        refuse a name, or .S: S and all below it   (deniedNames)
  --allow-ip CIDR ... | --no-ip   IP identifiers only in these ranges / none   (allowedIpCidrs)
  --no-wildcards              no "*." identifiers                        (wildcards: false)
  --max-identifiers N         identifiers per order                      (maxIdentifiers)
  --allow-challenge T ...     http-01, dns-01, tls-alpn-01               (allowedChallenges)
  --key-type T ...            rsa2048 rsa3072 rsa4096 ecdsa-p256 ecdsa-p384  (keyTypes)
  --min-rsa-bits N            2048, 3072 or 4096                         (minRsaBits)
  --max-validity-days N       longest certificate validity               (maxValidityDays)
`;

type PolicyFlagValues = { [K in keyof typeof POLICY_FLAGS]?: (typeof POLICY_FLAGS)[K] extends { multiple: true } ? string[] : (typeof POLICY_FLAGS)[K] extends { type: 'boolean' } ? boolean : string };

const FLAG_OF: Record<keyof IssuanceRules, string> = {
  allowedSuffixes: '--allow-suffix',
  allowedNames: '--allow-name',
  deniedNames: '--deny-name',
  allowedIpCidrs: '--allow-ip',
  wildcards: '--no-wildcards',
  maxIdentifiers: '--max-identifiers',
  allowedChallenges: '--allow-challenge',
  keyTypes: '--key-type',
  minRsaBits: '--min-rsa-bits',
  maxValidityDays: '--max-validity-days',
};

const asNumber = (text: string | undefined): number | undefined => (text === undefined ? undefined : /^\d+$/.test(text) ? Number(text) : NaN);

/** The key's rules from the flags; null when no policy flag was given. Throws a message naming the flag. */
export function policyFromFlags(v: PolicyFlagValues): IssuanceRules | null {
  if (v['no-ip'] && v['allow-ip']) throw new Error('--no-ip and --allow-ip contradict each other');
  const raw: Record<string, unknown> = {
    allowedSuffixes: v['allow-suffix'],
    allowedNames: v['allow-name'],
    deniedNames: v['deny-name'],
    allowedIpCidrs: v['no-ip'] ? [] : v['allow-ip'],
    wildcards: v['no-wildcards'] ? false : undefined,
    maxIdentifiers: asNumber(v['max-identifiers']),
    allowedChallenges: v['allow-challenge'],
    keyTypes: v['key-type'],
    minRsaBits: asNumber(v['min-rsa-bits']),
    maxValidityDays: asNumber(v['max-validity-days']),
  };
  for (const k of Object.keys(raw)) if (raw[k] === undefined) delete raw[k];
  if (Object.keys(raw).length === 0) return null;
  const parsed = checkedRules(raw);
  return parsed;
}

function checkedRules(raw: Record<string, unknown>): IssuanceRules {
  const result = issuancePolicySchema.safeParse(raw);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const key = issue.path[0] as keyof IssuanceRules;
  const value = issue.path.length > 1 ? ` "${String((raw[key] as unknown[])[issue.path[1] as number])}"` : '';
  throw new Error(`${FLAG_OF[key] ?? String(key)}${value}: ${issue.message}`);
}
