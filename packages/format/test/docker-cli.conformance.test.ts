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

// Not here, as they differ on purpose (README): float verbs on ints ({{printf "%g" 100}}: Go prints %!g(int=100)); JS has
// one number type. `table` alone is each command's default format (DockerFormat's defaultTable).
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
  '{{.Name |}}',
  '{{printf "%.0f %.0f %.0f %.1f" 0.5 1.5 2.5 0.25}}',
  '{{printf "%6.2f|%-8.3e|%G|%.3g|%.3g|%.3g" -3.14159 123456.789 1e-7 999.9 12.345 120.5}}',
  '{{printf "%5s|%-5s|%.2s|%5.1s|%q|%#q|%x|% x|%X" "ab" "ab" "abc" "xyz" "a\\"b" "ab" "hi" "hi" "hi"}}',
  '{{printf "%c|%U|%q|%o|%#o|%#x|%x|%b" 9731 9731 9731 8 8 255 -255 -5}}',
  '{{printf "%t|%v|%5t|%d" true false true true}}',
  '{{printf "%v|%d|%s|%q" (split "a b" " ") (split "a b" " ") (split "a b" " ") (split "a b" " ")}}',
  '{{printf "%*d|%-*d|" 5 1 5 2}}',
  '{{printf "%!" 1}}',
  '{{printf "%z" 1}}',
  '{{printf "%d%%" 50}}',
  '{{printf "%"}}',
  '{{print "a" "b" 1 2 true "c"}}',
  '{{println}}',
  '{{len "héllo"}} {{index "héllo" 1}} {{slice "hello" 1}}',
  '{{index (split "a,b,c" ",") 2}} {{len (split "" ",")}} {{len (split "abc" "")}}',
  '{{title "hello wORLD-foo_bar 1st"}}',
  '{{upper "straße"}} {{lower "ÀÉÎ"}}',
  '{{json "<&>\\u2028"}} {{json 1.5}} {{json (split "a b" " ")}} {{json nil}}',
  '{{truncate "héllo" 2}}|{{truncate "abc" 0}}|{{truncate "abc" 3}}',
  'table {{.Name}}\t{{.Description}}\t{{.Nope}}',
  'table {{pad .Name 1 1}}\t{{truncate .Description 4}}\t{{title .Name}}',
  'table {{.Name}}:{{.Current}}',
  'table {{.Name}}你好\\t{{.Current}}\\tx',
  'table {{.Name}}\\t\\t{{.Current}}\\t',
  'table {{.Name}}\\n{{.Current}}\\t{{.Error}}\\n\\t{{.Name}}',
  '{{.Current | not}} {{not .Error}} {{and}}',
  '{{if eq .Name "default" | not}}a{{else}}b{{end}}',
  '{{range $i, $c := split "x y z" " "}}{{if $i}},{{end}}{{$c}}{{end}}',
  '{{range $c := split "x y" " "}}{{$c}}{{end}}',
  '{{with $e := .DockerEndpoint}}{{$e}}{{end}}',
  '{{range split "a b c" " "}}{{if eq . "b"}}{{break}}{{end}}{{.}}{{end}}',
  '{{eq nil nil}} {{eq .Error ""}}',
  '{{slice (split "a b c d" " ") 1 3}}',
  '{{index .Name -1}}',
  '{{slice .Name 3 1}}',
  '{{"\\x41\\101\\u00e9"}}',
  '{{`raw\\n`}}',
  '{{0x1p4}} {{1e3}} {{1e6}} {{2.0}} {{printf "%v %d %T" 1e6 1e6 2.0}} {{truncate "abcdef" 2e0}} {{eq 1e6 1000000.0}} {{json 1e6}} {{print 1e21}}',
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
