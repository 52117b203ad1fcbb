/**
 * @gantry/registry: a Docker Registry v2 / OCI distribution client that pulls into and pushes from
 * gantry-containerd's content, image and snapshot stores over its gRPC API.
 */
export { RegistryClient, credentialsFor } from './client';
export type { DistributionInspect } from './client';
export { RegistryHost, endpointHost, isLoopback, withRetry } from './transport';
export type { TransportOptions, RegistryRequest, RegistryResponse } from './transport';
export { Repository, MANIFEST_ACCEPT } from './repository';
export { pullImage, sourceLabel } from './pull';
export type { PullOptions, PullResult } from './pull';
export { pushImage } from './push';
export type { PushOptions, PushResult } from './push';
export { ContainerdStore, ContentWriter } from './store';
export type { StoreClients, BlobDescriptor } from './store';
export { parseChallenges, basicAuth, repositoryScope, TokenCache } from './auth';
export type { Credentials, Challenge } from './auth';
export { readDockerConfig, credentialsFromConfig, credentialHelperGet, defaultConfigPath, registryKeyHost, DOCKER_HUB_KEY } from './credentials';
export type { DockerConfig } from './credentials';
export { RegistryError, isTransient } from './errors';
export type { RegistryErrorKind } from './errors';
export { shortDigest, LayerProgress } from './progress';
export type { JsonMessage, ProgressSink } from './progress';
