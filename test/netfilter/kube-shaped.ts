/** A kube-proxy-shaped nat table with N services, as restore text (for the index test and the bench). */
export function kubeNatRules(services: number, endpointsPer = 2): string {
  const lines = ['*nat', ':KUBE-SERVICES - [0:0]', ':KUBE-MARK-MASQ - [0:0]', ':KUBE-POSTROUTING - [0:0]'];
  const body: string[] = [
    '-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
    '-A OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
    '-A POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING',
    '-A KUBE-MARK-MASQ -j MARK --or-mark 0x4000',
    '-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN',
    '-A KUBE-POSTROUTING -j MARK --xor-mark 0x4000',
    '-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully',
  ];
  for (let s = 0; s < services; s++) {
    const cip = `10.96.${(s >> 8) & 255}.${s & 255}`;
    const svc = `KUBE-SVC-${s}`;
    lines.push(`:${svc} - [0:0]`);
    body.push(
      `-A KUBE-SERVICES -m comment --comment "ns/svc${s}:http cluster IP" -m tcp -p tcp -d ${cip} --dport 80 -j ${svc}`,
    );
    body.push(
      `-A ${svc} -m comment --comment "ns/svc${s}:http cluster IP" -m tcp -p tcp -d ${cip} --dport 80 ! -s 10.244.0.0/16 -j KUBE-MARK-MASQ`,
    );
    for (let e = 0; e < endpointsPer; e++) {
      const sep = `KUBE-SEP-${s}-${e}`;
      const ep = `10.244.${(s >> 8) & 255}.${(s * endpointsPer + e) & 255}`;
      lines.push(`:${sep} - [0:0]`);
      const prob =
        e < endpointsPer - 1
          ? ` -m statistic --mode random --probability ${(1 / (endpointsPer - e)).toFixed(10)}`
          : '';
      body.push(`-A ${svc} -m comment --comment "ns/svc${s}:http -> ${ep}:8080"${prob} -j ${sep}`);
      body.push(`-A ${sep} -m comment --comment ns/svc${s}:http -s ${ep} -j KUBE-MARK-MASQ`);
      body.push(
        `-A ${sep} -m comment --comment ns/svc${s}:http -m tcp -p tcp -j DNAT --to-destination ${ep}:8080`,
      );
    }
  }
  body.push(
    '-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS',
  );
  lines.push(':KUBE-NODEPORTS - [0:0]');
  return [...lines, ...body, 'COMMIT', ''].join('\n');
}
