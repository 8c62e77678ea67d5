// The public surface of netmodel/pcap, listed by hand: frames as typed descriptions, their encoder and
// decoder, VXLAN and ICMP-error builders, and pcapng writing and reading. Pure: bytes in, bytes out.
export { hexBytes, hexText, macBytes, macText } from './bytes.js';
export { crc32c, internetChecksum } from './checksum.js';
export { checkFrame, type DecodedFrame, type DecodeOptions, decodeFrame } from './decode.js';
export { type EchoInit, icmpEchoReply, icmpEchoRequest, PING_DEFAULT_SIZE, pingPayload } from './echo.js';
export { encodeFrame, encodeIpv4, encodeIpv6 } from './encode.js';
export {
  comparableFields,
  type FieldValue,
  type FrameFields,
  frameFields,
  RANDOMISED_FIELDS,
} from './fields.js';
export * from './frame.js';
export { frameFromPacket, type HopL2, type SegmentDetail } from './from-packet.js';
export {
  fragmentIpv4,
  ICMP_QUOTE_MAX,
  type IcmpErrorInit,
  icmpError,
  icmpFragNeeded,
  icmpQuote,
  reassembleIpv4,
} from './icmp-error.js';
export {
  decodePcapng,
  framesByInterface,
  type ReadCapture,
  type ReadInterface,
  type ReadPacket,
} from './pcapng-read.js';
export {
  CaptureCollector,
  DEFAULT_SNAPLEN,
  encodePcapng,
  LINKTYPE_ETHERNET,
  nodeInterfaceName,
  type PcapngCapture,
  type PcapngInterface,
  type PcapngPacket,
  podInterfaceName,
} from './pcapng-write.js';
export {
  LOCAL_PORT_RANGE,
  udpFlowSrcPort,
  VXLAN_IPV4_HEADROOM,
  VXLAN_IPV4_WIRE_OVERHEAD,
  type VxlanEncap,
  vxlanEncapsulate,
  vxlanFlowHash,
} from './vxlan.js';
