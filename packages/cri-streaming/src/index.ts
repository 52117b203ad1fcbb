export { StreamingServer, type StreamingServerOptions } from './server';
export type { StreamingRuntime, ExecStreams, TerminalSize, ExecRequest, AttachRequest, PortForwardRequest, StreamingResponse } from './runtime';
export { exitCodeOf, type Status, type StatusCause } from './status';
export { REMOTECOMMAND_SPDY_PROTOCOLS, REMOTECOMMAND_WS_PROTOCOLS, PORTFORWARD_SPDY_PROTOCOLS, PORTFORWARD_WS_PROTOCOLS } from './protocols';
export { SpdyConnection, SpdyStream, DEFAULT_CONNECTION_LIMITS, type ConnectionLimits } from './spdy/connection';
export { SpdyProtocolError } from './spdy/errors';
export { remoteCommand, type RemoteCommandOptions, type RemoteCommandResult } from './client/remotecommand';
export { portForward, type ForwardedConnection } from './client/portforward';
export { StreamingHttpError } from './client/connect';
