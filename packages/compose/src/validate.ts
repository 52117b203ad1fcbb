/**
 * Validation against the Compose Specification's JSON schema (src/schema/compose-spec.json, draft
 * 2020-12) with ajv. Of ajv's errors the most specific one is reported (the deepest path; an
 * unknown key before a type mismatch inside a oneOf), as `file: services.web: …`.
 */
import Ajv2020, { type ErrorObject, type ValidateFunction } from 'ajv/dist/2020';
import schema from './schema/compose-spec.json';
import { ComposeError } from './errors';

let compiled: ValidateFunction | undefined;

function validator(): ValidateFunction {
  // strict off: the schema uses annotations (deprecated, x-*) ajv's strict mode rejects
  compiled ??= new Ajv2020({ allErrors: true, strict: false, validateFormats: false }).compile(schema);
  return compiled;
}

function dotted(instancePath: string): string {
  return instancePath
    .split('/')
    .slice(1)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
    .join('.');
}

function rank(e: ErrorObject): number {
  const depth = e.instancePath.split('/').length * 10;
  const kind = e.keyword === 'additionalProperties' ? 3 : e.keyword === 'required' ? 2 : ['oneOf', 'anyOf', 'if', 'not'].includes(e.keyword) ? 0 : 1;
  return depth + kind;
}

function describeSchemaError(e: ErrorObject): string {
  const where = dotted(e.instancePath);
  const at = where === '' ? '' : `${where}: `;
  switch (e.keyword) {
    case 'additionalProperties':
      return `${at}additional property '${String((e.params as { additionalProperty: string }).additionalProperty)}' is not allowed`;
    case 'required':
      return `${at}missing property '${String((e.params as { missingProperty: string }).missingProperty)}'`;
    case 'type':
      return `${at}must be ${String((e.params as { type: string | string[] }).type)}`;
    case 'enum':
      return `${at}must be one of ${((e.params as { allowedValues: unknown[] }).allowedValues ?? []).map((v) => JSON.stringify(v)).join(', ')}`;
    default:
      return `${at}${e.message ?? 'is invalid'}`;
  }
}

/** Throws a ComposeError naming `file` and the key when `doc` is not a valid Compose file. */
export function validateCompose(doc: unknown, file: string): void {
  const v = validator();
  if (v(doc)) return;
  const errors = [...(v.errors ?? [])].sort((a, b) => rank(b) - rank(a));
  const first = errors[0];
  throw new ComposeError(first === undefined ? 'invalid Compose file' : describeSchemaError(first), file);
}
