/**
 * Conformance with Go's text/template as the real docker CLI runs it: `docker context ls --format`
 * executes a template over one context row without a daemon, so each template here runs through
 * Go (docker) and through this package, over the same row, and the outputs (or the error
 * messages, up to the Go type name) must be equal. Needs the docker CLI (tools/install-deps.sh).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describeIf, needTool } from '@gantry/testkit';
import { DockerFormat, TemplateError } from '../src';

const HOST = 'unix:///tmp/format-conformance-nonexistent.sock';

/** The row docker's `context ls` formats when DOCKER_HOST is set and no context is stored. */
class ContextRow {
  get Name(): string {
    return 'default';
  }
  get Description(): string {
    return 'Current DOCKER_HOST based configuration';
  }
  get DockerEndpoint(): string {
    return HOST;
  }
  get Current(): boolean {
    return true;
  }
  get Error(): string {
    return '';
  }
}
const HEADER = { Name: 'NAME', Description: 'DESCRIPTION', DockerEndpoint: 'DOCKER ENDPOINT', Error: 'ERROR' };

let home: string;

function viaDocker(format: string): string {
  const r = spawnSync('docker', ['context', 'ls', '--format', format], {
    env: { ...process.env, HOME: home, DOCKER_HOST: HOST, DOCKER_CONFIG: path.join(home, '.docker') },
    encoding: 'utf8',
    timeout: 20_000,
  });
  const err = /template parsing error: (.*)/.exec(r.stderr);
  if (err) return `ERROR ${err[1].replace(/\*formatter\.clientContextContext/g, 'T')}`;
  return r.stdout;
}

function viaGantry(format: string): string {
  try {
    return DockerFormat.parse(format).render([new ContextRow()], HEADER);
  } catch (e) {
    if (!(e instanceof TemplateError)) throw e;
    return `ERROR ${e.message.replace(/ContextRow/g, 'T')}`;
  }
}

const FORMATS = [
  '{{.Name}}',
  '{{.Name}}\\t{{.Current}}',
  'table {{.Name}}\\t{{.Current}}\\t{{.DockerEndpoint}}',
  'table {{upper .Name}}\\t{{json .Current}}',
  'table {{.Name}}',
  '{{json .}}',
  'json',
  '{{.Nope}}',
  '{{.Name.Nope}}',
  '{{.name}}',
  '{{index .Name 99}}',
  '{{index .Name 1}}',
  '{{len .Name}} {{len .Description}}',
  '{{slice .Name 1 3}}',
  '{{if .Current}}yes{{else}}no{{end}}',
  '{{if .Error}}err{{else if .Current}}current{{end}}',
  '{{with .Error}}x{{else}}no error{{end}}',
  '{{range split .DockerEndpoint "/"}}[{{.}}]{{end}}',
  '{{range $i, $p := split .Description " "}}{{$i}}:{{$p}} {{end}}',
  '{{join (split .Description " ") "-"}}',
  '{{title .Description}}|{{lower .Description}}|{{upper .Name}}',
  '[{{pad .Name 2 3}}][{{pad .Error 2 3}}]',
  '{{truncate .Description 7}}',
  '{{printf "%-10s|%5.2f|%q|%x|%08b|%+d|%e|%g" .Name 3.14159 .Name 255 5 7 1234.5678 0.000012}}',
  '{{printf "%d %s" .Name}}',
  '{{printf "%s" .Name 1 true}}',
  '{{printf "%T %T %T" .Name 1 1.5}}',
  '{{print 1 2 "a" "b" 3 nil}}',
  '{{println .Name 1}}',
  "{{1.5}} {{0x1F}} {{0o17}} {{0b101}} {{1_000}} {{'a'}} {{-3}}",
  '{{eq .Name "default"}} {{ne 1 2}} {{lt "a" "b"}} {{le 2 2}} {{gt 3 1}} {{ge 1 2}} {{eq .Name "x" "default"}}',
  '{{eq 1 "a"}}',
  '{{lt true false}}',
  '{{and .Current .Name}} {{or .Error "fallback"}} {{not .Current}}',
  '{{html "<a href=\'x\'>&</a>"}} {{js "it\'s <b>"}} {{urlquery "a b&c=d/é"}}',
  '{{$x := .Name}}{{$x = "changed"}}{{$x}} {{$.Name}}',
  '{{- /* comment */ -}}  {{ .Name -}}   !',
  '{{define "T"}}<{{.}}>{{end}}{{template "T" .Name}}{{block "B" .Current}}[{{.}}]{{end}}',
  '{{range 3}}{{if eq . 1}}{{continue}}{{end}}{{.}}{{end}}',
  '{{.Name | printf "%s-%s" "x" | upper}}',
  '{{(split .DockerEndpoint ":").Nope}}',
  '{{nope}}',
  '{{.Name',
  '{{if .Current}}',
  '{{end}}',
  '{{$undefined}}',
  '{{.Name | 3}}',
  '{{"unterminated}}',
  '{{len}}',
  '{{upper 3}}',
  '{{range .Name}}{{end}}',
  '{{template "none"}}',
  '{{.Name 1}}',
];

describeIf(needTool('docker', 'docker-ce-cli'))('Go templates as the docker CLI runs them', () => {
  beforeAll(() => {
    home = fs.mkdtempSync(path.join(os.tmpdir(), 'format-conformance-'));
  });
  afterAll(() => fs.rmSync(home, { recursive: true, force: true }));

  test.each(FORMATS)('%s', (format) => {
    expect(viaGantry(format)).toBe(viaDocker(format));
  });
});
