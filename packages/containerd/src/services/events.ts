/** containerd.services.events.v1.Events: Publish and Forward into the exchange, Subscribe out of it. */
import { Metadata, type ServerWritableStream } from '@grpc/grpc-js';
import { timestampFromDate, timestampToDate, type events, type protobuf } from '@gantry/api';
import type { DaemonContext } from '../context';
import { invalidArgument, toServiceError } from '../errors';
import { validTopic, type EventEnvelope } from '../events/exchange';
import { FilterSyntaxError } from '../events/filters';
import { requireNamespace, unary, validateNamespaceName } from '../rpc';

function checkTopic(topic: string): void {
  if (!validTopic(topic))
    throw invalidArgument(`envelope topic ${JSON.stringify(topic)} is invalid: it must look like "/a/b" (non-empty parts of letters, digits, "_", "-", ".")`);
}

function requireEvent(event: protobuf.Any | undefined): protobuf.Any {
  if (!event?.typeUrl) throw invalidArgument('event must be set (an Any with a type_url)');
  return event;
}

export function eventsService(ctx: DaemonContext): events.EventsServer {
  const log = ctx.log.with({ service: 'events' });

  return {
    // from a client in a namespace (a shim, ctr): stamped now
    publish: unary(log, 'Publish', (req: events.PublishRequest, md) => {
      const namespace = requireNamespace(md);
      checkTopic(req.topic);
      ctx.exchange.publish({ timestamp: new Date(), namespace, topic: req.topic, event: requireEvent(req.event) });
      return {};
    }),

    // re-publishing an envelope raised elsewhere: its namespace and time are kept
    forward: unary(log, 'Forward', (req: events.ForwardRequest) => {
      const env = req.envelope;
      if (!env) throw invalidArgument('envelope must be set');
      validateNamespaceName(env.namespace);
      checkTopic(env.topic);
      if (!env.timestamp) throw invalidArgument('timestamp must be set on a forwarded event');
      ctx.exchange.publish({ timestamp: timestampToDate(env.timestamp), namespace: env.namespace, topic: env.topic, event: requireEvent(env.event) });
      return {};
    }),

    // every namespace's events, as containerd does; filters narrow them (namespace==x)
    subscribe: (call: ServerWritableStream<events.SubscribeRequest, events.Envelope>) => {
      let unsubscribe: () => void;
      try {
        unsubscribe = ctx.exchange.subscribe(call.request.filters, (e: EventEnvelope) => {
          call.write({ timestamp: timestampFromDate(e.timestamp), namespace: e.namespace, topic: e.topic, event: e.event });
        });
      } catch (e) {
        const err = toServiceError(e instanceof FilterSyntaxError ? invalidArgument(`invalid filter: ${e.message}`) : e);
        log.debug('request failed', { method: 'Subscribe', code: err.code, error: err.details });
        call.emit('error', err);
        return;
      }
      // headers now rather than with the first event: the client can tell the subscription is live
      call.sendMetadata(new Metadata());
      // until the client goes away (or the server shuts down)
      call.once('cancelled', unsubscribe);
      call.once('close', unsubscribe);
    },
  };
}
