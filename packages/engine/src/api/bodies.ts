/**
 * Schemas of the request bodies outside the container endpoints, decoded by the one typed decoder
 * (`containers/decode.ts`: unknown fields ignored as dockerd's Go decoder does, a wrong type is a
 * 400 with Go's wording). Field names and types from the Engine API (API 1.45): moby's
 * network.CreateRequest, volume.CreateOptions and registry.AuthConfig.
 */
import { decode, S } from '../containers/decode';
import type { CreateNetworkRequest } from '../networks/controller';

const IPAM_CONFIG = S.object('network.IPAMConfig', { Subnet: S.string, IPRange: S.string, Gateway: S.string, AuxiliaryAddresses: S.stringMap });

/** `POST /networks/create`. */
const NETWORK_CREATE_BODY = S.object('network.CreateRequest', {
  Name: S.string,
  Driver: S.string,
  Scope: S.string,
  EnableIPv4: S.bool,
  EnableIPv6: S.bool,
  IPAM: S.object('network.IPAM', { Driver: S.string, Options: S.stringMap, Config: S.array(IPAM_CONFIG) }),
  Internal: S.bool,
  Attachable: S.bool,
  Ingress: S.bool,
  ConfigOnly: S.bool,
  ConfigFrom: S.object('network.ConfigReference', { Network: S.string }),
  Options: S.stringMap,
  Labels: S.stringMap,
  CheckDuplicate: S.bool,
});

/** `POST /volumes/create` (ClusterVolumeSpec only has to be an object: swarm volumes are refused). */
const VOLUME_CREATE_BODY = S.object('volume.CreateOptions', {
  Name: S.string,
  Driver: S.string,
  DriverOpts: S.stringMap,
  Labels: S.stringMap,
  ClusterVolumeSpec: S.opaque,
});

/** `POST /auth` (the CLI sends the lower-case JSON names; the match is case-insensitive as Go's). */
const AUTH_BODY = S.object('registry.AuthConfig', {
  username: S.string,
  password: S.string,
  auth: S.string,
  email: S.string,
  serveraddress: S.string,
  identitytoken: S.string,
  registrytoken: S.string,
});

export interface VolumeCreateBody {
  Name?: string;
  Driver?: string;
  DriverOpts?: Record<string, string>;
  Labels?: Record<string, string>;
  ClusterVolumeSpec?: Record<string, unknown>;
}

export interface AuthBody {
  username?: string;
  password?: string;
  auth?: string;
  email?: string;
  serveraddress?: string;
  identitytoken?: string;
  registrytoken?: string;
}

/** An absent or `null` body decodes as `{}` (Go leaves the struct at its zero value). */
export function decodeNetworkCreate(body: unknown): CreateNetworkRequest {
  return (decode(body, NETWORK_CREATE_BODY, 'CreateRequest') ?? {}) as CreateNetworkRequest;
}

export function decodeVolumeCreate(body: unknown): VolumeCreateBody {
  return (decode(body, VOLUME_CREATE_BODY, 'CreateOptions') ?? {}) as VolumeCreateBody;
}

export function decodeAuth(body: unknown): AuthBody {
  return (decode(body, AUTH_BODY, 'AuthConfig') ?? {}) as AuthBody;
}
