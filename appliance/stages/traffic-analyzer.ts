import type { AlpTable } from '../config/tables';

/**
 * Socks ALP Traffic Analyzer (patent figure 7), the part that is a pure function of a
 * datagram's facts: is it SOCKS (step 702), and which ALP does a CONNECT's DSTPORT name
 * (step 707). Reassembling the request and keeping the Socks ALP Connection table
 * (steps 705-714) are the flow layer's; it calls these.
 *
 * The ALP of every port is resolved once, into a 64 K-entry array, when the tables load.
 */
export class TrafficAnalyzer {
  /** ALP index per destination port; records.length stands for the default record. */
  private readonly alpByPort = new Uint16Array(65536);
  readonly names: string[];

  constructor(readonly socksPort: number, alps: AlpTable) {
    this.names = [...alps.records.map((r) => r.name), alps.fallback.name];
    this.alpByPort.fill(alps.records.length);
    alps.records.forEach((r, i) => {
      for (const p of r.ports) this.alpByPort[p] = i;
    });
  }

  /** Step 702: does the datagram carry SOCKS traffic? */
  isSocks(dstPort: number): boolean {
    return dstPort === this.socksPort;
  }

  /** Step 707: Datagram_ALP from the CONNECT request's DSTPORT. */
  alpOf(connectPort: number): number {
    return this.alpByPort[connectPort];
  }
}
