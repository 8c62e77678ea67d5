// `kpath demo`'s cluster layout, listed by hand.
export {
  DEMO_SLOTS,
  type DemoLayout,
  demoLoopbackMap,
  demoManifests,
  demoNodePort,
  demoSlots,
  EXTERNAL_CLIENT,
  PORT_SHIFT,
  PRIVILEGED_BELOW,
} from './manifests.js';
