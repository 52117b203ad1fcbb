/** `gantry network create|ls|inspect|rm|connect|disconnect|prune`: docker's flags, columns and messages. */
import type { Command } from 'commander';
import { ConnectionError, NotFoundError, type Network } from '@gantry/client';
import { truncateId } from '@gantry/format';
import type { CliContext } from '../context';
import { CliError, describeError } from '../errors';
import { listFormat } from '../format';
import { collect, toFilters } from '../options';
import { confirm, goTimeString, inspectEach, joinLabels, keyValues } from '../objects';

const HEADER = {
  ID: 'NETWORK ID',
  Name: 'NAME',
  Driver: 'DRIVER',
  Scope: 'SCOPE',
  IPv4: 'IPV4',
  IPv6: 'IPV6',
  Internal: 'INTERNAL',
  Labels: 'LABELS',
  CreatedAt: 'CREATED AT',
};

class NetworkRow {
  constructor(
    private readonly n: Network,
    private readonly trunc: boolean,
  ) {}
  get ID(): string {
    return this.trunc ? truncateId(this.n.Id) : this.n.Id;
  }
  get Name(): string {
    return this.n.Name;
  }
  get Driver(): string {
    return this.n.Driver;
  }
  get Scope(): string {
    return this.n.Scope;
  }
  get IPv4(): string {
    return String(this.n.EnableIPv4 === true);
  }
  get IPv6(): string {
    return String(this.n.EnableIPv6);
  }
  get Internal(): string {
    return String(this.n.Internal);
  }
  get Labels(): string {
    return joinLabels(this.n.Labels);
  }
  get CreatedAt(): string {
    return goTimeString(this.n.Created);
  }
  Label(name: string): string {
    return this.n.Labels?.[name] ?? '';
  }
}

interface CreateOptions {
  driver: string;
  subnet?: string[];
  gateway?: string[];
  ipRange?: string[];
  auxAddress?: string[];
  ipamDriver: string;
  ipamOpt?: string[];
  opt?: string[];
  label?: string[];
  internal?: boolean;
  attachable?: boolean;
  ingress?: boolean;
  ipv4?: boolean;
  ipv6?: boolean;
  scope?: string;
  configFrom?: string;
  configOnly?: boolean;
}

/** docker's pairing of --subnet with the --gateway / --ip-range / --aux-address inside it (one of each per subnet, in order). */
function ipamConfig(o: CreateOptions): { Subnet?: string; Gateway?: string; IPRange?: string; AuxiliaryAddresses?: Record<string, string> }[] {
  const subnets = o.subnet ?? [];
  if (subnets.length === 0) {
    if ((o.gateway ?? []).length > 0 || (o.ipRange ?? []).length > 0) throw new CliError('every ip-range or gateway must have a corresponding subnet', 1);
    return [];
  }
  if ((o.gateway ?? []).length > subnets.length) throw new CliError('cannot configure multiple gateways for a subnet', 1);
  const aux = keyValues(o.auxAddress);
  return subnets.map((Subnet, i) => ({
    Subnet,
    ...(o.ipRange?.[i] !== undefined ? { IPRange: o.ipRange[i] } : {}),
    ...(o.gateway?.[i] !== undefined ? { Gateway: o.gateway[i] } : {}),
    ...(i === 0 && aux !== undefined ? { AuxiliaryAddresses: aux } : {}),
  }));
}

export function networkCommand(parent: Command, ctx: CliContext): void {
  const network = parent.command('network').description('Manage networks');

  network
    .command('create')
    .description('Create a network')
    .argument('<NETWORK>')
    .option('--attachable', 'Enable manual container attachment')
    .option('--aux-address <map>', 'Auxiliary IPv4 or IPv6 addresses used by Network driver', collect)
    .option('--config-from <string>', 'The network from which to copy the configuration')
    .option('--config-only', 'Create a configuration only network')
    .option('-d, --driver <string>', 'Driver to manage the Network', 'bridge')
    .option('--gateway <strings>', 'IPv4 or IPv6 Gateway for the master subnet', collect)
    .option('--ingress', 'Create swarm routing-mesh network')
    .option('--internal', 'Restrict external access to the network')
    .option('--ip-range <strings>', 'Allocate container ip from a sub-range', collect)
    .option('--ipam-driver <string>', 'IP Address Management Driver', 'default')
    .option('--ipam-opt <map>', 'Set IPAM driver specific options', collect)
    .option('--ipv4', 'Enable or disable IPv4 address assignment')
    .option('--ipv6', 'Enable or disable IPv6 address assignment')
    .option('--label <list>', 'Set metadata on a network', collect)
    .option('-o, --opt <map>', 'Set driver specific options', collect)
    .option('--scope <string>', "Control the network's scope")
    .option('--subnet <strings>', 'Subnet in CIDR format that represents a network segment', collect)
    .action(async (name: string, o: CreateOptions) => {
      const res = await ctx.client().networks.create({
        Name: name,
        Driver: o.driver,
        Options: keyValues(o.opt) ?? {},
        IPAM: { Driver: o.ipamDriver, Config: ipamConfig(o), Options: keyValues(o.ipamOpt) ?? {} },
        Internal: o.internal === true,
        Attachable: o.attachable === true,
        Ingress: o.ingress === true,
        ...(o.ipv4 === true ? { EnableIPv4: true } : {}),
        EnableIPv6: o.ipv6 === true,
        ConfigOnly: o.configOnly === true,
        ...(o.configFrom !== undefined ? { ConfigFrom: { Network: o.configFrom } } : {}),
        ...(o.scope !== undefined ? { Scope: o.scope } : {}),
        Labels: keyValues(o.label) ?? {},
      });
      if (res.Warning !== undefined && res.Warning !== '') ctx.stderr.write(res.Warning + '\n');
      ctx.stdout.write(res.Id + '\n');
    });

  network
    .command('ls')
    .alias('list')
    .description('List networks')
    .option('-f, --filter <filter>', 'Provide filter values (e.g. "driver=bridge")', collect)
    .option('--format <string>', "Format output using a custom template: 'table', 'table TEMPLATE', 'json' or 'TEMPLATE'")
    .option('--no-trunc', 'Do not truncate the output')
    .option('-q, --quiet', 'Only display network IDs')
    .action(async (o: { filter?: string[]; format?: string; trunc?: boolean; quiet?: boolean }) => {
      const fmt = listFormat(o.format ?? '', {
        defaultTable: 'table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}',
        quiet: o.quiet === true && (o.format === undefined || o.format === ''),
      });
      const list = await ctx.client().networks.list({ filters: toFilters(o.filter) });
      list.sort((a, b) => (a.Name < b.Name ? -1 : a.Name > b.Name ? 1 : 0));
      ctx.stdout.write(
        fmt.render(
          list.map((n) => new NetworkRow(n, o.trunc !== false)),
          HEADER,
        ),
      );
    });

  network
    .command('inspect')
    .description('Display detailed information on one or more networks')
    .argument('<NETWORK...>')
    .option('-f, --format <string>', "Format output using a custom template: 'json' or 'TEMPLATE'")
    .option('-v, --verbose', 'Verbose output for diagnostics')
    .action((names: string[], o: { format?: string }) => inspectEach(ctx, names, o.format, (n) => ctx.client().networks.inspect(n)));

  network
    .command('rm')
    .alias('remove')
    .description('Remove one or more networks')
    .argument('<NETWORK...>')
    .option('-f, --force', 'Do not error if the network does not exist')
    .action(async (names: string[], o: { force?: boolean }) => {
      // docker prints each failure, then "exit status 1" as its own error line
      let failed = false;
      for (const n of names) {
        try {
          await ctx.client().networks.remove(n);
          ctx.stdout.write(`${n}\n`);
        } catch (e) {
          if (o.force === true && e instanceof NotFoundError) continue;
          if (e instanceof ConnectionError) throw e;
          ctx.stderr.write(describeError(e).message + '\n');
          failed = true;
        }
      }
      if (failed) throw new CliError('exit status 1', 1);
    });

  network
    .command('connect')
    .description('Connect a container to a network')
    .argument('<NETWORK>')
    .argument('<CONTAINER>')
    .option('--alias <strings>', 'Add network-scoped alias for the container', collect)
    .option('--driver-opt <strings>', 'driver options for the network', collect)
    .option('--ip <string>', 'IPv4 address (e.g., "172.30.100.104")')
    .option('--ip6 <string>', 'IPv6 address (e.g., "2001:db8::33")')
    .option('--link <list>', 'Add link to another container', collect)
    .option('--link-local-ip <strings>', 'Add a link-local address for the container', collect)
    .action(
      async (
        net: string,
        container: string,
        o: { alias?: string[]; driverOpt?: string[]; ip?: string; ip6?: string; link?: string[]; linkLocalIp?: string[] },
      ) => {
        const ipam = o.ip !== undefined || o.ip6 !== undefined || o.linkLocalIp !== undefined;
        await ctx.client().networks.connect(net, {
          Container: container,
          EndpointConfig: {
            ...(ipam ? { IPAMConfig: { IPv4Address: o.ip, IPv6Address: o.ip6, LinkLocalIPs: o.linkLocalIp } } : {}),
            Aliases: o.alias ?? null,
            Links: o.link ?? null,
            DriverOpts: keyValues(o.driverOpt) ?? null,
          },
        });
      },
    );

  network
    .command('disconnect')
    .description('Disconnect a container from a network')
    .argument('<NETWORK>')
    .argument('<CONTAINER>')
    .option('-f, --force', 'Force the container to disconnect from a network')
    .action(async (net: string, container: string, o: { force?: boolean }) => {
      await ctx.client().networks.disconnect(net, { Container: container, Force: o.force === true });
    });

  network
    .command('prune')
    .description('Remove all unused networks')
    .option('--filter <filter>', 'Provide filter values (e.g. "until=<timestamp>")', collect)
    .option('-f, --force', 'Do not prompt for confirmation')
    .action(async (o: { filter?: string[]; force?: boolean }) => {
      if (o.force !== true && !(await confirm(ctx, 'WARNING! This will remove all custom networks not used by at least one container.'))) return;
      const res = await ctx.client().networks.prune({ filters: toFilters(o.filter) });
      const deleted = res.NetworksDeleted ?? [];
      if (deleted.length > 0) ctx.stdout.write(`Deleted Networks:\n${deleted.map((n) => n + '\n').join('')}\n`);
    });
}
