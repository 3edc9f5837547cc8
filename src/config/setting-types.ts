import { createPublicKey } from 'node:crypto';
import path from 'node:path';
import { z } from 'zod';

/**
 * A kind of value an environment variable takes: how its text is read (a zod
 * schema from string), and how the reference names it.
 */
export type ValueType<T> = Readonly<{ kind: string; schema: z.ZodType<T, string> }>;

const wholeNumberText = z.string().trim().regex(/^\d+$/, 'must be a whole number').transform(Number);

export const integer = (min: number, max: number): ValueType<number> => ({
  kind: 'integer',
  schema: wholeNumberText.pipe(z.number().int().min(min).max(max)),
});

/** Whole seconds in the environment, milliseconds in the configuration (bounds in seconds). */
export const seconds = (min: number, max: number): ValueType<number> => ({
  kind: 'integer (seconds)',
  schema: wholeNumberText.pipe(z.number().int().min(min).max(max)).transform((s) => s * 1000),
});

export const milliseconds = (min: number, max: number): ValueType<number> => ({
  kind: 'integer (milliseconds)',
  schema: integer(min, max).schema,
});

export const bytes = (min: number, max: number): ValueType<number> => ({
  kind: 'integer (bytes)',
  schema: integer(min, max).schema,
});

export const flag: ValueType<boolean> = {
  kind: 'boolean',
  schema: z
    .string()
    .trim()
    .toLowerCase()
    .refine((v) => ['true', 'false', '1', '0', 'yes', 'no'].includes(v), 'must be true or false')
    .transform((v) => v === 'true' || v === '1' || v === 'yes'),
};

export const text = (
  schema: z.ZodType<string, string> = z.string().trim().min(1),
  kind = 'string',
): ValueType<string> => ({
  kind,
  schema,
});

export const oneOf = <const T extends readonly [string, ...string[]]>(values: T): ValueType<T[number]> => ({
  kind: `one of ${values.join(', ')}`,
  schema: z.enum(values) as unknown as z.ZodType<T[number], string>,
});

export const httpUrl: ValueType<string> = { kind: 'URL', schema: z.url({ protocol: /^https?$/ }) };

export const directory: ValueType<string> = {
  kind: 'directory',
  schema: z
    .string()
    .trim()
    .min(1)
    .transform((dir) => path.resolve(dir)),
};

/** Comma-separated items, each read by `item`; empty text is an empty list. */
export const list = <T>(item: z.ZodType<T, string>): ValueType<readonly T[]> => ({
  kind: 'comma-separated list',
  schema: z
    .string()
    .trim()
    .transform((v) => (v === '' ? [] : v.split(',').map((part) => part.trim())))
    .pipe(z.array(item))
    .transform((items) => Object.freeze([...new Set(items)])),
});

/** A PEM in one environment variable often arrives with its newlines escaped. */
const unescapePem = (pem: string) => pem.replaceAll('\\n', '\n');

export const publicKeyPem: ValueType<string> = {
  kind: 'string',
  schema: z
    .string()
    .trim()
    .transform(unescapePem)
    .refine(isPublicKeyPem, 'must be a PEM public key (-----BEGIN PUBLIC KEY-----, \\n for newlines)'),
};

function isPublicKeyPem(pem: string): boolean {
  try {
    // SPKI only: what jose's importSPKI reads (a PKCS#1 "RSA PUBLIC KEY" is not).
    return pem.includes('-----BEGIN PUBLIC KEY-----') && createPublicKey(pem).type === 'public';
  } catch {
    return false;
  }
}

/** One environment variable: its name, its type, its default (as it would be written in the environment), its meaning. */
export type Setting<T> = Readonly<{
  env: string;
  type: ValueType<T>;
  fallback: string | undefined;
  description: string;
  /** A password or key: its value is never repeated in a message (a refused value is described, not quoted). */
  secret?: boolean;
}>;

/** A variable with a default. */
export const required = <T>(env: string, type: ValueType<T>, fallback: string, description: string): Setting<T> => ({
  env,
  type,
  fallback,
  description,
});

/** A variable that may be unset. */
export const optional = <T>(env: string, type: ValueType<T>, description: string): Setting<T | undefined> => ({
  env,
  type: type as ValueType<T | undefined>,
  fallback: undefined,
  description,
});

/** The same setting, holding a secret (see Setting.secret). */
export const secret = <T>(setting: Setting<T>): Setting<T> => ({ ...setting, secret: true });
