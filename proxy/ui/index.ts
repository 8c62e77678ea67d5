// The web page served by kpath up (proxy/ui): its public surface, listed by hand.
export { webAsset, webDir } from './assets.js';
export { LIVE_INTERVAL_MS, LiveFeed, type LiveSource, type LiveState, liveState } from './live.js';
export { createUi, type Ui, type UiSource } from './routes.js';
export { type Topology, topologyOf } from './topology.js';
export { type UiTrace, type UiTraceQuery, uiTrace } from './trace.js';
