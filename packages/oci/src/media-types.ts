/** Media types of image manifests, indexes, configs and layers (OCI and Docker schema 2). */
export const MediaType = {
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  ociLayerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  ociLayerNonDistributableGzip: 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayer: 'application/vnd.docker.image.rootfs.diff.tar',
  dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  dockerForeignLayerGzip: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
} as const;

export const isIndex = (m: string) => m === MediaType.ociIndex || m === MediaType.dockerManifestList;
export const isManifest = (m: string) => m === MediaType.ociManifest || m === MediaType.dockerManifest;
export const isConfig = (m: string) => m === MediaType.ociConfig || m === MediaType.dockerConfig;
export const isLayer = (m: string) =>
  m === MediaType.ociLayer ||
  m === MediaType.ociLayerGzip ||
  m === MediaType.dockerLayer ||
  m === MediaType.dockerLayerGzip ||
  m === MediaType.dockerForeignLayerGzip ||
  m === MediaType.ociLayerNonDistributableGzip ||
  m === MediaType.ociLayerZstd;
export const KNOWN_MEDIA_TYPES = new Set<string>(Object.values(MediaType));
