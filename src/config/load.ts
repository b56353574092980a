import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { applyOpsSources } from './ops-load.js';
import { configSchema, type GatewayConfig } from './schema.js';

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/**
 * Reads and validates the configuration. This module is the only reader of process.env and of the
 * files the configuration names for secrets: PCA credentials may come from NCP_ACCESS_KEY /
 * NCP_SECRET_KEY or from pca.accessKeyFile / pca.secretKeyFile, and the PostgreSQL password from
 * PGPASSWORD or storage.postgresPasswordFile, the admin token from ACME_ADMIN_TOKEN and webhook
 * keys from their secretFile (config/ops-load.ts), so they stay out of the config file.
 */
export function loadConfig(path: string | undefined, env: NodeJS.ProcessEnv = process.env): GatewayConfig {
  let raw: unknown = {};
  if (path) {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      throw new ConfigError(`cannot read config file ${path}: ${(err as Error).message}`);
    }
    try {
      raw = parseYaml(text) ?? {};
    } catch (err) {
      throw new ConfigError(`config file ${path} is not valid YAML: ${(err as Error).message}`);
    }
  }
  return parseConfig(raw, env, path ?? '(embedded defaults)');
}

/** A configuration given on the command line (admin commands), with the environment's credentials. */
export function configFromEnvironment(raw: unknown, source = 'command line'): GatewayConfig {
  return parseConfig(raw, process.env, source);
}

export function parseConfig(raw: unknown, env: NodeJS.ProcessEnv = {}, source = 'config'): GatewayConfig {
  const withOps = applyOpsSources(raw, env, (key, message) => new ConfigError(`invalid configuration in ${source}:\n  ${key}: ${message}`));
  const withEnv = applyEnv(applySecretFiles(withOps, source), env);
  const result = configSchema.safeParse(withEnv);
  if (!result.success) {
    const lines = result.error.issues.map((issue) => {
      const key = issue.path.length ? issue.path.join('.') : '(top level)';
      const extra =
        issue.code === 'unrecognized_keys' ? ` (unknown key${issue.keys.length > 1 ? 's' : ''}: ${issue.keys.join(', ')})` : '';
      return `  ${key}: ${issue.message}${extra}`;
    });
    throw new ConfigError(`invalid configuration in ${source}:\n${lines.join('\n')}`);
  }
  return result.data;
}

function applyEnv(raw: unknown, env: NodeJS.ProcessEnv): unknown {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return raw;
  const obj = raw as Record<string, unknown>;
  const pca = { ...((obj.pca as Record<string, unknown> | undefined) ?? {}) };
  if (env.NCP_ACCESS_KEY && pca.accessKey === undefined) pca.accessKey = env.NCP_ACCESS_KEY;
  if (env.NCP_SECRET_KEY && pca.secretKey === undefined) pca.secretKey = env.NCP_SECRET_KEY;
  const out = Object.keys(pca).length ? { ...obj, pca } : obj;
  const storage = obj.storage as Record<string, unknown> | undefined;
  // PGPASSWORD (libpq's variable) is the fallback: a password the configuration gives, in the URL
  // or through postgresPassword(File), wins over the environment.
  if (env.PGPASSWORD && storage && typeof storage.postgres === 'string' && !urlHasPassword(storage.postgres)) {
    if (storage.postgresPassword === undefined && storage.postgresPasswordFile === undefined) {
      return { ...out, storage: { ...storage, postgresPassword: env.PGPASSWORD } };
    }
  }
  return out;
}

function urlHasPassword(url: string): boolean {
  return URL.canParse(url) && new URL(url).password !== '';
}

const SECRET_FILES = [
  ['secretKeyFile', 'secretKey'],
  ['accessKeyFile', 'accessKey'],
] as const;

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * `pca.secretKeyFile` / `pca.accessKeyFile` (and the same keys in each `directories.<name>.pca`)
 * become `secretKey` / `accessKey` with the file's content: a mounted secret (Kubernetes, Docker,
 * systemd credentials) instead of a value in the config file or the environment. A file wins over
 * the environment; a key and its file together are an error. Errors name the key and the path,
 * never the content.
 */
function applySecretFiles(raw: unknown, source: string): unknown {
  if (!isObject(raw)) return raw;
  const out: Record<string, unknown> = { ...raw };
  if (isObject(raw.pca)) out.pca = readPcaSecretFiles(raw.pca, 'pca', source);
  if (isObject(raw.directories)) {
    out.directories = Object.fromEntries(
      Object.entries(raw.directories).map(([name, d]) => [
        name,
        isObject(d) && isObject(d.pca) ? { ...d, pca: readPcaSecretFiles(d.pca, `directories.${name}.pca`, source) } : d,
      ]),
    );
  }
  return out;
}

function readPcaSecretFiles(pca: Record<string, unknown>, where: string, source: string): Record<string, unknown> {
  const out = { ...pca };
  const fail = (key: string, message: string) => new ConfigError(`invalid configuration in ${source}:\n  ${where}.${key}: ${message}`);
  for (const [fileKey, key] of SECRET_FILES) {
    const path = out[fileKey];
    delete out[fileKey]; // the schema knows the key, not the file
    if (path === undefined) continue;
    if (typeof path !== 'string' || path === '') throw fail(fileKey, 'expected the path of a file');
    if (out[key] !== undefined) throw fail(fileKey, `set ${where}.${key} or ${where}.${fileKey}, not both`);
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      throw fail(fileKey, `cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
    // One trailing newline is what `echo` and editors add; it is not part of the secret.
    const value = text.replace(/\r?\n$/, '');
    if (value === '') throw fail(fileKey, `${path} is empty`);
    if (/[\r\n]/.test(value)) throw fail(fileKey, `${path} has more than one line; it must hold the key alone`);
    out[key] = value;
  }
  return out;
}
