export * from './kinds';
export * from './grpc';
export * from './kind-of';
