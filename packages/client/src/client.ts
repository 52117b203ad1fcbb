/** EngineClient: one daemon, its endpoint groups, and how to reach it. */
import { API_VERSION } from '@gantry/engine-api';
import { Containers } from './containers';
import { Core } from './core';
import { Exec } from './exec';
import { configFromEnv, parseHost, readCertDir, type TlsFiles } from './host';
import { Images } from './images';
import { Networks } from './networks';
import { System } from './system';
import { Transport } from './transport';
import { Volumes } from './volumes';

export interface ClientOptions {
  /** `unix:///path`, `/path`, `tcp://host:port`; default GANTRY_HOST, DOCKER_HOST, then gantryd's socket. */
  host?: string;
  /**
   * TLS for a TCP host: the files themselves, or a directory with ca.pem, cert.pem and key.pem.
   * Default, as the docker CLI (whatever chose the host): DOCKER_TLS_VERIFY + DOCKER_CERT_PATH.
   */
  tls?: TlsFiles | { certPath: string; verify?: boolean };
  /** A fixed API version (no negotiation); default DOCKER_API_VERSION, else negotiated. */
  apiVersion?: string;
  /** Upper bound for each call that is not a stream (logs, events, pull, wait, ... are not cut). */
  timeoutMs?: number;
  /** The environment to read (default process.env). */
  env?: NodeJS.ProcessEnv;
}

export class EngineClient {
  /** The API version this library speaks at most. */
  static readonly maxApiVersion = API_VERSION;

  readonly containers: Containers;
  readonly exec: Exec;
  readonly images: Images;
  readonly networks: Networks;
  readonly volumes: Volumes;
  readonly system: System;
  /** The daemon's address, as messages name it (e.g. `unix:///run/gantry/gantry.sock`). */
  readonly host: string;
  private readonly core: Core;

  constructor(o: ClientOptions = {}) {
    const env = configFromEnv(o.env ?? process.env);
    const tlsOpt = o.tls ?? env.tls;
    const tls = tlsOpt === undefined ? undefined : 'certPath' in tlsOpt ? { ...readCertDir(tlsOpt.certPath), verify: tlsOpt.verify ?? true } : tlsOpt;
    const address = parseHost(o.host ?? env.host, tls !== undefined);
    const transport = new Transport(address, address.proto === 'tcp' ? tls : undefined);
    this.host = transport.host;
    this.core = new Core(transport, o.apiVersion ?? env.apiVersion, o.timeoutMs);
    this.containers = new Containers(this.core);
    this.exec = new Exec(this.core);
    this.images = new Images(this.core);
    this.networks = new Networks(this.core);
    this.volumes = new Volumes(this.core);
    this.system = new System(this.core);
  }

  /** The API version in use (negotiated with the daemon on first use unless fixed). */
  apiVersion(signal?: AbortSignal): Promise<string> {
    return this.core.apiVersion(signal);
  }
}
