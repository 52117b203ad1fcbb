/**
 * `gantry completion bash|zsh`: a completion script generated from the command tree (commands,
 * subcommands, flags), completing container, image, network, volume and context names through
 * the daemon (the hidden `gantry __complete <kind>`) where docker's completion does.
 */
import type { Command } from 'commander';
import type { CliContext } from '../context';
import { ContextStore } from '../contexts';
import { CliError } from '../errors';

type Kind = 'containers' | 'images' | 'networks' | 'volumes' | 'contexts';

/** Which names a command's arguments are (docker's completion completes these). */
const ARG_KINDS: Record<string, Kind> = {
  attach: 'containers',
  commit: 'containers',
  cp: 'containers',
  exec: 'containers',
  inspect: 'containers',
  kill: 'containers',
  logs: 'containers',
  pause: 'containers',
  port: 'containers',
  rename: 'containers',
  restart: 'containers',
  rm: 'containers',
  start: 'containers',
  stats: 'containers',
  stop: 'containers',
  top: 'containers',
  unpause: 'containers',
  update: 'containers',
  wait: 'containers',
  export: 'containers',
  diff: 'containers',
  create: 'images',
  run: 'images',
  history: 'images',
  push: 'images',
  rmi: 'images',
  save: 'images',
  tag: 'images',
  'image history': 'images',
  'image inspect': 'images',
  'image push': 'images',
  'image rm': 'images',
  'image save': 'images',
  'image tag': 'images',
  'network connect': 'networks',
  'network disconnect': 'networks',
  'network inspect': 'networks',
  'network rm': 'networks',
  'volume inspect': 'volumes',
  'volume rm': 'volumes',
  'context use': 'contexts',
  'context rm': 'contexts',
  'context inspect': 'contexts',
};

interface Node {
  path: string;
  subs: string[];
  flags: string[];
  kind?: Kind;
}

/** Every command path with its subcommands (and aliases), flags and argument kind. */
function completionTable(program: Command): Node[] {
  const out: Node[] = [];
  const visit = (c: Command, path: string): void => {
    const visible = c.commands.filter((s) => !s.name().startsWith('__'));
    out.push({
      path,
      subs: visible.flatMap((s) => [s.name(), ...s.aliases()]),
      flags: [...c.options.flatMap((o) => [o.short, o.long].filter((f): f is string => f !== undefined)), '--help'],
      kind: ARG_KINDS[path],
    });
    for (const s of visible) visit(s, path === '' ? s.name() : `${path} ${s.name()}`);
  };
  visit(program, '');
  // aliases complete as their command does
  return out;
}

const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

function cases(nodes: Node[], pick: (n: Node) => string): string {
  return nodes.map((n) => `    ${q(n.path)}) echo ${q(pick(n))} ;;`).join('\n');
}

/** The shared part: three lookups from a command path (subcommands, flags, the kind of its arguments). */
function lookups(nodes: Node[], aliases: [string, string][]): string {
  return `_gantry_subs() {
  case "$1" in
${cases(nodes, (n) => n.subs.join(' '))}
  esac
}
_gantry_flags() {
  case "$1" in
${cases(nodes, (n) => n.flags.join(' '))}
  esac
}
_gantry_kind() {
  case "$1" in
${cases(
  nodes.filter((n) => n.kind !== undefined),
  (n) => n.kind ?? '',
)}
  esac
}
_gantry_canon() {
  case "$1" in
${aliases.map(([a, c]) => `    ${q(a)}) echo ${q(c)} ;;`).join('\n')}
    *) echo "$1" ;;
  esac
}
_gantry_path() {
  local p="" w
  for w in "$@"; do
    case "$w" in -*) continue ;; esac
    case " $(_gantry_subs "$p") " in *" $w "*) p="$(_gantry_canon "\${p:+$p }$w")" ;; esac
  done
  echo "$p"
}`;
}

function aliasPairs(program: Command): [string, string][] {
  const out: [string, string][] = [];
  const visit = (c: Command, path: string): void => {
    for (const s of c.commands) {
      const full = path === '' ? s.name() : `${path} ${s.name()}`;
      for (const a of s.aliases()) out.push([path === '' ? a : `${path} ${a}`, full]);
      visit(s, full);
    }
  };
  visit(program, '');
  return out;
}

function bashCompletion(program: Command): string {
  return `# gantry completion for bash: source it, or put it in /etc/bash_completion.d/gantry
${lookups(completionTable(program), aliasPairs(program))}
_gantry() {
  local cur="\${COMP_WORDS[COMP_CWORD]}"
  local path
  path="$(_gantry_path "\${COMP_WORDS[@]:1:COMP_CWORD-1}")"
  if [[ $cur == -* ]]; then
    COMPREPLY=($(compgen -W "$(_gantry_flags "$path")" -- "$cur"))
    return
  fi
  local subs kind
  subs="$(_gantry_subs "$path")"
  if [[ -n $subs ]]; then
    COMPREPLY=($(compgen -W "$subs" -- "$cur"))
    return
  fi
  kind="$(_gantry_kind "$path")"
  [[ -n $kind ]] && COMPREPLY=($(compgen -W "$(\${COMP_WORDS[0]} __complete "$kind" 2>/dev/null)" -- "$cur"))
}
complete -F _gantry gantry
`;
}

function zshCompletion(program: Command): string {
  return `#compdef gantry
# gantry completion for zsh: put it on $fpath as _gantry, or source it after compinit
${lookups(completionTable(program), aliasPairs(program))}
_gantry() {
  local cur="\${words[CURRENT]}"
  local path
  path="$(_gantry_path "\${(@)words[2,CURRENT-1]}")"
  if [[ $cur == -* ]]; then
    compadd -- \${=$(_gantry_flags "$path")}
    return
  fi
  local subs kind
  subs="$(_gantry_subs "$path")"
  if [[ -n $subs ]]; then
    compadd -- \${=subs}
    return
  fi
  kind="$(_gantry_kind "$path")"
  [[ -n $kind ]] && compadd -- \${(f)"$(\${words[1]} __complete "$kind" 2>/dev/null)"}
}
compdef _gantry gantry
`;
}

/** Names of one kind, one a line, for the scripts (containers by name, images by repo:tag). */
async function names(ctx: CliContext, kind: Kind): Promise<string[]> {
  const client = ctx.client();
  switch (kind) {
    case 'containers':
      return (await client.containers.list({ all: true })).flatMap((c) => c.Names.map((n) => n.replace(/^\//, '')));
    case 'images':
      return (await client.images.list()).flatMap((i) => (i.RepoTags ?? []).filter((t) => t !== '<none>:<none>'));
    case 'networks':
      return (await client.networks.list()).map((n) => n.Name);
    case 'volumes':
      return ((await client.volumes.list()).Volumes ?? []).map((v) => v.Name);
    case 'contexts':
      return ContextStore.of(ctx.env)
        .list(ctx.env)
        .map((c) => c.Name);
  }
}

export function completionCommand(program: Command, ctx: CliContext): void {
  program
    .command('completion')
    .description('Print a shell completion script (bash or zsh)')
    .argument('<SHELL>')
    .action((shell: string) => {
      if (shell === 'bash') ctx.stdout.write(bashCompletion(program));
      else if (shell === 'zsh') ctx.stdout.write(zshCompletion(program));
      else throw new CliError(`unsupported shell "${shell}": bash or zsh`, 1);
    });
  program
    .command('__complete', { hidden: true })
    .argument('<KIND>')
    .action(async (kind: string) => {
      if (!['containers', 'images', 'networks', 'volumes', 'contexts'].includes(kind)) throw new CliError(`unknown kind "${kind}"`, 1);
      ctx.stdout.write((await names(ctx, kind as Kind)).map((n) => n + '\n').join(''));
    });
}
