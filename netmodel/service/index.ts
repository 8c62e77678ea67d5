// The per-node service view and the one endpoint-eligibility function, listed by hand.
export { categorizeEndpoints, type EndpointCategories } from './categorize.js';
export { type EndpointView, type ServicePortView, servicePortViews, servicePortViewsOf } from './ports.js';
