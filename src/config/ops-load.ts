import { readFileSync } from 'node:fs';

// The operations side's secrets, for config/load.ts (the only reader of process.env and of secret
// files): the admin token from ACME_ADMIN_TOKEN, and each webhook's HMAC key from its secretFile.

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * ACME_ADMIN_TOKEN becomes admin.token unless the file sets one; notifications.webhooks[i].secretFile
 * becomes .secret with the file's content (one trailing newline dropped). `fail` builds the error
 * (load.ts's ConfigError) from a key and a message that never contains the secret.
 */
export function applyOpsSources(raw: unknown, env: NodeJS.ProcessEnv, fail: (key: string, message: string) => Error): unknown {
  if (!isObject(raw)) return raw;
  const out: Record<string, unknown> = { ...raw };
  if (env.ACME_ADMIN_TOKEN) {
    const admin = isObject(raw.admin) ? raw.admin : {};
    if (admin.token === undefined) out.admin = { ...admin, token: env.ACME_ADMIN_TOKEN };
  }
  const notifications = raw.notifications;
  if (isObject(notifications) && Array.isArray(notifications.webhooks)) {
    out.notifications = {
      ...notifications,
      webhooks: notifications.webhooks.map((hook, i) => (isObject(hook) ? readSecretFile(hook, `notifications.webhooks.${i}`, fail) : hook)),
    };
  }
  return out;
}

function readSecretFile(hook: Record<string, unknown>, where: string, fail: (key: string, message: string) => Error): Record<string, unknown> {
  const { secretFile, ...rest } = hook;
  if (secretFile === undefined) return hook;
  if (typeof secretFile !== 'string' || secretFile === '') throw fail(`${where}.secretFile`, 'expected the path of a file');
  if (rest.secret !== undefined) throw fail(`${where}.secretFile`, `set ${where}.secret or ${where}.secretFile, not both`);
  let text: string;
  try {
    text = readFileSync(secretFile, 'utf8');
  } catch (err) {
    throw fail(`${where}.secretFile`, `cannot read ${secretFile} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  const secret = text.replace(/\r?\n$/, '');
  if (secret === '') throw fail(`${where}.secretFile`, `${secretFile} is empty`);
  if (/[\r\n]/.test(secret)) throw fail(`${where}.secretFile`, `${secretFile} has more than one line; it must hold the secret alone`);
  return { ...rest, secret };
}
