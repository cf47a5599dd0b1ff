import { parentPort, workerData } from 'node:worker_threads';
import { Appliance } from '../appliance';
import { loadConfig } from '../config/load';
import { ConfigError, formatProblem } from '../config/problem';
import { answerRequest } from '../control/server';
import { alps, servers, status } from '../control/snapshot';
import { REPORT_MS, type FromWorker, type ToWorker, type WorkerStart } from './protocol';

/**
 * A worker other than the first: the same data path on its own queue of every device
 * (Appliance with `worker` > 0), its share of the connections by port (Dispatcher.setShard).
 * It has no control socket of its own: the first worker relays what changes the tables and
 * sums this one's figures from its reports.
 */
const port = parentPort!;
const { dir, index } = workerData as WorkerStart;
const post = (m: FromWorker) => port.postMessage(m);
const log = (message: string) => post({ type: 'log', message });

let appliance: Appliance;
try {
  appliance = new Appliance(loadConfig(dir), log, index);
} catch (e) {
  const message = e instanceof ConfigError ? e.problems.map(formatProblem).join('; ') : (e as Error).message;
  post({ type: 'failed', message });
  process.exit(1);
}

appliance.dispatcher.handOver = (slot, length, to) => {
  const at = appliance.pool.ipOffset(slot);
  post({ type: 'datagram', to, bytes: Uint8Array.from(appliance.pool.buf.subarray(at, at + length)) });
};

let reports: NodeJS.Timeout | undefined;
const report = () => post({ type: 'report', status: status(appliance), servers: servers(appliance), alps: alps(appliance) });

port.on('message', (m: ToWorker) => {
  switch (m.type) {
    case 'start':
      appliance.start();
      reports = setInterval(report, REPORT_MS);
      report();
      return;
    case 'follow': {
      appliance.forwarder.neighbours.adopt(m.neighbours);
      const h = appliance.health;
      m.checkFailing.forEach((down, i) => { if (h.checkFailing[i] !== down) h.checkDown(i, down); });
      return;
    }
    case 'datagram':
      appliance.forwarder.inject(m.bytes);
      return;
    case 'request':
      post({ type: 'answer', id: m.id, answer: answerRequest(appliance, m.req, 'the first worker') as never });
      return;
    case 'stop':
      if (reports) clearInterval(reports);
      appliance.stop(() => {
        post({ type: 'stopped' });
        port.close();
      });
      return;
  }
});
post({ type: 'ready' });
