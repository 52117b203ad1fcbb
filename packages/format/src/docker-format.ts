/**
 * docker's `--format` handling (cli/command/formatter/formatter.go): `table` formats get a header
 * row (the template executed over a map of column names, with docker's header functions) and go
 * through the tabwriter; `json` is `{{json .}}`; the literal two characters `\t` and `\n` in a
 * format are a tab and a newline; each row's output ends with a newline.
 */
import { TemplateError } from './template/errors';
import { DOCKER_HEADER_FUNCS } from './template/funcs';
import { Template, type TemplateOptions } from './template/template';
import { DOCKER_TABWRITER, tabwrite } from './tabwriter';

export interface DockerFormatOptions extends TemplateOptions {
  /** The command's table format, used for "" and "table" (e.g. `table {{.ID}}\t{{.Image}}`). */
  defaultTable?: string;
  /** `--quiet`: the format is `{{.ID}}`, whatever was asked (as docker's list commands do). */
  quiet?: boolean;
}

export class DockerFormat {
  private constructor(
    readonly isTable: boolean,
    readonly source: string,
    readonly template: Template,
  ) {}

  /** Parse a `--format` value; a bad template throws TemplateParseError (docker prefixes "template parsing error: "). */
  static parse(format: string, opts: DockerFormatOptions = {}): DockerFormat {
    let source = format;
    if (opts.quiet) source = '{{.ID}}';
    else if ((source === '' || source === 'table') && opts.defaultTable !== undefined) source = opts.defaultTable;
    const isTable = source.startsWith('table');
    let text = source;
    if (isTable) text = text.slice('table'.length);
    else if (text === 'json') text = '{{json .}}';
    text = text.replace(/^ +| +$/g, '').replace(/\\t|\\n/g, (m) => (m === '\\t' ? '\t' : '\n'));
    return new DockerFormat(isTable, source, Template.parse(text, opts));
  }

  /** One row: the template's output and a newline (no table alignment). */
  row(data: unknown): string {
    return this.template.execute(data) + '\n';
  }

  /**
   * The header row: the template over `header` (field name → column title, e.g. { ID: 'CONTAINER ID' })
   * with docker's header functions. As docker does, an error stops the row where it happened.
   */
  header(header: Record<string, string>): string {
    try {
      return this.template.execute(header, { funcs: DOCKER_HEADER_FUNCS });
    } catch (e) {
      if (e instanceof TemplateError) return e.partial ?? '';
      throw e;
    }
  }

  /** All rows; a table gets its header and is aligned as docker's tabwriter aligns it. */
  render(rows: readonly unknown[], header: Record<string, string> = {}): string {
    const body = rows.map((r) => this.row(r)).join('');
    if (!this.isTable) return body;
    return tabwrite(this.header(header) + '\n' + body, DOCKER_TABWRITER);
  }
}
