export { Flow, FLOW_OPEN, FLOW_CLOSED, type FlowEndReason, type ClientBy } from './flow.js';
export { FlowTable, type FlowTableOptions, type FlowTableStats, tlsHelloType } from './flow-table.js';
export { TcpStream, ReassemblyBudget } from './tcp-stream.js';
export type { StreamParser, StreamParserFactory, Direction, FlowFacts } from './stream-parser.js';
export { communityIdV1, communityIdTcp, flowCommunityId } from './community-id.js';
export { addressBytes, addressText } from './address.js';
export { flowId } from './flow-id.js';
