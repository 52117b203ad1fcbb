/** Layers: apply a layer tar onto a directory, and compute one between two trees or mounts. */
export { applyLayer } from './apply';
