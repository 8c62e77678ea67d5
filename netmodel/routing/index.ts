// Public surface of netmodel/routing, listed by hand.
export type { IfAddress, Interface, LinkKind, Scope } from './interfaces.js';
export { defaultScope, SCOPE_NUMBER } from './interfaces.js';
export type { AddrType, InputDecision, InterfaceInit, RouteDecision, RouteInit } from './node.js';
export { RoutingNode } from './node.js';
export { formatAddrBrief, formatRoute, formatRoutes } from './print.js';
export type { Route, RouteProto, RouteType } from './route.js';
export { compareRoutes, RouteTable } from './route.js';
