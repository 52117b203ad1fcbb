/** The well-known types the API uses (google.protobuf.*), and google.rpc.Status as RpcStatus. */
export * from './gen/google/protobuf/any';
export * from './gen/google/protobuf/empty';
export * from './gen/google/protobuf/timestamp';
export * from './gen/google/protobuf/field_mask';
export { Status as RpcStatus } from './gen/google/rpc/status';
