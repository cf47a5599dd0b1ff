import { expect } from 'chai';
import { createSocket, type Socket } from 'node:dgram';
import { setTimeout as sleep } from 'node:timers/promises';
import { IpfixDecoder, type DecodedMessage } from '../../lab/ipfix-decode';

export const LOOPBACK = '127.0.0.1';

/** A UDP socket on the loopback that keeps and decodes what it receives. */
export class Collector {
  readonly socket: Socket = createSocket('udp4');
  readonly decoder = new IpfixDecoder();
  readonly messages: DecodedMessage[] = [];
  /** The datagrams as they came. */
  readonly raw: Buffer[] = [];
  readonly sizes: number[] = [];
  constructor() {
    this.socket.on('message', (m) => {
      this.raw.push(m);
      this.sizes.push(m.length);
      this.messages.push(this.decoder.decode(m));
    });
  }
  async listen(): Promise<number> {
    await new Promise<void>((r) => this.socket.bind(0, LOOPBACK, r));
    return this.socket.address().port;
  }
  async next(count: number): Promise<DecodedMessage[]> {
    for (let i = 0; i < 50 && this.messages.length < count; i++) await sleep(20);
    expect(this.messages.length, 'messages received').to.be.at.least(count);
    return this.messages;
  }
}
