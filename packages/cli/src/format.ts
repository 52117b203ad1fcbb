/** `--format` parsing with docker's messages for a bad template. */
import { DockerFormat, Template, TemplateError, type DockerFormatOptions } from '@gantry/format';
import { CliError } from './errors';

/** List commands (ps, images): "failed to parse template: …", status 1, as docker's formatter reports it. */
export function listFormat(format: string, opts: DockerFormatOptions): DockerFormat {
  try {
    return DockerFormat.parse(format, opts);
  } catch (e) {
    if (e instanceof TemplateError) throw new CliError(`failed to parse template: ${e.message}`, 1);
    throw e;
  }
}

/** `inspect -f` and `version -f`: "template parsing error: …", status 64 (docker's cli.StatusError for them). */
export function plainTemplate(format: string): Template {
  try {
    return Template.parse(format.replace(/\\t|\\n/g, (m) => (m === '\\t' ? '\t' : '\n')));
  } catch (e) {
    if (e instanceof TemplateError) throw new CliError(`template parsing error: ${e.message}`, 64);
    throw e;
  }
}

/** Executes a template; an execution error is docker's "template: …" with status 1. */
export function execute(t: Template | DockerFormat, data: unknown): string {
  try {
    return t instanceof DockerFormat ? t.row(data) : t.execute(data);
  } catch (e) {
    if (e instanceof TemplateError) throw new CliError(e.message, 1);
    throw e;
  }
}

/** `json` as docker's inspect and version formats print it: 4-space indentation, then a newline. */
export function indentedJson(v: unknown): string {
  return JSON.stringify(v, null, 4) + '\n';
}
