/** Stream protocol names and their negotiation, as kubelet's streaming server offers them. */

/** SPDY exec/attach protocols, the server's order of preference (client-go offers newest first). */
export const REMOTECOMMAND_SPDY_PROTOCOLS = ['v4.channel.k8s.io', 'v3.channel.k8s.io', 'v2.channel.k8s.io', 'channel.k8s.io'] as const;
export const PORTFORWARD_SPDY_PROTOCOLS = ['portforward.k8s.io'] as const;

/** WebSocket subprotocols for exec/attach; '' is a client that names none (binary channel.k8s.io). */
export const REMOTECOMMAND_WS_PROTOCOLS = [
  'v5.channel.k8s.io',
  'v4.channel.k8s.io',
  'v4.base64.channel.k8s.io',
  'channel.k8s.io',
  'base64.channel.k8s.io',
] as const;
export const PORTFORWARD_WS_PROTOCOLS = ['v4.channel.k8s.io', 'v4.base64.channel.k8s.io', 'portforward.k8s.io'] as const;

export const STREAM_PROTOCOL_HEADER = 'X-Stream-Protocol-Version';
export const ACCEPTED_PROTOCOLS_HEADER = 'X-Accepted-Stream-Protocol-Versions';

/** The first protocol the client offers that the server supports (client order wins, as apimachinery's Handshake). */
export function negotiate(client: readonly string[], server: readonly string[]): string | undefined {
  return client.find((p) => server.includes(p));
}

/** The remotecommand protocol version: 1 (channel.k8s.io) to 5. */
export function remotecommandVersion(protocol: string): number {
  const m = /^v(\d)\./.exec(protocol);
  return m ? Number(m[1]) : 1;
}

/** Split a header that may come repeated and comma-joined into its items. */
export function headerItems(v: string | string[] | undefined): string[] {
  const all = Array.isArray(v) ? v : v === undefined ? [] : [v];
  return all
    .flatMap((s) => s.split(','))
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

/** SPDY stream types (the `streamtype` header) and channel numbers over WebSocket. */
export const StreamType = { Error: 'error', Stdin: 'stdin', Stdout: 'stdout', Stderr: 'stderr', Resize: 'resize', Data: 'data' } as const;
export const Channel = { Stdin: 0, Stdout: 1, Stderr: 2, Error: 3, Resize: 4 } as const;
/** v5.channel.k8s.io: a message [255, n] closes channel n. */
export const CLOSE_CHANNEL = 255;
