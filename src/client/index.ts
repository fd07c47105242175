/** `spikestream/client`: the TypeScript client of the WebSocket protocol v1. */
export { ClientError, SpikestreamClient } from './client.js';
export type {
  ClientOptions, ClientStats, ClientStatus, ErrorCode, HelloOptions, PredictionMessage, ReadyMessage, ReconnectOptions, ServerMessage, StatsMessage,
} from './client.js';
export { encodeEventsMessage, encodeRawMessage } from '../stream/protocol-events.js';
