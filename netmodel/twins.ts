/**
 * The loopback-twin address plan. Real sockets only ever use loopback; the model uses realistic
 * addresses. Every model address in 10.0.0.0/8 has a twin in 127.0.0.0/8 with the same last three
 * bytes (10.a.b.c <-> 127.a.b.c). The Cluster's loopbackMap adds more prefixes (e.g.
 * 172.17.0.0/16 <-> 127.17.0.0/16). Addresses with no twin are emulated only.
 */
import {
  type IP,
  type IPv4,
  type Prefix,
  parsePrefix,
  prefixContains,
  prefixNth,
  prefixOffset,
} from './addr.js';
import type { LoopbackMapping } from './cluster/objects.js';

export const BUILTIN_TWIN: LoopbackMapping = Object.freeze({
  model: parsePrefix('10.0.0.0/8'),
  loopback: parsePrefix('127.0.0.0/8'),
});

/** Addresses remembered per direction (the proxy asks for the same few on every connection). */
const MEMO_MAX = 4096;

export class TwinMap {
  private readonly maps: readonly LoopbackMapping[];
  private readonly loopbackOf = new Map<number, IPv4 | null>();
  private readonly modelOf = new Map<number, IP | null>();

  /** Extra mappings are consulted before the built-in 10/8 <-> 127/8 one (more specific first). */
  constructor(extra: readonly LoopbackMapping[] = []) {
    this.maps = [...extra].sort((a, b) => b.model.bits - a.model.bits).concat(BUILTIN_TWIN);
  }

  /** The loopback twin of a model address, or undefined when it has none (emulated only). */
  toLoopback(model: IP): IPv4 | undefined {
    if (model.family !== 4) return undefined;
    const known = this.loopbackOf.get(model.n);
    if (known !== undefined) return known ?? undefined;
    const r = this.findLoopback(model);
    remember(this.loopbackOf, model.n, r ?? null);
    return r;
  }

  private findLoopback(model: IP): IPv4 | undefined {
    for (const m of this.maps) {
      if (prefixContains(m.model, model)) return prefixNth(m.loopback, prefixOffset(m.model, model)) as IPv4;
    }
    return undefined;
  }

  /**
   * The model address a loopback address stands for. 127.0.0.1 and other loopback addresses
   * that twin nothing in the model return undefined (a process on the node).
   */
  toModel(loopback: IP): IP | undefined {
    if (loopback.family !== 4) return undefined;
    const known = this.modelOf.get(loopback.n);
    if (known !== undefined) return known ?? undefined;
    const r = this.findModel(loopback);
    remember(this.modelOf, loopback.n, r ?? null);
    return r;
  }

  private findModel(loopback: IP & { family: 4 }): IP | undefined {
    for (const m of this.maps) {
      if (prefixContains(m.loopback, loopback)) {
        // 127.0.0.0/24 would twin 10.0.0.0/24's network; 127.0.0.1 is always the node's own localhost.
        if (m === BUILTIN_TWIN && loopback.n >>> 8 === 0x7f0000 && (loopback.n & 0xff) <= 1) return undefined;
        return prefixNth(m.model, prefixOffset(m.loopback, loopback));
      }
    }
    return undefined;
  }

  /** Every model prefix that has twins. */
  modelPrefixes(): Prefix[] {
    return this.maps.map((m) => m.model);
  }
}

function remember<V>(memo: Map<number, V>, k: number, v: V): void {
  if (memo.size >= MEMO_MAX) memo.clear();
  memo.set(k, v);
}
