/** nfacct accounting objects: packet and byte counts by name (the nfacct match adds to them). */
export class NfAcct {
  private readonly objects = new Map<string, { packets: number; bytes: number }>();

  add(name: string, bytes: number): void {
    const o = this.objects.get(name);
    if (o) {
      o.packets++;
      o.bytes += bytes;
    } else this.objects.set(name, { packets: 1, bytes });
  }

  get(name: string): { packets: number; bytes: number } | undefined {
    const o = this.objects.get(name);
    return o ? { ...o } : undefined;
  }
}
