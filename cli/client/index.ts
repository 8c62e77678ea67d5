// The client helper now lives in proxy/client (lab/ uses it too); cli/ keeps importing it from here.
export {
  type ClientSource,
  type Destination,
  type DnsStep,
  describeDestination,
  describeSeen,
  type EchoIdentity,
  type HttpRequest,
  type HttpResponse,
  httpRequest,
  parseEcho,
  parseSource,
  queryA,
  RequestFailure,
  type Resolution,
  resolveHost,
} from '../../proxy/client/index.js';
