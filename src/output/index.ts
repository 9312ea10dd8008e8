export * from './schema.js';
export { EventWriter, ECS_VERSION } from './writer.js';
