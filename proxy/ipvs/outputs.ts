/**
 * Everything `kpath ipvs` can print for one node's IPVS, rendered at once: the offline command and
 * the running `kpath up`'s admin endpoint (/api/v1/ipvs, read by `kpath ipvs --live`) share it.
 */
import {
  type IpvsJson,
  type IpvsTable,
  ipvsJson,
  renderIpvsadmConnections,
  renderIpvsadmList,
  renderIpvsadmSave,
} from '../../netmodel/ipvs/index.js';

export interface IpvsOutputs {
  /** `ipvsadm -Ln` */
  readonly list: string;
  /** `ipvsadm -Ln --stats` */
  readonly stats: string;
  /** `ipvsadm -Lnc` */
  readonly connections: string;
  /** `ipvsadm-save -n` */
  readonly save: string;
  readonly json: IpvsJson & { readonly node: string };
}

export function ipvsOutputs(node: string, table: IpvsTable, now: number): IpvsOutputs {
  return {
    list: renderIpvsadmList(table),
    stats: renderIpvsadmList(table, { stats: true }),
    connections: renderIpvsadmConnections(table, now),
    save: renderIpvsadmSave(table),
    json: { node, ...ipvsJson(table, { connectionsAt: now }) },
  };
}
