// The public surface of netmodel, listed by hand. Everything here is pure: no I/O, no clock, no randomness
// except what is passed in.
export * from './addr.js';
export * from './clock.js';
export * from './errors.js';
export * from './packet.js';
export * from './rng.js';
export * from './twins.js';
