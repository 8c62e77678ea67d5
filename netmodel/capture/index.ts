// A kernel travel as a pcapng capture (kpath trace --pcap): its own folder so that the walker's users
// do not load netmodel/pcap's encoders. Public surface, listed by hand.
export { arpPcapFrame, CaptureCollector, captureTravel, pcapFrames } from './travel.js';
