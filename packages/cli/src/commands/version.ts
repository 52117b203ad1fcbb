/**
 * `gantry version`: the client's and the server's versions in docker's layout (a tabwriter with
 * minimum width 20), or a `--format` template over `{ Client, Server }`. An unreachable daemon
 * prints the client part and then the error (status 1), as docker does.
 */
import type { Command } from 'commander';
import { tabwrite, Template, TemplateError } from '@gantry/format';
import { API_VERSION, type SystemVersion } from '@gantry/client';
import type { CliContext } from '../context';
import { describeError, CliError } from '../errors';
import { plainTemplate } from '../format';
import { CLI_VERSION } from '../meta';

const DEFAULT = `Client:
 Version:\t{{.Client.Version}}
 API version:\t{{.Client.APIVersion}}
 Node.js version:\t{{.Client.GoVersion}}
 OS/Arch:\t{{.Client.Os}}/{{.Client.Arch}}
 Context:\t{{.Client.Context}}
{{- if .Server}}

Server:{{if .Server.Platform.Name}} {{.Server.Platform.Name}}{{end}}
{{- range $c := .Server.Components}}
 {{$c.Name}}:
{{- if eq $c.Name "Engine"}}
  Version:\t{{$.Server.Version}}
  API version:\t{{$.Server.ApiVersion}} (minimum version {{$.Server.MinAPIVersion}})
  Go version:\t{{$.Server.GoVersion}}
  Git commit:\t{{$.Server.GitCommit}}
  Built:\t{{$.Server.BuildTime}}
  OS/Arch:\t{{$.Server.Os}}/{{$.Server.Arch}}
  Experimental:\t{{$.Server.Experimental}}
{{- else}}
  Version:\t{{$c.Version}}
{{- range $k, $v := $c.Details}}
  {{$k}}:\t{{$v}}
{{- end}}
{{- end}}
{{- end}}
{{- end}}
`;

interface VersionData {
  Client: Record<string, unknown>;
  Server: (SystemVersion & { Experimental: boolean }) | null;
}

export function versionCommand(program: Command, ctx: CliContext): void {
  program
    .command('version')
    .description('Show the Gantry version information')
    .option(
      '-f, --format <string>',
      "Format output using a custom template:\n'json':             Print in JSON format\n'TEMPLATE':         Print output using the given Go template",
    )
    .action(async (o: { format?: string }) => {
      const custom = o.format !== undefined && o.format !== '';
      const template: Template | 'json' = !custom ? Template.parse(DEFAULT) : o.format === 'json' ? 'json' : plainTemplate(o.format ?? '');
      const client = ctx.client();
      const data: VersionData = {
        Client: {
          Platform: { Name: '' },
          Version: CLI_VERSION,
          ApiVersion: '',
          DefaultAPIVersion: '',
          GoVersion: process.version,
          Os: process.platform,
          Arch: process.arch === 'x64' ? 'amd64' : process.arch,
          Context: 'default',
        },
        Server: null,
      };
      let failure: unknown;
      try {
        const sv = await client.system.version();
        data.Server = { ...sv, Experimental: sv.Experimental ?? false };
      } catch (e) {
        failure = e;
      }
      try {
        data.Client.ApiVersion = await client.apiVersion();
      } catch {
        // no daemon to negotiate with: the version this client speaks, as docker prints its own
        data.Client.ApiVersion = API_VERSION;
      }
      data.Client.APIVersion = data.Client.ApiVersion;
      if (template === 'json') ctx.stdout.write(JSON.stringify(data) + '\n');
      else {
        try {
          // templates see docker's Go field names: types.Version's APIVersion is "ApiVersion" only in JSON
          const view = { ...data, Server: data.Server && { ...data.Server, APIVersion: data.Server.ApiVersion } };
          const text = template.execute(view);
          ctx.stdout.write(custom ? text + '\n' : tabwrite(text, { minwidth: 20, tabwidth: 1, padding: 1, padchar: ' ' }));
        } catch (e) {
          // as docker: a template that fails on the missing server part is reported after the daemon's error
          if (!(e instanceof TemplateError) || failure === undefined) throw e instanceof TemplateError ? new CliError(e.message, 1) : e;
        }
      }
      if (failure !== undefined) throw new CliError(describeError(failure).message, 1);
    });
}
