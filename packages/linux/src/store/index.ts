export * from './durable';
export { RecordStore, RecordConflict } from './record-store';
export type { RecordStoreOptions } from './record-store';
