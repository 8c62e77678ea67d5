// Kubernetes' protobuf request bodies, decoded to the JSON objects the API's handlers take.
export { bodyType, decodeProtobufBody, type Expected, isProtobuf, PROTOBUF } from './body.js';
export { decodeMessage } from './message.js';
