export * from './errors';
export * from './ip';
export * from './cni';
export * from './netns';
export * from './link';
export * as firewall from './firewall';
export * from './store';
export * from './ipam';
export * from './conflist';
export * from './ports';
export * from './dns/message';
export {
  DnsServer,
  upstreamNameservers,
  allowedUpstreams,
  isReplyTo,
  udpUpstream,
  DEFAULT_MAX_CONCURRENT,
  type Lookup,
  type DnsServerOptions,
  type DnsServerStats,
  type ConnectUpstream,
  type UpstreamSocket,
  type Peer,
} from './dns/server';
export { run, CommandError } from './run';
