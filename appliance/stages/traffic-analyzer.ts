import type { AlpTable } from '../config/tables';

/**
 * Socks ALP Traffic Analyzer (patent figure 7), the part that is a pure function of a
 * datagram's facts: is it SOCKS (step 702), and which ALP does a CONNECT's DSTPORT name
 * (step 707). Reassembling the request and keeping the Socks ALP Connection table
 * (steps 705-714) are the flow layer's; it calls these.
 *
 * The ALP of every port is resolved once, into a 64 K-entry array, when the tables load. ALPs
 * are numbered by their AlpRegistry ids, which outlive reloads.
 */
export class TrafficAnalyzer {
  /** ALP id per destination port; ports no record names have the default record's. */
  private readonly alpByPort = new Uint16Array(65536);

  /** @param ids the AlpRegistry id of each record, the default record's last */
  constructor(readonly socksPort: number, alps: AlpTable, ids: readonly number[]) {
    this.alpByPort.fill(ids[alps.records.length]);
    alps.records.forEach((r, i) => {
      for (const p of r.ports) this.alpByPort[p] = ids[i];
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
