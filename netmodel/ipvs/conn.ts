/**
 * IPVS connection entries (struct ip_vs_conn) and the table that holds them (ip_vs_conn.c): normal
 * connections and persistence templates, looked up from the client side (in) and the real-server
 * side (out), each with a timer. Time is an argument: entries expire when a call passes a `now` at
 * or after their expiry, in expiry order, so a template that still controls connections when its
 * timer fires is re-armed for 60 s as the kernel does.
 */
import type { IP } from '../addr.js';
import type { IpvsDest } from './dest.js';
import type { IpvsTcpState } from './tcp-state.js';
import type { IpvsProtocol } from './types.js';

/** What a connection entry shows: a TCP state, 'UDP' (IP_VS_UDP_S_NORMAL), or a template's NONE/ASSURED. */
export type IpvsConnState = IpvsTcpState | 'UDP' | 'ASSURED';

export interface IpvsConnView {
  readonly id: number;
  readonly protocol: IpvsProtocol;
  readonly caddr: IP;
  readonly cport: number;
  readonly vaddr: IP;
  readonly vport: number;
  readonly daddr: IP;
  readonly dport: number;
  /** IP_VS_CONN_F_TEMPLATE: a persistence template. */
  readonly template: boolean;
  readonly state: IpvsConnState;
  /** IP_VS_CONN_F_INACTIVE (counted in inactconns). */
  readonly inactive: boolean;
  /** The timeout the next timer restart uses, ms. */
  readonly timeoutMs: number;
  readonly expiresAt: number;
  readonly createdAt: number;
  /** Connections this template controls (n_control). */
  readonly nControl: number;
  /** The template that controls this connection, if any. */
  readonly control: IpvsConnView | undefined;
  readonly destName: string;
}

export class IpvsConn implements IpvsConnView {
  state: IpvsConnState;
  inactive = true;
  /** IP_VS_CONN_F_NOOUTPUT: no reply seen yet on a non-NAT connection. */
  noOutput: boolean;
  /** IP_VS_CONN_F_NFCT: net.ipv4.vs.conntrack was on when it was made. */
  nfct: boolean;
  timeoutMs: number;
  expiresAt: number;
  nControl = 0;
  control: IpvsConn | undefined;
  /** Removed from the table. */
  dead = false;
  /** A template invalidated by ip_vs_check_template (its ports set to 0xffff so nothing finds it). */
  invalid = false;
  readonly createdAt: number;

  constructor(
    readonly id: number,
    readonly protocol: IpvsProtocol,
    public caddr: IP,
    public cport: number,
    public vaddr: IP,
    public vport: number,
    readonly daddr: IP,
    readonly dport: number,
    readonly dest: IpvsDest,
    /** The key of the service this entry was made for (its dest may outlive it). */
    readonly serviceKey: string,
    readonly template: boolean,
    opts: { noOutput: boolean; nfct: boolean; now: number; timeoutMs: number },
  ) {
    this.state = 'NONE';
    this.noOutput = opts.noOutput;
    this.nfct = opts.nfct;
    this.createdAt = opts.now;
    this.timeoutMs = opts.timeoutMs;
    this.expiresAt = opts.now + opts.timeoutMs;
  }

  get destName(): string {
    return this.dest.name;
  }

  /** ip_vs_conn_put: restart the timer with the current timeout. */
  touch(now: number): void {
    this.expiresAt = now + this.timeoutMs;
  }
}

function inKey(proto: string, caddr: IP, cport: number, vaddr: IP, vport: number): string {
  return `${proto}|${caddr.text}|${cport}|${vaddr.text}|${vport}`;
}

/** The connection table of one node. */
export class IpvsConnTable {
  private nextId = 1;
  /** Live entries in creation order. */
  private readonly all = new Map<number, IpvsConn>();
  /** Normal connections by client tuple, by real-server tuple, and templates by their key. */
  private readonly byIn = new Map<string, IpvsConn>();
  private readonly byOut = new Map<string, IpvsConn>();
  private readonly templates = new Map<string, IpvsConn>();
  /** No entry expires before this time (a lower bound: packets only push expiries later). */
  private nextExpiry = Number.POSITIVE_INFINITY;

  get size(): number {
    return this.all.size;
  }

  create(init: {
    protocol: IpvsProtocol;
    caddr: IP;
    cport: number;
    vaddr: IP;
    vport: number;
    daddr: IP;
    dport: number;
    dest: IpvsDest;
    serviceKey: string;
    template: boolean;
    noOutput: boolean;
    nfct: boolean;
    now: number;
    timeoutMs: number;
  }): IpvsConn {
    const c = new IpvsConn(
      this.nextId++,
      init.protocol,
      init.caddr,
      init.cport,
      init.vaddr,
      init.vport,
      init.daddr,
      init.dport,
      init.dest,
      init.serviceKey,
      init.template,
      { noOutput: init.noOutput, nfct: init.nfct, now: init.now, timeoutMs: init.timeoutMs },
    );
    this.all.set(c.id, c);
    if (c.template) this.templates.set(inKey(c.protocol, c.caddr, c.cport, c.vaddr, c.vport), c);
    else {
      this.byIn.set(inKey(c.protocol, c.caddr, c.cport, c.vaddr, c.vport), c);
      this.byOut.set(inKey(c.protocol, c.daddr, c.dport, c.caddr, c.cport), c);
    }
    // ip_vs_bind_dest: templates count in persistconns, others start inactive.
    const d = c.dest;
    if (c.template) d.persistConns++;
    else d.inactConns++;
    d.afterBind();
    if (c.expiresAt < this.nextExpiry) this.nextExpiry = c.expiresAt;
    return c;
  }

  /** ip_vs_conn_in_get: the connection of a client->VIP packet. */
  getIn(proto: IpvsProtocol, caddr: IP, cport: number, vaddr: IP, vport: number): IpvsConn | undefined {
    return this.byIn.get(inKey(proto, caddr, cport, vaddr, vport));
  }

  /** ip_vs_conn_out_get: the connection of a real-server->client packet. */
  getOut(proto: IpvsProtocol, raddr: IP, rport: number, caddr: IP, cport: number): IpvsConn | undefined {
    return this.byOut.get(inKey(proto, raddr, rport, caddr, cport));
  }

  /** ip_vs_ct_in_get: a persistence template. */
  getTemplate(proto: IpvsProtocol, cnet: IP, vaddr: IP, vport: number): IpvsConn | undefined {
    return this.templates.get(inKey(proto, cnet, 0, vaddr, vport));
  }

  /** ip_vs_check_template failed: the template can no longer be found (ports 0xffff), it waits for its timer. */
  invalidate(t: IpvsConn): void {
    const k = inKey(t.protocol, t.caddr, t.cport, t.vaddr, t.vport);
    if (this.templates.get(k) === t) this.templates.delete(k);
    t.invalid = true;
    t.vport = 0xffff;
    t.cport = 0;
  }

  /** Note a timer restart, so that `expire` looks again in time. */
  rearmed(c: IpvsConn): void {
    if (c.expiresAt < this.nextExpiry) this.nextExpiry = c.expiresAt;
  }

  /**
   * Run every timer due at `now`, in expiry order (ip_vs_conn_expire). A template still controlling
   * connections is re-armed with a 60 s timeout; anything else is unlinked, unbound from its dest
   * and released from its template. Returns the entries removed.
   */
  expire(now: number): IpvsConn[] {
    if (now < this.nextExpiry) return [];
    const removed: IpvsConn[] = [];
    for (;;) {
      let first: IpvsConn | undefined;
      let next = Number.POSITIVE_INFINITY;
      for (const c of this.all.values()) {
        if (c.expiresAt <= now && (!first || c.expiresAt < first.expiresAt)) first = c;
        else if (c.expiresAt < next) next = c.expiresAt;
      }
      if (!first) {
        this.nextExpiry = next;
        return removed;
      }
      if (first.nControl > 0) {
        // expire_later: cp->timeout = 60*HZ and the timer restarts from when it fired.
        first.timeoutMs = 60_000;
        first.expiresAt += 60_000;
        continue;
      }
      this.remove(first);
      removed.push(first);
    }
  }

  /** ip_vs_conn_expire_now + unlink: take an entry out at once. */
  remove(c: IpvsConn): void {
    if (c.dead) return;
    c.dead = true;
    this.all.delete(c.id);
    const k = inKey(c.protocol, c.caddr, c.cport, c.vaddr, c.vport);
    if (c.template) {
      if (this.templates.get(k) === c) this.templates.delete(k);
    } else {
      if (this.byIn.get(k) === c) this.byIn.delete(k);
      const ko = inKey(c.protocol, c.daddr, c.dport, c.caddr, c.cport);
      if (this.byOut.get(ko) === c) this.byOut.delete(ko);
    }
    // ip_vs_unbind_dest
    const d = c.dest;
    if (c.template) d.persistConns--;
    else if (c.inactive) d.inactConns--;
    else d.activeConns--;
    d.afterUnbind();
    if (c.control) {
      c.control.nControl--;
      c.control = undefined;
    }
  }

  /** Live entries in creation order (templates included). */
  list(): IpvsConn[] {
    return [...this.all.values()];
  }

  /** Whether any entry still references a dest (the kernel's refcnt on a trashed dest). */
  references(d: IpvsDest): boolean {
    return d.activeConns + d.inactConns + d.persistConns > 0;
  }
}
