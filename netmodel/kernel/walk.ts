/**
 * The packet walker: moves one packet through one node in the kernel's order.
 *
 *   arriving on an interface                        generated on the node
 *   ------------------------                        ---------------------
 *   PREROUTING raw                                  route lookup (ip_route_output)
 *   [conntrack: lookup or create]                   OUTPUT raw
 *   PREROUTING mangle                               [conntrack: lookup or create]
 *   PREROUTING nat        (DNAT; first packet only) OUTPUT mangle
 *   routing decision ----------+                    OUTPUT nat   (DNAT; first packet only)
 *     local: INPUT mangle      | forward:           OUTPUT filter
 *            INPUT filter      |  TTL, MTU (DF too  re-route if the destination changed
 *            INPUT nat (SNAT)  |  big: frag-needed)       |
 *            [confirm]         |  TTL - 1                 |
 *            -> delivered      |  FORWARD mangle          |
 *                              |  FORWARD filter          |
 *                              |  POSTROUTING mangle      |
 *                              |  POSTROUTING nat  <------+ POSTROUTING mangle, nat (SNAT/MASQUERADE)
 *                              |  [confirm] -> sent        [confirm] -> sent, or via lo back in:
 *                                                          PREROUTING raw, mangle; INPUT ... delivered
 *
 * A locally generated DF packet over the route's MTU fails with EMSGSIZE before OUTPUT.
 * nat chains see only the first packet of a connection (conntrack NEW with no binding yet); every
 * other packet, both directions, is translated from the conntrack entry. A DROP or REJECT anywhere
 * ends the walk; nothing throws for traffic.
 */
import { type IP, ipEquals } from '../addr.js';
import type {
  ConntrackEntryView,
  CtDirection,
  CtResult,
  NatContext,
  NatRange,
  ProcessOptions,
} from '../conntrack/index.js';
import { natPacket } from '../conntrack/index.js';
import type { IpvsHookOptions, IpvsHookResult } from '../ipvs/hook.js';
import type { IpvsConnView } from '../ipvs/index.js';
import {
  type BuiltinChain,
  type CtView,
  type EvalContext,
  type EvalResult,
  evaluate,
  HOOK_ORDER,
  type IpvsPacketView,
  type NatRequest,
  type TableName,
} from '../netfilter/index.js';
import type { Packet } from '../packet.js';
import { copyPacket, copyPacketInto, packet, withFields, withIif, withOif } from '../packet.js';
import type { Rng } from '../rng.js';
import type { RouteDecision } from '../routing/index.js';
import type { KernelNode } from './node.js';
import type { Outcome, Stage, WalkResult } from './outcome.js';

export interface WalkEnv {
  /** ms on the caller's clock. */
  readonly now: number;
  readonly rng: Rng;
  /** Record chains and matched rules with their iptables-save text. */
  readonly trace?: boolean;
  /** Bridge ports for the physdev match, when the packet came through a bridge. */
  readonly physdev?: { readonly in?: string; readonly out?: string };
  /**
   * Do not record stages: the result's `stages` is empty, and no stage text is built. Everything else
   * (outcome, conntrack, NAT, rule counters) is the same. For callers that only act on the verdict
   * (the runtime's iptables mode walks every new real connection). With no stages to show a packet
   * before and after each change, the walk copies the caller's packet once and writes its later
   * changes into that copy (the caller's packet and the result's `input` are never changed).
   */
  readonly noStages?: boolean;
  /**
   * Untraced walks that record no stages evaluate chains through the node's megaflow cache (default
   * true): the same verdicts, packets, NAT requests and counters, computed once per flow shape. false:
   * every chain is evaluated (the slow path the fast one is tested against).
   */
  readonly flowCache?: boolean;
}

interface Flow {
  ct?: ConntrackEntryView;
  dir?: CtDirection;
  state: CtView['state'];
  /** This packet created the entry (it is the first packet of the flow). */
  created: boolean;
  notrack: boolean;
}

/** The stages of every walk that records none (WalkResult.stages is read-only). */
const NO_STAGES: Stage[] = Object.freeze([]) as unknown as Stage[];

/**
 * The EvalContext and CtView of the last finished walk that evaluated through the flow cache (nothing
 * holds them after its finish: evaluations read them and keep neither), for the next such walk to
 * fill in instead of making a pair per walk. A walk started inside another finds none and makes its own.
 */
let spareCtx: Mutable<EvalContext> | undefined;
let spareView: Mutable<CtView> | undefined;

class Walk implements Flow {
  // Every field is written by start(), in this order, so that a finished lean walk's object can be
  // started again (one object for every lean walk; see leanWalk).
  node: KernelNode = undefined as unknown as KernelNode;
  env: WalkEnv = undefined as unknown as WalkEnv;
  /** The packet as the caller handed it in (never changed). */
  input: Packet = undefined as unknown as Packet;
  /** br_netfilter's bridge ports for this packet (overrides env.physdev). */
  physdev: WalkEnv['physdev'] = undefined;
  /** The caller takes only the outcome and the conntrack entry (the lean and verdict entry points). */
  lean = false;
  stages: Stage[] = NO_STAGES;
  // The flow (Flow), as fields of the walk: one object per walk instead of two.
  ct: ConntrackEntryView | undefined = undefined;
  dir: CtDirection | undefined = undefined;
  state: CtView['state'] = 'INVALID';
  created = false;
  notrack = false;
  /** The packet has been through conntrack on this node (its entry travels with it). */
  ctAttached = false;
  /** Record stages (not env.noStages). */
  rec = false;
  /** Evaluate through the node's megaflow cache (no stages, no trace, env.flowCache not false). */
  private cached = false;
  /**
   * The walk's EvalContext and its conntrack view, made on the first evaluation and refreshed in place
   * (not made anew) after the entry may have changed: evaluations read them and keep neither.
   */
  private ctx: Mutable<EvalContext> | undefined = undefined;
  private view: Mutable<CtView> | undefined = undefined;
  private ctxStale = true;
  private addrType: NonNullable<EvalContext['addrType']> = undefined as unknown as NonNullable<
    EvalContext['addrType']
  >;
  /**
   * The packet this walk made and nothing else holds (copy-on-write): a walk that records no stages
   * writes its later changes (NAT, marks, devices, TTL) into it instead of copying it at each.
   */
  private owned: Packet | undefined = undefined;
  /** IPVS took the packet: its connection and why (WalkResult.ipvs; not kept by lean walks). */
  ipvsTaken: WalkResult['ipvs'] = undefined;
  /** IPVS took the packet: its connection (the real server it was sent to), in every walk. */
  ipvsConn: IpvsConnView | undefined = undefined;
  /** skb->ipvs_property: IPVS handled this packet (its request or reply); what `-m ipvs` reads. */
  ipvsProperty: IpvsPacketView | undefined = undefined;
  /**
   * A lean walk's own packet: the copy of the caller's packet is written into this one object, made
   * once per Walk object (a lean walk's outcome hands it out, valid until the next lean walk).
   */
  private scratch: Packet | undefined = undefined;
  /** A lean walk's result, its `sent` and `delivered` outcomes: one each per Walk object, refilled. */
  private leanOut: LeanResult | undefined = undefined;
  private sentOut: Mutable<Extract<Outcome, { kind: 'sent' }>> | undefined = undefined;
  private deliveredOut: Mutable<Extract<Outcome, { kind: 'delivered' }>> | undefined = undefined;

  /** Start a walk of `input` on `node` (every per-walk field written: the object may be a reused one). */
  start(
    node: KernelNode,
    env: WalkEnv,
    input: Packet,
    physdev: WalkEnv['physdev'],
    /** The caller takes only the outcome (receiveOutcome, sendOutcome): no stages, no WalkResult. */
    lean: boolean,
  ): this {
    this.node = node;
    this.env = env;
    this.input = input;
    this.physdev = physdev;
    this.lean = lean;
    this.rec = !lean && env.noStages !== true;
    this.cached = !this.rec && env.trace !== true && env.flowCache !== false;
    this.stages = this.rec ? [] : NO_STAGES;
    this.ct = undefined;
    this.dir = undefined;
    this.state = 'INVALID';
    this.created = false;
    this.notrack = false;
    this.ctAttached = false;
    this.ctxStale = true;
    this.owned = undefined;
    this.ipvsTaken = undefined;
    this.ipvsConn = undefined;
    this.ipvsProperty = undefined;
    if (node.ipvs) node.ipvs.timers(node.conntrack, env.now);
    this.addrType = node.addrType;
    return this;
  }

  /**
   * The walk's own copy of the caller's packet, to change in place: a lean walk writes it into its one
   * scratch packet (unless the caller handed that very packet back in), any other walk makes a copy.
   */
  copyIn(p: Packet): Packet {
    if (!this.lean || p === this.scratch) return this.adopt(copyPacket(p));
    const q = this.scratch ? copyPacketInto(this.scratch, p) : copyPacket(p);
    this.scratch = q;
    return this.adopt(q);
  }

  /** The outcome `sent` (a lean walk's one object, refilled). */
  sent(dev: string, nextHop: IP, packet: Packet, forwarded: boolean): Outcome {
    if (!this.lean) return { kind: 'sent', dev, nextHop, packet, forwarded };
    let o = this.sentOut;
    if (!o) {
      o = { kind: 'sent', dev, nextHop, packet, forwarded };
      this.sentOut = o;
    } else {
      o.dev = dev;
      o.nextHop = nextHop;
      o.packet = packet;
      o.forwarded = forwarded;
    }
    return o;
  }

  /** The outcome `delivered` (a lean walk's one object, refilled). */
  delivered(packet: Packet): Outcome {
    if (!this.lean) return { kind: 'delivered', packet };
    let o = this.deliveredOut;
    if (!o) {
      o = { kind: 'delivered', packet };
      this.deliveredOut = o;
    } else o.packet = packet;
    return o;
  }

  /** `p` is the walk's own packet: a change may be written into it (pass as the `owned` argument). */
  mine(p: Packet): boolean {
    return p === this.owned;
  }

  /** `p` was just made for this walk (a copy nothing else holds): it becomes the walk's own packet. */
  adopt(p: Packet): Packet {
    if (!this.rec) this.owned = p;
    return p;
  }

  /** The conntrack entry (or the walk's view of it) changed: the next table gets a fresh context. */
  ctChanged(): void {
    this.ctxStale = true;
  }

  /** The conntrack view rules see, written into the walk's one CtView (every field, in one order). */
  private ctView(): CtView | undefined {
    if (!this.notrack && !this.ct) return undefined;
    let v = this.view;
    if (!v && this.cached && spareView) {
      v = spareView; // every field is written below
      spareView = undefined;
      this.view = v;
    }
    if (!v) {
      v = {
        state: 'INVALID',
        dir: undefined,
        status: undefined,
        mark: undefined,
        orig: undefined,
        reply: undefined,
      };
      this.view = v;
    }
    const e = this.ct;
    if (this.notrack || !e) {
      v.state = 'UNTRACKED';
      v.dir = undefined;
      v.status = undefined;
      v.mark = undefined;
      v.orig = undefined;
      v.reply = undefined;
    } else {
      v.state = this.state;
      v.dir = this.dir;
      v.status = e.status;
      v.mark = e.mark;
      v.orig = e.original;
      v.reply = e.reply;
    }
    return v;
  }

  evalCtx(): EvalContext {
    let c = this.ctx;
    if (!c && this.cached && spareCtx) {
      c = spareCtx;
      spareCtx = undefined;
      c.now = this.env.now;
      c.rng = this.env.rng;
      c.state = this.node.nf;
      c.addrType = this.addrType;
      c.physdev = this.physdev;
      c.trace = undefined; // a cached walk is untraced
      this.ctx = c;
    } else if (!c) {
      c = {
        now: this.env.now,
        rng: this.env.rng,
        state: this.node.nf,
        addrType: this.addrType,
        ct: undefined,
        ipvs: undefined,
        physdev: this.physdev,
        trace: this.env.trace === true ? true : undefined,
      };
      this.ctx = c;
    } else if (!this.ctxStale) return c;
    c.ct = this.ctView();
    c.ipvs = this.ipvsProperty;
    this.ctxStale = false;
    return c;
  }

  /** Run one table on one hook; a CONNMARK change is written back to the entry. */
  table(hook: BuiltinChain, table: TableName, p: Packet): EvalResult {
    const rs = this.node.rules(p.family);
    const r = this.cached
      ? this.node.flowCache.evaluate(
          rs,
          table,
          hook,
          p,
          this.evalCtx(),
          this.node.routing.generation,
          p === this.owned,
        )
      : evaluate(rs, table, hook, p, this.evalCtx());
    // A changed packet (a MARK target) is a new copy, or the walk's own packet changed in place.
    if (r.packet !== p) this.adopt(r.packet);
    if (r.ctMark !== undefined && this.ct) {
      this.node.conntrack.setMark(this.ct, r.ctMark);
      this.ctChanged();
    }
    if (this.rec)
      this.stages.push({
        kind: 'table',
        hook,
        table,
        verdict: r.verdict,
        byPolicy: r.byPolicy,
        before: p,
        after: r.packet,
        trace: r.trace,
        logs: r.logs,
        ...(r.nat ? { nat: r.nat } : {}),
      });
    return r;
  }

  /** The packet goes on without a conntrack entry (so no nat either). */
  private untracked(hook: BuiltinChain, note: string): CtResult {
    this.notrack = true;
    this.state = 'UNTRACKED';
    if (this.rec) this.stages.push({ kind: 'conntrack', hook, state: 'UNTRACKED', created: false, note });
    return { kind: 'untracked', ctstate: 'UNTRACKED' };
  }

  conntrack(hook: BuiltinChain, p: Packet, notrack: boolean): CtResult {
    this.ctChanged();
    if (!this.node.conntrackActive(p.family)) {
      // No rule takes a reference on conntrack in this namespace: no entry, and no nat.
      return this.untracked(hook, 'conntrack is not in use on this node (no loaded rule needs it)');
    }
    const r = this.node.conntrack.process(p, this.env.now, notrack ? NOTRACK : TRACK);
    this.notrack = r.kind === 'untracked';
    if (r.kind === 'tracked') {
      this.ct = r.entry;
      this.dir = r.dir;
      this.state = r.ctstate;
      this.created = r.created;
      if (this.rec)
        this.stages.push({
          kind: 'conntrack',
          hook,
          state: r.ctstate,
          dir: r.dir,
          created: r.created,
          entryId: r.entry.id,
        });
    } else if (r.kind === 'untracked') {
      return this.untracked(hook, 'NOTRACK in the raw table');
    } else if (r.kind === 'invalid') {
      this.state = 'INVALID';
      if (this.rec)
        this.stages.push({ kind: 'conntrack', hook, state: 'INVALID', created: false, note: r.reason });
    }
    return r;
  }

  /**
   * A nat hook (nf_nat_inet_fn): for the first packet of a flow, run the nat table and bind its
   * decision (or a null binding) to the entry; then rewrite the packet from the entry.
   */
  nat(
    hook: BuiltinChain,
    p: Packet,
    inDev: string | undefined,
    outDev: string | undefined,
    nextHop: IP | undefined,
  ): Packet | Outcome {
    const manip = hook === 'PREROUTING' || hook === 'OUTPUT' ? 'DST' : 'SRC';
    if (!this.ct || this.notrack) return p; // no conntrack entry: nat does nothing
    const ct = this.node.conntrack;
    if (this.created && ct.needsNat(this.ct, manip)) {
      const r = this.table(hook, 'nat', p);
      if (r.verdict.kind === 'DROP')
        return { kind: 'dropped', reason: 'dropped by the nat table', hook, table: 'nat' };
      if (r.verdict.kind === 'REJECT') return { kind: 'rejected', with: r.verdict.with, hook, table: 'nat' };
      p = r.packet;
      const range = r.nat ? this.natRange(r.nat, manip, p, inDev, outDev, nextHop) : undefined;
      if (range === 'drop') {
        return {
          kind: 'dropped',
          reason: `MASQUERADE found no address on ${outDev ?? '?'} (the kernel drops it)`,
          hook,
          table: 'nat',
        };
      }
      // The one context object, filled per call (setupNat reads it and keeps nothing of it).
      const ctx = NAT_CTX;
      ctx.now = this.env.now;
      ctx.rng = this.env.rng;
      ctx.masqueradeDevice = r.nat?.kind === 'MASQUERADE' && outDev ? outDev : undefined;
      const bound = range ? ct.setupNat(this.ct, manip, range, ctx) : ct.nullBinding(this.ct, manip, ctx);
      this.ctChanged();
      const after = natPacket(this.ct, this.dir ?? 'ORIGINAL', p, manip, p === this.owned);
      if (after !== p) this.adopt(after);
      const evicted = bound.kind === 'mapped' ? bound.evicted : undefined;
      if ((after !== p || evicted) && this.rec) {
        const binding = range ? 'new' : 'null';
        if (!evicted) this.stages.push({ kind: 'nat', hook, manip, binding, before: p, after });
        else {
          // The freed port, in the holder's reply tuple: its destination for SNAT, its source for DNAT.
          const port = manip === 'SRC' ? evicted.reply.dport : evicted.reply.sport;
          const note = `port ${port} was held by closing conntrack entry ${evicted.id} (${evicted.tcpState}): evicted for this SYN (Linux 6.5+ nf_nat_used_tuple_harder)`;
          this.stages.push({ kind: 'nat', hook, manip, binding, before: p, after, note });
        }
      }
      return after;
    }
    if (this.rec)
      this.stages.push({
        kind: 'nat-skipped',
        hook,
        reason: `not the first packet of the flow (conntrack ${this.state}): the nat table is not consulted`,
      });
    const after = natPacket(this.ct, this.dir ?? 'ORIGINAL', p, manip, p === this.owned);
    if (after !== p) this.adopt(after);
    if (after !== p && this.rec)
      this.stages.push({ kind: 'nat', hook, manip, binding: 'existing', before: p, after });
    return after;
  }

  natRange(
    req: NatRequest,
    manip: 'SRC' | 'DST',
    p: Packet,
    inDev: string | undefined,
    outDev: string | undefined,
    nextHop: IP | undefined,
  ): NatRange | 'drop' | undefined {
    switch (req.kind) {
      case 'DNAT':
      case 'SNAT': {
        if ((req.kind === 'DNAT') !== (manip === 'DST')) return undefined;
        const r = natRangeOf(req.ip, req.port, req.portRange);
        r.random = req.random;
        r.randomFully = req.randomFully;
        r.persistent = req.persistent;
        return r;
      }
      case 'MASQUERADE': {
        if (manip !== 'SRC' || !outDev) return undefined;
        const addr = this.node.routing.masqueradeSource(outDev, nextHop ?? p.dst);
        if (!addr) return 'drop';
        const r = natRangeOf(addr, req.port, req.portRange);
        r.random = req.random;
        r.randomFully = req.randomFully;
        return r;
      }
      case 'REDIRECT': {
        if (manip !== 'DST') return undefined;
        // PREROUTING: the primary address of the incoming interface; OUTPUT: 127.0.0.1 / ::1.
        const addr = inDev
          ? this.node.routing.selectSource(inDev, undefined, 'host', p.family)
          : p.family === 4
            ? ({ family: 4, n: 0x7f000001, text: '127.0.0.1' } as const)
            : ({ family: 6, big: 1n, text: '::1' } as const);
        if (!addr) return 'drop';
        const r = natRangeOf(addr, req.port, req.portRange);
        r.random = req.random;
        return r;
      }
    }
  }

  /**
   * The tables of a hook in the kernel's order (HOOK_ORDER), those of `only` (TABLE_BIT bits), with
   * conntrack after raw on PREROUTING and OUTPUT; returns the packet or how it ended.
   */
  tables(
    hook: BuiltinChain,
    p: Packet,
    only: number,
    inDev?: string,
    outDev?: string,
    nextHop?: IP,
  ): Packet | Outcome {
    const steps = hookTables(hook);
    const tracks = hook === 'PREROUTING' || hook === 'OUTPUT';
    // Untraced and recording no stages, a chain without rules is only its policy: no evaluation.
    const policies = this.rec || this.env.trace ? undefined : this.node.flowCache;
    for (let i = 0; i < steps.length; i++) {
      const t = steps[i]!;
      if ((only & (1 << t)) === 0) continue;
      const table = TABLE_NAMES[t]!;
      if (t === NAT) {
        const r = this.nat(hook, p, inDev, outDev, nextHop);
        if (isOutcome(r)) return r;
        p = r;
        continue;
      }
      const v = policies?.policy(this.node.rules(p.family), table, hook, p);
      let notrack = false;
      if (v !== undefined) {
        if (v.kind === 'DROP') return { kind: 'dropped', reason: `dropped by ${table} ${hook}`, hook, table };
      } else {
        const r = this.table(hook, table, p);
        if (r.verdict.kind === 'DROP')
          return { kind: 'dropped', reason: `dropped by ${table} ${hook}`, hook, table };
        if (r.verdict.kind === 'REJECT') return { kind: 'rejected', with: r.verdict.with, hook, table };
        p = r.packet;
        notrack = r.notrack;
      }
      // Conntrack sits right after raw on PREROUTING and OUTPUT. A packet looped back through lo
      // already carries its entry (the kernel skips the lookup), so it is tracked once per node.
      if (tracks && t === RAW && !this.ctAttached) {
        this.ctAttached = true;
        const ct = this.conntrack(hook, p, notrack);
        if (ct.kind === 'drop') return { kind: 'dropped', reason: ct.message, hook };
      }
    }
    return p;
  }

  /**
   * IPVS's functions on this hook (netmodel/ipvs/hook.ts). A request it takes is DNATed to the real
   * server; with net.ipv4.vs.conntrack the (unconfirmed) conntrack entry's reply tuple is changed to
   * come from that server, without it the packet goes on untracked (ip_vs_notrack).
   */
  ipvs(hook: 'INPUT' | 'OUTPUT' | 'FORWARD', p: Packet): IpvsHookResult | undefined {
    const table = this.node.ipvs;
    if (!table) return undefined;
    const name = hook === 'INPUT' ? 'LOCAL_IN' : hook === 'OUTPUT' ? 'LOCAL_OUT' : 'FORWARD';
    const rng = this.env.rng;
    // The one options object, filled in place (the hook reads it and keeps nothing; no closure unless
    // a tracer chooses): this runs on every packet of an IPVS node.
    const o = HOOK_OPTS;
    o.oldConntrack = this.ct !== undefined && !this.created;
    o.explain = this.rec;
    // A walk that records no stages asks for no explanation either (WalkResult.ipvs then carries the
    // connection and an empty explanation): IPVS hands back its shared result, read here at once.
    o.lean = !this.rec;
    o.owned = p === this.owned;
    o.choose = rng.choose ? chooserOf(rng) : undefined;
    const r = table.hook(name, p, this.env.now, o);
    o.choose = undefined;
    if (r.kind === 'pass') return r;
    if (r.kind === 'xmit' || r.kind === 'reply') {
      if (!r.nfct) {
        this.ct = undefined;
        this.notrack = true;
        this.state = 'UNTRACKED';
      } else if (r.kind === 'xmit' && this.ct && this.created && this.dir === 'ORIGINAL') {
        // ip_vs_update_conntrack changes only an unconfirmed entry (its first packet's, which this
        // walk created): a later packet of the flow builds no tuple for alterReply to refuse.
        const c = r.conn;
        const rep = this.ct.reply;
        this.node.conntrack.alterReply(this.ct, {
          family: rep.family,
          proto: rep.proto,
          src: c.daddr,
          sport: c.dport,
          dst: rep.dst,
          dport: rep.dport,
        });
      }
      this.ctChanged();
    }
    if (r.kind === 'xmit') {
      this.ipvsConn = r.conn;
      // A lean walk builds no WalkResult, so nothing reads IPVS's explanation.
      if (!this.lean) this.ipvsTaken = { conn: r.conn, explanation: r.explanation };
    }
    if (r.kind === 'xmit' || r.kind === 'reply') {
      const c = r.conn;
      const fwd = c.forward;
      // Rules read the view's fields while this walk runs; an untraced walk that records no stages
      // keeps it nowhere else, so it fills the one shared view (walks do not nest).
      const v: Mutable<IpvsPacketView> =
        this.rec || this.env.trace === true
          ? { vaddr: c.vaddr, vport: 0, vproto: 0, original: false, method: 'MASQ', vportctl: 0 }
          : UNTRACED_IPVS_VIEW;
      v.vaddr = c.vaddr;
      v.vport = c.vport;
      v.vproto = c.protocol === 'TCP' ? 6 : c.protocol === 'UDP' ? 17 : 132;
      v.original = r.kind === 'xmit';
      v.method = fwd === 'Masq' ? 'MASQ' : fwd === 'Tunnel' ? 'IPIP' : 'GATE';
      v.vportctl = c.control?.vport ?? 0;
      this.ipvsProperty = v;
      this.ctChanged();
    }
    if (this.rec) {
      const stage: Mutable<Extract<Stage, { kind: 'ipvs' }>> = {
        kind: 'ipvs',
        hook,
        action: r.kind === 'xmit' ? r.action : r.kind,
        before: p,
        after: r.kind === 'xmit' || r.kind === 'reply' ? r.packet : p,
        lines:
          r.kind === 'reply'
            ? r.lines
            : r.kind === 'drop'
              ? [...(r.explanation?.lines ?? []), r.reason]
              : r.explanation.lines,
      };
      if (r.kind === 'xmit' || r.kind === 'reply') stage.conn = r.conn;
      if (r.kind === 'xmit') stage.explanation = r.explanation;
      else if (r.kind === 'drop' && r.explanation) stage.explanation = r.explanation;
      this.stages.push(stage);
    }
    return r;
  }

  confirm(hook: BuiltinChain): Outcome | undefined {
    if (!this.ct || !this.created) return undefined;
    const r = this.node.conntrack.confirm(this.ct, this.env.now);
    this.ctChanged();
    if (this.rec)
      this.stages.push({
        kind: 'confirm',
        hook,
        ok: r.kind === 'confirmed',
        ...(r.kind === 'drop' ? { note: r.message } : {}),
      });
    if (r.kind === 'drop') return { kind: 'dropped', reason: r.message, hook };
    this.created = false;
    return undefined;
  }

  finish(outcome: Outcome): WalkResult {
    if (this.cached) {
      if (this.ctx) spareCtx = this.ctx;
      if (this.view) spareView = this.view;
      this.ctx = undefined;
      this.view = undefined;
    }
    if (this.lean) {
      let v = this.leanOut;
      if (!v) {
        v = {
          outcome,
          stages: NO_STAGES,
          input: undefined as unknown as Packet,
          verdict: 'ACCEPT',
          ct: undefined,
          ctDir: undefined,
          ipvsConn: undefined,
        };
        this.leanOut = v;
      }
      v.outcome = outcome;
      v.ct = this.ct;
      v.ctDir = this.dir;
      v.ipvsConn = this.ipvsConn;
      // Done: the next lean walk may start this object again (nothing below reads it).
      spareWalk = this;
      return v;
    }
    const verdict =
      outcome.kind === 'rejected'
        ? 'REJECT'
        : outcome.kind === 'dropped' || outcome.kind === 'unreachable'
          ? 'DROP'
          : 'ACCEPT';
    const res: Mutable<WalkResult> = { outcome, stages: this.stages, input: this.input, verdict };
    if (this.ct) res.ct = this.ct;
    if (this.dir) res.ctDir = this.dir;
    const dnat = dnatOf(this.ct, this.dir, this.ipvsConn);
    const snat = snatOf(this.ct, this.dir);
    if (dnat) res.dnat = dnat;
    if (snat) res.snat = snat;
    if (this.ipvsTaken) res.ipvs = this.ipvsTaken;
    return res;
  }
}

/**
 * What a verdict walk (sendVerdict, receiveVerdict) hands back: the outcome, the packet's conntrack
 * entry and direction and IPVS's connection, read from one object each lean walk refills (valid until
 * the next walk). dnatOf and snatOf give WalkResult's dnat and snat from it.
 */
export interface WalkVerdict {
  readonly outcome: Outcome;
  readonly ct: ConntrackEntryView | undefined;
  readonly ctDir: CtDirection | undefined;
  /** IPVS took the packet: its connection (its real server is the destination). */
  readonly ipvsConn: IpvsConnView | undefined;
}

/** A lean walk's result: a WalkResult (whose outcome alone is read) that is also a WalkVerdict. */
type LeanResult = Mutable<WalkResult> & Mutable<WalkVerdict>;

/**
 * WalkResult.dnat: the destination after DNAT when it changed, from the entry's tuples in the original
 * direction (or the real server IPVS sent the packet to, when no conntrack DNAT shows).
 */
export function dnatOf(
  ct: ConntrackEntryView | undefined,
  dir: CtDirection | undefined,
  ipvsConn?: IpvsConnView,
): { ip: IP; port: number } | undefined {
  if (ct && dir === 'ORIGINAL') {
    const to = ct.reply;
    const orig = ct.original;
    // An ICMP query's tuple has no ports: both directions carry the echo id in `sport` (the
    // kernel's src.u.icmp.id), which only source NAT may change.
    const icmp = orig.proto === 'icmp' || orig.proto === 'icmpv6';
    if (!ipEquals(orig.dst, to.src) || (!icmp && orig.dport !== to.sport))
      return { ip: to.src, port: to.sport };
  }
  return ipvsConn ? { ip: ipvsConn.daddr, port: ipvsConn.dport } : undefined;
}

/** WalkResult.snat: the source after SNAT/MASQUERADE when it changed (see dnatOf). */
export function snatOf(
  ct: ConntrackEntryView | undefined,
  dir: CtDirection | undefined,
): { ip: IP; port: number } | undefined {
  if (!ct || dir !== 'ORIGINAL') return undefined;
  const to = ct.reply;
  const orig = ct.original;
  if (orig.proto === 'icmp' || orig.proto === 'icmpv6')
    return !ipEquals(orig.src, to.dst) || orig.sport !== to.sport
      ? { ip: to.dst, port: to.sport }
      : undefined;
  return !ipEquals(orig.src, to.dst) || orig.sport !== to.dport ? { ip: to.dst, port: to.dport } : undefined;
}

/** The Walk object lean walks reuse: a finished lean walk leaves it here, the next one takes it. */
let spareWalk: Walk | undefined;

/** A lean walk (spareWalk, or a new object when a walk is under way: one started inside another). */
function leanWalk(node: KernelNode, env: WalkEnv, input: Packet, physdev: WalkEnv['physdev']): Walk {
  const w = spareWalk ?? new Walk();
  spareWalk = undefined;
  return w.start(node, env, input, physdev, true);
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** The skb->ipvs_property view of untraced walks that record no stages (see Walk.ipvs). */
const UNTRACED_IPVS_VIEW: Mutable<IpvsPacketView> = {
  vaddr: undefined as unknown as IP,
  vport: 0,
  vproto: 0,
  original: false,
  method: 'MASQ',
  vportctl: 0,
};

/** Walk.ipvs's options to the IPVS hook, overwritten by each call (walks do not nest). */
const HOOK_OPTS: Mutable<IpvsHookOptions> = {
  oldConntrack: false,
  explain: false,
  lean: false,
  owned: false,
  choose: undefined,
};

/**
 * A tracer's Rng.choose as IPVS's choose option. A function of its own: a closure in Walk.ipvs would
 * have its context (the captured rng) allocated on every call, tracer or not.
 */
function chooserOf(rng: Rng): (weights: readonly number[]) => number {
  return (w) => rng.choose!(w);
}

/** net.ipv4.ip_default_ttl: the TTL a host's packets leave with. */
const DEFAULT_TTL = 64;

/**
 * The NAT range of one address (none: the address stays) and a port range, one port or none, in the
 * one range object Walk.nat hands to conntrack (setupNat reads it and keeps nothing of it; a range's
 * absent bounds are undefined, which is how conntrack reads them). Flags off; the caller sets them.
 */
function natRangeOf(
  addr: IP | undefined,
  port: number | undefined,
  range: readonly [number, number] | undefined,
): Mutable<NatRange> {
  const r = NAT_RANGE;
  r.minAddr = addr;
  r.maxAddr = addr;
  r.minPort = range ? range[0] : port;
  r.maxPort = range ? range[1] : port;
  r.random = undefined;
  r.randomFully = undefined;
  r.persistent = undefined;
  return r;
}

/** natRangeOf's one range (every field present: one hidden class). */
const NAT_RANGE: Mutable<NatRange> = {
  minAddr: undefined,
  maxAddr: undefined,
  minPort: undefined,
  maxPort: undefined,
  random: undefined,
  randomFully: undefined,
  persistent: undefined,
};

/** Walk.nat's context for setupNat, overwritten by each call (setupNat keeps nothing of it). */
const NAT_CTX: Mutable<NatContext> = {
  now: 0,
  rng: undefined as unknown as Rng,
  masqueradeDevice: undefined,
};

/** conntrack.process's options, one object each (no literal per walk). */
const TRACK: ProcessOptions = Object.freeze({ notrack: false });
const NOTRACK: ProcessOptions = Object.freeze({ notrack: true });

function isOutcome(x: Packet | Outcome): x is Outcome {
  return 'kind' in x && !('proto' in x);
}

/** Forwarding and local delivery, shared by both entry points after the DNAT stage. */
function afterPrerouting(w: Walk, p: Packet, iif: string): WalkResult {
  const rt = w.node.routing.routeInput(p.dst, iif);
  switch (rt.kind) {
    case 'local': {
      if (w.rec)
        w.stages.push({
          kind: 'route',
          decision: `local delivery (${p.dst.text} is an address of ${w.node.name})`,
        });
      let r = w.tables('INPUT', p, w.node.ipvs ? IPVS_BEFORE.INPUT : ALL_TABLES, iif);
      if (isOutcome(r)) return w.finish(r);
      if (w.node.ipvs) {
        // IPVS at LOCAL_IN (98, 99), between filter and nat INPUT.
        const v = w.ipvs('INPUT', r);
        if (v && v.kind !== 'pass') {
          if (v.kind === 'drop') return w.finish(ipvsDrop(v));
          if (v.kind === 'xmit' && !w.node.isLocal(v.packet.dst)) return ipvsXmit(w, v.packet);
          r = w.adopt(v.packet);
        }
        r = w.tables('INPUT', r, IPVS_AFTER.INPUT, iif);
        if (isOutcome(r)) return w.finish(r);
      }
      const c = w.confirm('INPUT');
      if (c) return w.finish(c);
      return w.finish(w.delivered(r));
    }
    case 'forward': {
      const nextHop = rt.gateway ?? p.dst;
      // ip_forward, in the kernel's order: the TTL check, the MTU check, then TTL - 1, all before
      // the FORWARD hook. A packet with no TTL yet came from a sender kpath does not model (an
      // outside client): it left that host with ip_default_ttl 64.
      const ttl = p.ttl ?? DEFAULT_TTL;
      if (ttl <= 1) {
        // A packet whose TTL would reach 0 is dropped with ICMP time exceeded.
        if (w.rec) w.stages.push({ kind: 'route', decision: `TTL ${ttl} expires here (ICMP time exceeded)` });
        return w.finish({ kind: 'dropped', reason: `TTL exceeded in transit (ttl ${ttl})` });
      }
      // ip_exceeds_mtu: too big for the egress device with DF set (IPv6 never fragments on the way)
      // is dropped here with ICMP fragmentation needed: no FORWARD or POSTROUTING rule sees it and
      // its conntrack entry, created in PREROUTING, is never confirmed.
      const mtu = w.node.routing.interface(rt.dev)?.mtu ?? 1500;
      if (p.length > mtu && (p.df === true || p.family === 6)) {
        if (w.rec)
          w.stages.push({
            kind: 'route',
            decision: `forward out of ${rt.dev}: ${p.length} bytes with DF set exceed its MTU ${mtu}: dropped in ip_forward before FORWARD (ICMP fragmentation needed)`,
            dev: rt.dev,
            nextHop,
          });
        return w.finish({
          kind: 'dropped',
          reason: `${p.length} bytes with DF set exceed ${rt.dev}'s MTU ${mtu} (ICMP fragmentation needed)`,
          tooBig: { dev: rt.dev, mtu, packet: p, local: false },
        });
      }
      p = w.adopt(withFields(p, { ttl: ttl - 1 }, w.mine(p)));
      if (w.rec)
        w.stages.push({
          kind: 'route',
          decision: `forward out of ${rt.dev}${rt.gateway ? ` via ${rt.gateway.text}` : ' (on-link)'} (route ${rt.route.dst.text})`,
          dev: rt.dev,
          nextHop,
        });
      const pOut = w.adopt(withOif(p, rt.dev, w.mine(p)));
      let f = w.tables('FORWARD', pOut, ALL_TABLES, iif, rt.dev, nextHop);
      if (isOutcome(f)) return w.finish(f);
      // IPVS at FORWARD (100): replies of real servers to clients elsewhere get the virtual source back.
      const v = w.node.ipvs ? w.ipvs('FORWARD', f) : undefined;
      if (v?.kind === 'reply') f = w.adopt(v.packet);
      const post = w.tables('POSTROUTING', f, ALL_TABLES, iif, rt.dev, nextHop);
      if (isOutcome(post)) return w.finish(post);
      const c = w.confirm('POSTROUTING');
      if (c) return w.finish(c);
      return w.finish(w.sent(rt.dev, nextHop, post, true));
    }
    case 'drop':
      if (w.rec) w.stages.push({ kind: 'route', decision: `dropped: ${rt.reason}` });
      return w.finish({ kind: 'dropped', reason: rt.reason });
    case 'icmp-unreachable':
      if (w.rec) w.stages.push({ kind: 'route', decision: `unreachable: ${rt.reason}` });
      return w.finish({ kind: 'unreachable', icmpCode: rt.icmpCode, reason: rt.reason });
  }
}

/** A packet arriving on interface `iif` of the node (`physdev`: the bridge port it came in on, for br_netfilter). */
export function receive(
  node: KernelNode,
  packet: Packet,
  iif: string,
  env: WalkEnv,
  physdev?: WalkEnv['physdev'],
): WalkResult {
  return receiveWalk(node, packet, iif, env, physdev, false);
}

/**
 * `receive(...).outcome`, for callers that want nothing else (the runtime's kernel modes walk the
 * handshake's and the close's packets only to move conntrack on): the same walk, with no stages, no
 * DNAT/SNAT summary and no WalkResult. Conntrack, NAT and counters are exactly receive's. The outcome
 * (and the packet in it) is an object the next walk refills: read it before walking again.
 */
export function receiveOutcome(
  node: KernelNode,
  packet: Packet,
  iif: string,
  env: WalkEnv,
  physdev?: WalkEnv['physdev'],
): Outcome {
  return receiveWalk(node, packet, iif, env, physdev, true).outcome;
}

/**
 * receive() for a caller that acts on the verdict alone (the runtime's kernel modes, for a connection's
 * first packet): the same walk as receiveOutcome's, handing back the outcome, the conntrack entry and
 * IPVS's connection (dnatOf and snatOf give receive's dnat and snat from them) in one object that the
 * next walk refills: read it before walking again.
 */
export function receiveVerdict(
  node: KernelNode,
  packet: Packet,
  iif: string,
  env: WalkEnv,
  physdev?: WalkEnv['physdev'],
): WalkVerdict {
  // A lean walk's result is its LeanResult (Walk.finish).
  return receiveWalk(node, packet, iif, env, physdev, true) as LeanResult;
}

function receiveWalk(
  node: KernelNode,
  packet: Packet,
  iif: string,
  env: WalkEnv,
  physdev: WalkEnv['physdev'] | undefined,
  lean: boolean,
): WalkResult {
  if (lean) {
    // A lean walk hands back no input: the copy with iif is the walk's own from the start.
    const w = leanWalk(node, env, packet, physdev ?? env.physdev);
    const p0 = withIif(w.copyIn(packet), iif, true);
    const p = w.tables('PREROUTING', p0, ALL_TABLES, iif);
    if (isOutcome(p)) return w.finish(p);
    return afterPrerouting(w, p, iif);
  }
  const p0 = withIif(packet, iif);
  const w = new Walk().start(node, env, p0, physdev ?? env.physdev, false);
  const p = w.tables('PREROUTING', p0, ALL_TABLES, iif);
  if (isOutcome(p)) return w.finish(p);
  return afterPrerouting(w, p, iif);
}

/** A packet generated by a process on the node (its source may be any local address, or unset by the caller). */
export function send(node: KernelNode, packet: Packet, env: WalkEnv): WalkResult {
  return sendWalk(node, packet, env, false);
}

/** `send(...).outcome` with nothing else built (see receiveOutcome). */
export function sendOutcome(node: KernelNode, packet: Packet, env: WalkEnv): Outcome {
  return sendWalk(node, packet, env, true).outcome;
}

/** send() for a caller that acts on the verdict alone (see receiveVerdict). */
export function sendVerdict(node: KernelNode, packet: Packet, env: WalkEnv): WalkVerdict {
  // A lean walk's result is its LeanResult (Walk.finish).
  return sendWalk(node, packet, env, true) as LeanResult;
}

function sendWalk(node: KernelNode, packet: Packet, env: WalkEnv, lean: boolean): WalkResult {
  const w = lean
    ? leanWalk(node, env, packet, env.physdev)
    : new Walk().start(node, env, packet, env.physdev, false);
  const rt = node.routing.route(packet.dst);
  if (rt.kind === 'unreachable' || rt.kind === 'prohibit' || rt.kind === 'blackhole') {
    if (w.rec) w.stages.push({ kind: 'route', decision: `no route to ${packet.dst.text} (${rt.errno})` });
    return w.finish({
      kind: 'unreachable',
      icmpCode: rt.kind === 'blackhole' ? 0 : rt.icmpCode,
      reason: rt.errno,
    });
  }
  if (w.rec) w.stages.push({ kind: 'route', decision: describeRoute(rt), dev: rt.dev });
  // A socket that sets DF (IP_PMTUDISC_DO, ping -M do) cannot send more than the route's MTU:
  // ip_append_data fails the send with EMSGSIZE before the packet exists, so no hook sees it.
  const mtu = node.routing.interface(rt.dev)?.mtu ?? 1500;
  if (packet.df === true && packet.length > mtu && rt.kind !== 'local') {
    if (w.rec)
      w.stages.push({
        kind: 'route',
        decision: `${packet.length} bytes with DF set exceed ${rt.dev}'s MTU ${mtu}: the send fails with EMSGSIZE`,
        dev: rt.dev,
      });
    return w.finish({
      kind: 'dropped',
      reason: `the send fails with EMSGSIZE (Message too long): ${packet.length} bytes, ${rt.dev} mtu ${mtu}`,
      tooBig: { dev: rt.dev, mtu, packet, local: true },
    });
  }
  return localOut(w, withOif(w.copyIn(packet), rt.dev, true), rt, true);
}

type OutRoute = Exclude<RouteDecision, { kind: 'unreachable' | 'prohibit' | 'blackhole' }>;

/**
 * LOCAL_OUT onwards for a packet routed by `rt`: the OUTPUT tables (with IPVS between nat and filter
 * when `ipvsHooks`), a re-route if the destination changed, POSTROUTING, confirm, and delivery
 * through lo or out of a device.
 */
function localOut(w: Walk, p0: Packet, rt0: OutRoute, ipvsHooks: boolean): WalkResult {
  const node = w.node;
  let rt: RouteDecision = rt0;
  let p = p0;
  // The destination as routed: the walk may write NAT into p0 itself (copy-on-write), so keep it.
  const dst0 = p0.dst;
  const nextHop0 = rt0.kind === 'unicast' ? (rt0.gateway ?? dst0) : dst0;
  const ipvs = ipvsHooks && node.ipvs !== undefined;
  const out = w.tables('OUTPUT', p, ipvs ? IPVS_BEFORE.OUTPUT : ALL_TABLES, undefined, rt0.dev, nextHop0);
  if (isOutcome(out)) return w.finish(out);
  p = out;
  if (ipvs) {
    // IPVS at LOCAL_OUT (-99, -98), between nat and filter OUTPUT.
    const v = w.ipvs('OUTPUT', p);
    if (v && v.kind !== 'pass') {
      if (v.kind === 'drop') return w.finish(ipvsDrop(v));
      if (v.kind === 'xmit' && !node.isLocal(v.packet.dst)) return ipvsXmit(w, v.packet);
      p = w.adopt(v.packet);
    }
    const f = w.tables('OUTPUT', p, IPVS_AFTER.OUTPUT, undefined, rt0.dev, nextHop0);
    if (isOutcome(f)) return w.finish(f);
    p = f;
  }
  if (!ipEquals(p.dst, dst0)) {
    // ip_route_me_harder: the destination changed in OUTPUT (DNAT), so route again.
    rt = node.routing.route(p.dst);
    if (rt.kind === 'unreachable' || rt.kind === 'prohibit' || rt.kind === 'blackhole') {
      if (w.rec)
        w.stages.push({
          kind: 'route',
          decision: `re-route after DNAT: no route to ${p.dst.text} (${rt.errno})`,
        });
      return w.finish({
        kind: 'unreachable',
        icmpCode: rt.kind === 'blackhole' ? 0 : rt.icmpCode,
        reason: rt.errno,
      });
    }
    if (w.rec)
      w.stages.push({ kind: 'route', decision: `re-route after DNAT: ${describeRoute(rt)}`, dev: rt.dev });
    p = w.adopt(withOif(p, rt.dev, w.mine(p)));
  }
  const nextHop = rt.kind === 'unicast' ? (rt.gateway ?? p.dst) : p.dst;
  const post = w.tables('POSTROUTING', p, ALL_TABLES, undefined, rt.dev, nextHop);
  if (isOutcome(post)) return w.finish(post);
  const c = w.confirm('POSTROUTING');
  if (c) return w.finish(c);
  if (rt.kind === 'local' || rt.kind === 'broadcast') {
    // Looped back through lo: PREROUTING raw and mangle see it (conntrack is already attached, so no
    // new lookup and no nat), then INPUT.
    const back = w.adopt(withIif(post, 'lo', w.mine(post)));
    const pre = w.tables('PREROUTING', back, TABLE_BIT.raw | TABLE_BIT.mangle, 'lo');
    if (isOutcome(pre)) return w.finish(pre);
    const inp = w.tables('INPUT', pre, ALL_TABLES, 'lo');
    if (isOutcome(inp)) return w.finish(inp);
    return w.finish(w.delivered(inp));
  }
  return w.finish(w.sent(rt.dev, nextHop, post, false));
}

/** The tables by number (Walk.tables' `only` has bit 1 << number set for each table it runs). */
const TABLE_NAMES: readonly TableName[] = ['raw', 'mangle', 'nat', 'filter'];
const RAW = 0;
const NAT = 2;
const TABLE_BIT: Readonly<Record<TableName, number>> = { raw: 1, mangle: 2, nat: 4, filter: 8 };
const ALL_TABLES = 15;

/** A hook's tables in HOOK_ORDER's order, as numbers (TABLE_NAMES). */
const numbers = (hook: BuiltinChain): readonly number[] =>
  HOOK_ORDER[hook].map((s) => TABLE_NAMES.indexOf(s.table));
const PREROUTING_TABLES = numbers('PREROUTING');
const INPUT_TABLES = numbers('INPUT');
const FORWARD_TABLES = numbers('FORWARD');
const OUTPUT_TABLES = numbers('OUTPUT');
const POSTROUTING_TABLES = numbers('POSTROUTING');

/** HOOK_ORDER[hook]'s tables, by comparisons (a keyed load by hook name showed in profiles). */
function hookTables(hook: BuiltinChain): readonly number[] {
  return hook === 'OUTPUT'
    ? OUTPUT_TABLES
    : hook === 'POSTROUTING'
      ? POSTROUTING_TABLES
      : hook === 'PREROUTING'
        ? PREROUTING_TABLES
        : hook === 'INPUT'
          ? INPUT_TABLES
          : FORWARD_TABLES;
}

/** The tables of a hook before and after IPVS's place on it. */
const IPVS_BEFORE = {
  INPUT: TABLE_BIT.mangle | TABLE_BIT.filter,
  OUTPUT: TABLE_BIT.raw | TABLE_BIT.mangle | TABLE_BIT.nat,
} as const;
const IPVS_AFTER = { INPUT: TABLE_BIT.nat, OUTPUT: TABLE_BIT.filter } as const;

/**
 * ip_vs_nat_xmit for a real server that is not local: route to it and send the DNATed packet
 * through LOCAL_OUT from the start (the original is stolen); IPVS does not see it again.
 */
function ipvsXmit(w: Walk, p: Packet): WalkResult {
  const rt = w.node.routing.route(p.dst);
  if (rt.kind === 'unreachable' || rt.kind === 'prohibit' || rt.kind === 'blackhole') {
    if (w.rec)
      w.stages.push({ kind: 'route', decision: `IPVS: no route to real server ${p.dst.text} (${rt.errno})` });
    return w.finish({
      kind: 'dropped',
      reason: `IPVS could not route to real server ${p.dst.text} (${rt.errno})`,
    });
  }
  if (w.rec)
    w.stages.push({
      kind: 'route',
      decision: `IPVS sends it to the real server through LOCAL_OUT: ${describeRoute(rt)}`,
      dev: rt.dev,
    });
  return localOut(w, w.adopt(withOif(p, rt.dev, w.mine(p))), rt, false);
}

function ipvsDrop(v: Extract<IpvsHookResult, { kind: 'drop' }>): Outcome {
  // ip_vs_leave answers ICMP port unreachable when a virtual service has no real server left.
  return v.icmpPortUnreachable
    ? { kind: 'unreachable', icmpCode: 3, reason: v.reason }
    : { kind: 'dropped', reason: v.reason };
}

function describeRoute(rt: {
  kind: string;
  dev: string;
  gateway?: IP | undefined;
  src?: IP | undefined;
}): string {
  if (rt.kind === 'local') return `local (to this node, via lo)`;
  if (rt.kind === 'broadcast') return `broadcast on ${rt.dev}`;
  return `out of ${rt.dev}${rt.gateway ? ` via ${rt.gateway.text}` : ' (on-link)'}${rt.src ? `, source ${rt.src.text}` : ''}`;
}

/**
 * A frame bridged from port `inPort` to port `outPort` of `bridge` (br_netfilter with
 * bridge-nf-call-iptables=1): PREROUTING (conntrack, DNAT), FORWARD and POSTROUTING (SNAT, and the
 * un-DNAT of replies) run with `-i`/`-o` the bridge and physdev-in/out the ports; no TTL change. If
 * PREROUTING changed the destination, br_netfilter routes the packet instead (the frame is handed to
 * the bridge's own stack): the walk goes on as `receive` on the bridge would.
 */
export function bridged(
  node: KernelNode,
  packet: Packet,
  bridge: string,
  inPort: string,
  outPort: string,
  env: WalkEnv,
): WalkResult {
  const p0 = withIif(packet, bridge);
  const w = new Walk().start(node, env, p0, { in: inPort, out: outPort }, false);
  const p = w.tables('PREROUTING', p0, ALL_TABLES, bridge);
  if (isOutcome(p)) return w.finish(p);
  if (!ipEquals(p.dst, packet.dst)) {
    if (w.rec)
      w.stages.push({
        kind: 'route',
        decision: `bridged frame DNATed to ${p.dst.text}: br_netfilter hands it to ${node.name}'s routing`,
      });
    return afterPrerouting(w, p, bridge);
  }
  if (w.rec)
    w.stages.push({
      kind: 'route',
      decision: `bridged by ${bridge} from ${inPort} to ${outPort}`,
      dev: bridge,
    });
  const pOut = w.adopt(withOif(p, bridge, w.mine(p)));
  const f = w.tables('FORWARD', pOut, ALL_TABLES, bridge, bridge, p.dst);
  if (isOutcome(f)) return w.finish(f);
  const post = w.tables('POSTROUTING', f, ALL_TABLES, bridge, bridge, p.dst);
  if (isOutcome(post)) return w.finish(post);
  const c = w.confirm('POSTROUTING');
  if (c) return w.finish(c);
  return w.finish({
    kind: 'sent',
    dev: bridge,
    nextHop: post.dst,
    packet: post,
    forwarded: true,
    bridgedTo: outPort,
  });
}

// ---- the device walker: namespace to namespace -------------------------------------------------
//
//   stack walk in a namespace (send / receive / bridged above)
//     -> sent on DEV towards NEXTHOP
//        MTU of DEV: fits | EMSGSIZE (sender) | frag-needed (ICMP 3/4 back) | fragments
//        neighbour: PERMANENT entry, or an ARP exchange (resolveArp)
//        frame {src: DEV's MAC, dst: the neighbour's}
//        transmit(DEV): veth -> the peer end | uplink -> the segment member with that MAC
//                       bridge -> the FDB's port | vxlan -> FDB -> UDP to the VTEP (the node's stack)
//     -> the frame arrives on a device of the next namespace
//        bridge port: learn the source MAC; to the bridge's MAC -> receive on the bridge (routed),
//                     else FDB -> `bridged` (br_netfilter) -> out of the port
//        otherwise: for this device's MAC -> receive (PREROUTING ...)
//     -> delivered to a local socket: a VXLAN port decapsulates onto its vxlan device; anything
//        else ends the travel in that namespace.
//
// Hooks for other stages go at the marked places: "leaving the source pod" is the first frame out
// of a pod namespace, "arriving at the destination pod" is a delivery in a pod namespace.

import {
  type ArpWire,
  checkMtu,
  ethertypeOf,
  type Fragment,
  type Frame,
  type Link,
  transmit,
  VXLAN_OVERHEAD,
  vxlanSourcePort,
} from '../devices/index.js';
import { type ArpAnswer, arpExchange } from './arp.js';
import type { NetWorld } from './world.js';

export type TravelStep =
  /** A stack walk (netfilter, routing) in one namespace; `outer`: of a VXLAN packet carrying the traced one. */
  | { readonly kind: 'stack'; readonly ns: string; readonly walk: WalkResult; readonly outer: boolean }
  /** A frame as a capture on that device sees it (`out`: transmitted, `in`: received). */
  | {
      readonly kind: 'wire';
      readonly ns: string;
      readonly dev: string;
      readonly dir: 'out' | 'in';
      readonly frame: Frame;
    }
  /** A link-layer decision: ARP, the bridge FDB, encapsulation, the MTU. */
  | {
      readonly kind: 'l2';
      readonly ns: string;
      readonly dev: string;
      readonly what: 'arp' | 'fdb' | 'encap' | 'decap' | 'mtu';
      readonly text: string;
      /** An ARP exchange: its request and reply on every device they cross, in capture order. */
      readonly arp?: readonly ArpWire[];
    };

export type TravelEnd =
  /** Delivered to a socket in `ns`. */
  | { readonly kind: 'socket'; readonly ns: string; readonly packet: Packet }
  /** Left the emulated world: sent towards a next hop no namespace owns. */
  | {
      readonly kind: 'outside';
      readonly ns: string;
      readonly dev: string;
      readonly nextHop: IP;
      readonly packet: Packet;
    }
  /** Stopped in `ns`: dropped, rejected, unreachable, too big; `icmp` follows the error back. */
  | {
      readonly kind: 'stopped';
      readonly ns: string;
      readonly dev?: string;
      readonly reason: string;
      readonly icmp?: Travel;
    };

export interface Travel {
  readonly steps: readonly TravelStep[];
  readonly end: TravelEnd;
}

export interface TravelOptions {
  /** Stop after this many namespace crossings (a loop guard). */
  readonly maxHops?: number;
  /** Follow an ICMP error back (frag-needed). Default true. */
  readonly followIcmp?: boolean;
}

function stopText(o: Outcome): string {
  switch (o.kind) {
    case 'dropped':
      return `dropped: ${o.reason}`;
    case 'rejected':
      return `rejected in ${o.table} ${o.hook} (${o.with})`;
    case 'unreachable':
      return `unreachable: ${o.reason}`;
    default:
      return o.kind;
  }
}

/** A deterministic IPv4 id for a packet the walker puts on the wire (the kernel's is random per flow). */
function ipIdOf(p: Packet): number {
  let h = 0x811c9dc5;
  const k = `${p.src.text}|${p.dst.text}|${p.proto}|${p.sport}|${p.dport}`;
  for (let i = 0; i < k.length; i++) {
    h ^= k.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h & 0xffff;
}

/**
 * IP header defaults for a packet leaving the stack that made it (ip_default_ttl 64), and for TCP a
 * sequence number (the kernel's is a keyed hash of the 4-tuple; kpath's is deterministic) with the
 * SYN's MSS from the device MTU (tcp_mss: MTU - 40).
 */
function onWire(p: Packet, mtu: number): Packet {
  // A packet from an outside sender already has its TTL (decremented by each forwarding node) but
  // none of the rest: each field is filled only where it is missing.
  if (p.ttl !== undefined && p.ipId !== undefined && (p.proto !== 'tcp' || p.tcpSeq)) return p;
  const ttl = p.ttl ?? DEFAULT_TTL;
  const ipId = p.ipId ?? (p.family === 4 ? ipIdOf(p) : 0);
  if (p.proto !== 'tcp' || p.tcpSeq) return withFields(p, { ttl, ipId });
  const seq = (ipIdOf(p) * 0x9e3779b1) >>> 0;
  const tcpSeq = p.tcp?.syn && !p.tcp.ack ? { seq, ack: 0, mss: mtu - 40 } : { seq, ack: 0 };
  return withFields(p, { ttl, ipId, tcpSeq });
}

class Traveller {
  readonly steps: TravelStep[] = [];
  private hops = 0;
  /** The walks now are of a VXLAN outer packet. */
  private outer = false;
  /** The traced packet was fragmented: its frames from there on are these fragments. */
  private frags: readonly Fragment[] | undefined;
  constructor(
    readonly world: NetWorld,
    readonly env: WalkEnv,
    readonly opts: TravelOptions,
  ) {}

  l2(
    ns: string,
    dev: string,
    what: 'arp' | 'fdb' | 'encap' | 'decap' | 'mtu',
    text: string,
    arp?: readonly ArpWire[],
  ): void {
    this.steps.push(
      arp?.length ? { kind: 'l2', ns, dev, what, text, arp } : { kind: 'l2', ns, dev, what, text },
    );
  }

  /** From a stack walk's result in `ns` to the end of the travel. */
  run(ns: string, r: WalkResult, encap?: { vni: number; inner: Frame }): TravelEnd {
    for (;;) {
      if (++this.hops > (this.opts.maxHops ?? 32))
        return { kind: 'stopped', ns, reason: `more than ${this.opts.maxHops ?? 32} hops (a loop?)` };
      const o = r.outcome;
      const node = this.world.ns(ns)!;
      this.outer = encap !== undefined;
      if (o.kind === 'delivered') {
        const vx = this.vxlanSocket(node, o.packet);
        if (vx && encap && encap.vni === (vx.spec.kind === 'vxlan' ? vx.spec.vni : -1)) {
          this.l2(
            ns,
            vx.name,
            'decap',
            `UDP ${o.packet.dport} is ${vx.name}'s VXLAN socket: VNI ${encap.vni} matches, the inner frame comes out of ${vx.name}`,
          );
          this.outer = false;
          const next = this.arrive(ns, vx.name, encap.inner);
          if (next.kind !== 'walk') return next;
          ns = next.ns;
          r = next.walk;
          encap = next.encap;
          continue;
        }
        if (vx && encap)
          return {
            kind: 'stopped',
            ns,
            reason: `VNI ${encap.vni} does not match ${vx.name}'s: the VXLAN driver drops it`,
          };
        // "arriving at the destination pod": a NetworkPolicy ingress stage belongs here.
        return { kind: 'socket', ns, packet: o.packet };
      }
      if (o.kind === 'dropped' && o.tooBig) {
        const b = o.tooBig;
        if (!b.local) return this.fragNeeded(ns, node, b.dev, b.packet, b.mtu);
        this.l2(ns, b.dev, 'mtu', `${b.packet.length} bytes with DF set do not fit ${b.dev}'s MTU ${b.mtu}`);
        return {
          kind: 'stopped',
          ns,
          dev: b.dev,
          reason: `the send fails in the sender with EMSGSIZE (Message too long): ${b.packet.length} bytes, ${b.dev} mtu ${b.mtu}`,
        };
      }
      if (o.kind !== 'sent') return { kind: 'stopped', ns, reason: stopText(o) };
      const next = this.leave(ns, node, o, encap);
      if (next.kind !== 'walk') return next;
      ns = next.ns;
      r = next.walk;
      encap = next.encap;
    }
  }

  private vxlanSocket(node: KernelNode, p: Packet): Link | undefined {
    if (p.proto !== 'udp') return undefined;
    for (const l of node.links.values())
      if (l.spec.kind === 'vxlan' && l.spec.port === p.dport && ipEquals(l.spec.local, p.dst)) return l;
    return undefined;
  }

  /** A packet the stack of `ns` sent on a device: MTU, neighbour, frame, transmit. */
  private leave(
    ns: string,
    node: KernelNode,
    o: Extract<Outcome, { kind: 'sent' }>,
    encap: { vni: number; inner: Frame } | undefined,
  ): TravelEnd | Next {
    const link = node.link(o.dev);
    const mtu = node.routing.interface(o.dev)?.mtu ?? 1500;
    let p = onWire(o.packet, mtu);
    // DF unset by the sender: Linux's default path MTU discovery (IP_PMTUDISC_WANT) sets DF on what
    // fits the first hop and fragments what does not; a forwarded packet keeps what it came with.
    if (p.df === undefined) p = withFields(p, { df: !o.forwarded && p.length <= mtu });
    if (!link) return { kind: 'outside', ns, dev: o.dev, nextHop: o.nextHop, packet: p };
    const m = checkMtu(p, mtu, o.forwarded);
    let fragments: readonly Fragment[] | undefined;
    switch (m.kind) {
      case 'emsgsize':
        this.l2(ns, o.dev, 'mtu', `${p.length} bytes with DF set do not fit ${o.dev}'s MTU ${mtu}`);
        return {
          kind: 'stopped',
          ns,
          dev: o.dev,
          reason: `the send fails in the sender with EMSGSIZE (Message too long): ${p.length} bytes, ${o.dev} mtu ${mtu}`,
        };
      case 'frag-needed':
        return this.fragNeeded(ns, node, o.dev, p, mtu);
      case 'fragment':
        fragments = m.fragments;
        this.l2(
          ns,
          o.dev,
          'mtu',
          `${p.length} bytes exceed ${o.dev}'s MTU ${mtu} and DF is clear: ${m.fragments.length} fragments (${m.fragments.map((f) => f.length).join(' + ')} bytes)`,
        );
        break;
      case 'fits':
        if (!this.outer) fragments = this.frags;
        break;
    }
    if (m.kind === 'fragment' && !this.outer) this.frags = m.fragments;
    // The neighbour: a permanent entry, or ARP.
    let dstMac: string | undefined;
    if (o.bridgedTo === undefined) {
      const nh = o.nextHop;
      const e = node.neigh.get(nh, o.dev);
      if (e?.mac && e.state !== 'FAILED') {
        dstMac = e.mac;
        this.l2(
          ns,
          o.dev,
          'arp',
          `neighbour ${nh.text} dev ${o.dev} lladdr ${e.mac} ${e.state}${e.state === 'PERMANENT' ? ' (no ARP)' : ''}`,
        );
      } else if (link.spec.kind === 'ethernet' && !this.onSegment(link.spec.segment, nh)) {
        // The node's router (its default gateway) or another host of the node network: kpath does
        // not model them, so the packet leaves the emulated world here.
        return { kind: 'outside', ns, dev: o.dev, nextHop: nh, packet: p };
      } else if (link.spec.kind === 'vxlan') {
        return {
          kind: 'stopped',
          ns,
          dev: o.dev,
          reason: `no neighbour entry for ${nh.text} on ${o.dev} (flannel installs one per remote node; nolearning devices do not ARP)`,
        };
      } else {
        const x = arpExchange(this.world, { ns, dev: o.dev }, nh, this.env.now);
        const a: ArpAnswer | undefined = x.answer;
        if (!a) {
          this.l2(
            ns,
            o.dev,
            'arp',
            `ARP who-has ${nh.text} on ${o.dev}: no reply (neighbour FAILED)`,
            x.frames,
          );
          return {
            kind: 'stopped',
            ns,
            dev: o.dev,
            reason: `no ARP reply for ${nh.text} on ${o.dev}: the kernel drops the packet (host unreachable)`,
          };
        }
        dstMac = a.mac;
        this.l2(
          ns,
          o.dev,
          'arp',
          `ARP who-has ${nh.text} on ${o.dev}: is-at ${a.mac} (${a.by.dev} in ${a.by.ns}${a.proxy ? ', proxy ARP' : ''})`,
          x.frames,
        );
        for (const t of a.learned) this.l2(t.ns, t.bridge, 'fdb', t.text);
      }
    }
    const frame: Frame = {
      src: link.mac,
      dst: dstMac ?? encap?.inner.dst ?? '',
      ethertype: ethertypeOf(p),
      packet: p,
      ...(fragments ? { fragments } : {}),
      ...(encap ? { vxlan: encap } : {}),
    };
    // "leaving the source pod": a NetworkPolicy egress stage belongs here (ns is a pod's).
    return this.emit(ns, link, frame);
  }

  /** Does a namespace on the segment own `ip` (so an ARP request for it gets an answer)? */
  private onSegment(segment: string, ip: IP): boolean {
    return this.world.segment(segment).some((m) => this.world.ns(m.ns)?.isLocal(ip) === true);
  }

  /** Put a frame on a device's wire and see where it arrives. */
  private emit(ns: string, link: Link, frame: Frame): TravelEnd | Next {
    this.steps.push({ kind: 'wire', ns, dev: link.name, dir: 'out', frame });
    const t = transmit(link, frame.dst);
    const node = this.world.ns(ns)!;
    switch (t.kind) {
      case 'peer':
        return this.arrive(t.ns, t.dev, frame);
      case 'segment': {
        const to = this.world
          .segment(t.segment)
          .find((m) => this.world.ns(m.ns)?.link(m.dev)?.mac === frame.dst);
        if (!to)
          return { kind: 'outside', ns, dev: link.name, nextHop: frame.packet.dst, packet: frame.packet };
        return this.arrive(to.ns, to.dev, frame);
      }
      case 'bridge-out': {
        const port = this.fdbPort(ns, node, link, frame, undefined);
        if (typeof port !== 'string') return port;
        const pl = node.link(port);
        if (!pl) return { kind: 'stopped', ns, dev: port, reason: `bridge port ${port} has no link` };
        return this.emit(ns, pl, frame);
      }
      case 'encap': {
        const inner = frame;
        const outer = packet({
          proto: 'udp',
          src: t.local,
          dst: t.remote,
          sport: vxlanSourcePort(
            `${inner.packet.src.text}|${inner.packet.dst.text}|${inner.packet.proto}|${inner.packet.sport}|${inner.packet.dport}`,
          ),
          dport: t.port,
          // Each inner fragment travels in its own VXLAN packet: the largest sets the outer size.
          length:
            (inner.fragments ? Math.max(...inner.fragments.map((x) => x.length)) : inner.packet.length) +
            VXLAN_OVERHEAD,
          df: false,
        });
        this.l2(
          ns,
          link.name,
          'encap',
          `${link.name}: FDB ${frame.dst} dst ${t.remote.text}; VXLAN VNI ${t.vni}, UDP ${t.local.text}:${outer.sport} -> ${t.remote.text}:${t.port}, +${VXLAN_OVERHEAD} bytes (outer IPv4 20 + UDP 8 + VXLAN 8 + inner Ethernet 14)`,
        );
        const w = send(node, outer, this.env);
        this.outer = true;
        this.steps.push({ kind: 'stack', ns, walk: w, outer: true });
        return { kind: 'walk', ns, walk: w, encap: { vni: t.vni, inner } };
      }
      case 'drop':
        return { kind: 'stopped', ns, dev: link.name, reason: t.reason };
    }
  }

  /** The bridge's FDB decision for a frame (flooding finds the port whose far end owns the MAC). */
  private fdbPort(
    ns: string,
    node: KernelNode,
    bridge: Link,
    frame: Frame,
    inPort: string | undefined,
  ): string | TravelEnd {
    if (bridge.spec.kind !== 'bridge')
      return { kind: 'stopped', ns, reason: `${bridge.name} is not a bridge` };
    const e = bridge.spec.fdb.lookup(frame.dst, this.env.now);
    if (e && !e.self) {
      this.l2(ns, bridge.name, 'fdb', `${bridge.name} FDB: ${frame.dst} is on ${e.port}`);
      return e.port;
    }
    for (const i of node.routing.interfaces()) {
      if (i.master !== bridge.name || i.name === inPort) continue;
      const l = node.link(i.name);
      if (l?.spec.kind === 'veth' && this.world.ns(l.spec.peerNs)?.link(l.spec.peer)?.mac === frame.dst) {
        this.l2(
          ns,
          bridge.name,
          'fdb',
          `${bridge.name} FDB: ${frame.dst} unknown, flooded to every port; ${i.name}'s far end owns it`,
        );
        return i.name;
      }
    }
    return { kind: 'stopped', ns, dev: bridge.name, reason: `${bridge.name}: no port leads to ${frame.dst}` };
  }

  /** A frame arrives on (ns, dev). */
  arrive(ns: string, dev: string, frame: Frame): TravelEnd | Next {
    this.steps.push({ kind: 'wire', ns, dev, dir: 'in', frame });
    const node = this.world.ns(ns);
    const link = node?.link(dev);
    const iface = node?.routing.interface(dev);
    if (!node || !link || !iface) return { kind: 'stopped', ns, dev, reason: `no device ${dev} in ${ns}` };
    if (iface.master) {
      const br = node.link(iface.master);
      if (br?.spec.kind !== 'bridge')
        return { kind: 'stopped', ns, dev, reason: `${iface.master} is not a bridge` };
      const l = br.spec.fdb.learn(frame.src, dev, this.env.now);
      if (l !== 'refreshed' && l !== 'local')
        this.l2(ns, br.name, 'fdb', `${br.name} ${l} ${frame.src} on ${dev}`);
      if (frame.dst === br.mac) {
        this.steps.push({ kind: 'wire', ns, dev: br.name, dir: 'in', frame });
        this.l2(
          ns,
          br.name,
          'fdb',
          `${br.name}: ${frame.dst} is the bridge's own address: up to ${ns}'s IP stack`,
        );
        const w = receive(node, frame.packet, br.name, this.env, { in: dev });
        this.steps.push({ kind: 'stack', ns, walk: w, outer: this.outer });
        return { kind: 'walk', ns, walk: w };
      }
      const out = this.fdbPort(ns, node, br, frame, dev);
      if (typeof out !== 'string') return out;
      if (out === dev && !link.hairpin)
        return {
          kind: 'stopped',
          ns,
          dev,
          reason: `${br.name} does not send a frame back out of ${dev} (hairpin off)`,
        };
      const w = bridged(node, frame.packet, br.name, dev, out, this.env);
      this.steps.push({ kind: 'stack', ns, walk: w, outer: this.outer });
      const o = w.outcome;
      if (o.kind === 'sent' && o.bridgedTo !== undefined) {
        const pl = node.link(o.bridgedTo)!;
        return this.emit(ns, pl, { ...frame, packet: o.packet });
      }
      return { kind: 'walk', ns, walk: w };
    }
    if (frame.dst !== link.mac && frame.dst !== 'ff:ff:ff:ff:ff:ff')
      return {
        kind: 'stopped',
        ns,
        dev,
        reason: `frame for ${frame.dst} is not for ${dev} (${link.mac}): PACKET_OTHERHOST, dropped`,
      };
    const w = receive(node, frame.packet, dev, this.env);
    this.steps.push({ kind: 'stack', ns, walk: w, outer: this.outer });
    // A VXLAN packet keeps its inner frame with it until the VXLAN socket takes it.
    return frame.vxlan ? { kind: 'walk', ns, walk: w, encap: frame.vxlan } : { kind: 'walk', ns, walk: w };
  }

  /** DF set and too big for a forwarding hop: drop, and ICMP fragmentation needed back to the source. */
  private fragNeeded(ns: string, node: KernelNode, dev: string, p: Packet, mtu: number): TravelEnd {
    // icmp_send: the source is what a route back to the sender picks (the address on its side).
    const back = node.routing.route(p.src);
    const src = back.kind === 'unicast' || back.kind === 'local' ? back.src : undefined;
    this.l2(
      ns,
      dev,
      'mtu',
      `${p.length} bytes with DF set do not fit ${dev}'s MTU ${mtu}: dropped; ICMP fragmentation needed (type 3 code 4, next-hop MTU ${mtu}) from ${src?.text ?? '?'} to ${p.src.text}`,
    );
    const reason = `${p.length} bytes with DF set exceed ${dev}'s MTU ${mtu}: dropped, ICMP fragmentation needed (mtu ${mtu}) sent to ${p.src.text}`;
    if (!src || p.family !== 4 || this.opts.followIcmp === false) return { kind: 'stopped', ns, dev, reason };
    const icmp = packet({
      proto: 'icmp',
      src,
      dst: p.src,
      // ip_forward checks the MTU before it decrements the TTL: the error quotes the header as it arrived.
      icmp: { type: 3, code: 4, id: 0, mtu, quote: p },
      // ICMP errors leave with DF clear (the kernel's ICMP socket does not do PMTU discovery).
      df: false,
      // The IP header, the ICMP header, and as much of the original as fits in 576 bytes.
      length: Math.min(576, 28 + p.length),
    });
    const inner = new Traveller(this.world, this.env, { ...this.opts, followIcmp: false });
    const w = send(node, icmp, this.env);
    inner.steps.push({ kind: 'stack', ns, walk: w, outer: false });
    const end = inner.run(ns, w);
    return { kind: 'stopped', ns, dev, reason, icmp: { steps: inner.steps, end } };
  }
}

interface Next {
  readonly kind: 'walk';
  readonly ns: string;
  readonly walk: WalkResult;
  readonly encap?: { vni: number; inner: Frame };
}

/**
 * Move a packet on from a stack walk in namespace `ns` (its `send` or `receive` result) over the
 * devices, from namespace to namespace, until it reaches a socket, leaves the world or stops.
 */
export function travel(
  world: NetWorld,
  ns: string,
  first: WalkResult,
  env: WalkEnv,
  opts: TravelOptions = {},
): Travel {
  const t = new Traveller(world, env, opts);
  t.steps.push({ kind: 'stack', ns, walk: first, outer: false });
  const end = t.run(ns, first);
  return { steps: t.steps, end };
}
