import blessed from 'blessed';
import { controlRequest } from '../appliance/control/client';
import { ADD_PROMPT, divertPanel, parseDivertLine, parseRemoveAnswer, removePrompt, type Typed } from './divert-panel';
import { DashboardModel, SORTS } from './model';
import { alpPanel, connectionsPanel, HELP, KEYS, queuesPanel, serversPanel, statusLine, throughputPanel } from './panels';

const REFRESH_MS = 500;

type PanelName = 'servers' | 'alps' | 'connections' | 'traffic' | 'divert';
const ORDER: PanelName[] = ['servers', 'alps', 'connections', 'traffic', 'divert'];

/**
 * The live dashboard: a blessed screen fed by the control socket twice a second. It is a
 * separate process from the appliance, so it can crash, lag or be many without the data
 * path noticing; when the appliance goes away it says so and keeps trying.
 *
 * Layout: the status line on top and the keys at the bottom; servers, then the ALP table
 * beside throughput and queues, then the diverted addresses (as many lines as they need, up
 * to a quarter of the lower area), then connections taking the rest. On a short terminal
 * (under 36 lines) the lower area shows one panel at a time, chosen with Tab.
 */
export class Dashboard {
  private readonly screen: blessed.Widgets.Screen;
  private readonly status: blessed.Widgets.BoxElement;
  private readonly footer: blessed.Widgets.BoxElement;
  private readonly boxes: Record<PanelName, blessed.Widgets.BoxElement>;
  private readonly help: blessed.Widgets.BoxElement;
  private readonly notice: blessed.Widgets.BoxElement;
  private focus: PanelName = 'connections';
  private compact = false;
  private timer: NodeJS.Timeout | undefined;
  private refreshing = false;
  private flash = '';
  private flashUntil = 0;
  private prompting = false;

  constructor(private readonly model: DashboardModel) {
    this.screen = blessed.screen({ smartCSR: true, fullUnicode: false, title: 'socksalp', warnings: false, autoPadding: true });
    const box = (label: string) =>
      blessed.box({ parent: this.screen, label: ` ${label} `, border: { type: 'line' }, tags: false, mouse: true, scrollable: true, style: { border: { fg: 'white' } } });
    this.status = blessed.box({ parent: this.screen, top: 0, left: 0, height: 1, width: '100%', tags: false, style: { inverse: true } });
    this.footer = blessed.box({ parent: this.screen, bottom: 0, left: 0, height: 1, width: '100%', tags: false, style: { inverse: true } });
    this.boxes = {
      servers: box('Servers'),
      alps: box('Socks ALP Configuration table'),
      connections: box('Connections'),
      traffic: box('Throughput, queues and congestion'),
      divert: box('Diverted addresses'),
    };
    this.notice = blessed.box({ parent: this.screen, top: 'center', left: 'center', width: '80%', height: 5, border: { type: 'line' }, hidden: true, tags: false });
    this.help = blessed.box({ parent: this.screen, top: 'center', left: 'center', width: 84, height: HELP.length + 2, border: { type: 'line' }, hidden: true, content: HELP.join('\n'), tags: false });
    this.bindKeys();
    this.screen.on('resize', () => this.render());
  }

  start(): void {
    this.render();
    void this.tick();
    this.timer = setInterval(() => void this.tick(), REFRESH_MS);
  }

  private async tick(): Promise<void> {
    if (this.refreshing) return;
    this.refreshing = true;
    try {
      this.model.pageSize = this.connectionRows();
      await this.model.refresh();
    } finally {
      this.refreshing = false;
    }
    this.render();
  }

  private connectionRows(): number {
    const h = this.boxes.connections.height;
    return Math.max(1, (typeof h === 'number' ? h : 10) - 4);
  }

  private bindKeys(): void {
    const s = this.screen;
    s.key(['q', 'C-c'], () => this.quit());
    s.key(['tab'], () => this.moveFocus(1));
    s.key(['S-tab'], () => this.moveFocus(-1));
    s.key(['up', 'k'], () => this.scroll(-1));
    s.key(['down', 'j'], () => this.scroll(1));
    s.key(['pageup'], () => this.scroll(-this.connectionRows()));
    s.key(['pagedown'], () => this.scroll(this.connectionRows()));
    s.key(['s'], () => {
      this.model.sort = SORTS[(SORTS.indexOf(this.model.sort) + 1) % SORTS.length];
      this.model.offset = 0;
      this.say(`sorting connections by ${this.model.sort}`);
      void this.tick();
    });
    s.key(['/'], () => this.promptFilter());
    s.key(['a'], () => this.promptAdd());
    s.key(['d'], () => this.promptRemove());
    s.key(['escape'], () => {
      if (!this.help.hidden) this.help.hide();
      else if (this.model.filter) {
        this.model.filter = '';
        this.model.offset = 0;
        void this.tick();
      }
      this.render();
    });
    s.key(['r'], () => void this.reload());
    s.key(['?', 'h'], () => {
      this.help.toggle();
      this.render();
    });
    for (const name of ORDER) {
      this.boxes[name].on('wheeldown', () => this.scroll(3, name));
      this.boxes[name].on('wheelup', () => this.scroll(-3, name));
      this.boxes[name].on('click', () => {
        this.focus = name;
        this.render();
      });
    }
  }

  private moveFocus(step: number): void {
    this.focus = ORDER[(ORDER.indexOf(this.focus) + step + ORDER.length) % ORDER.length];
    this.render();
  }

  private scroll(rows: number, panel: PanelName = this.focus): void {
    if (panel === 'connections') {
      const max = Math.max(0, this.model.connsMatched - 1);
      this.model.offset = Math.min(max, Math.max(0, this.model.offset + rows));
      void this.tick();
    } else if (panel === 'divert') {
      this.model.moveDivertCursor(rows);
      this.render();
    } else {
      this.boxes[panel].scroll(rows);
      this.render();
    }
  }

  /** A line typed in the footer after `label`; Escape cancels, and `done` is not called. */
  private prompt(label: string, done: (line: string) => void): void {
    if (this.prompting) return;
    this.prompting = true;
    this.footer.setContent(label);
    const width = Math.max(1, (this.screen.width as number) - label.length);
    const input = blessed.textbox({ parent: this.screen, bottom: 0, left: label.length, height: 1, width, inputOnFocus: false, style: { inverse: true } });
    this.render();
    input.readInput((_err, value) => {
      input.destroy();
      this.prompting = false;
      if (typeof value === 'string') done(value);
      void this.tick();
    });
  }

  private promptFilter(): void {
    this.prompt('filter: ', (value) => {
      this.model.filter = value.trim();
      this.model.offset = 0;
      this.focus = 'connections';
    });
  }

  /** The diverted addresses get the focus, so that a short terminal shows what changes. */
  private promptAdd(): void {
    this.focus = 'divert';
    this.prompt(ADD_PROMPT, (line) => void this.divert(parseDivertLine(line)));
  }

  private promptRemove(): void {
    this.focus = 'divert';
    // The entry is the one under the cursor now: refreshes while the prompt waits do not change it.
    const entry = this.model.diverted[this.model.divertSelected];
    if (!entry) this.say('no diversion to remove; a adds one');
    else this.prompt(removePrompt(entry), (answer) => void this.divert(parseRemoveAnswer(entry, answer)));
  }

  private async divert(typed: Typed): Promise<void> {
    this.say(typed.ok ? await this.model.divert(typed.request) : typed.error);
    void this.tick();
  }

  private async reload(): Promise<void> {
    try {
      const a = await controlRequest(this.model.socket, { cmd: 'reload' });
      const r = a.reload as { ok: boolean; message: string } | undefined;
      this.say(r ? `reload: ${r.message.split('\n').join(' | ')}` : `reload: ${String(a.error)}`);
    } catch (e) {
      this.say(`reload: ${(e as Error).message}`);
    }
    void this.tick();
  }

  private say(text: string): void {
    this.flash = text;
    this.flashUntil = Date.now() + 6000;
    this.render();
  }

  private layout(): void {
    const w = this.screen.width as number;
    const h = this.screen.height as number;
    const m = this.model;
    this.compact = h < 36;
    const serversH = Math.min(m.servers.length + 3, Math.max(4, Math.floor(h / 3)));
    const place = (b: blessed.Widgets.BoxElement, top: number, left: number, width: number, height: number) => {
      b.top = top;
      b.left = left;
      b.width = Math.max(1, width);
      b.height = Math.max(3, height);
      b.show();
    };
    place(this.boxes.servers, 1, 0, w, serversH);
    const rest = h - 2 - serversH;
    if (this.compact) {
      // One lower panel at a time: the focused one, connections when servers has the focus.
      const shown: PanelName = this.focus === 'servers' ? 'connections' : this.focus;
      for (const name of ['alps', 'connections', 'traffic', 'divert'] as PanelName[]) {
        if (name === shown) place(this.boxes[name], 1 + serversH, 0, w, rest);
        else this.boxes[name].hide();
      }
      return;
    }
    const midH = Math.min(Math.max(m.alps.length, 7) + 3, Math.floor(rest / 2));
    const alpW = Math.min(Math.floor(w / 2), 64);
    place(this.boxes.alps, 1 + serversH, 0, alpW, midH);
    place(this.boxes.traffic, 1 + serversH, alpW, w - alpW, midH);
    // The entries and their count inside the border; an empty table needs its one line.
    const divertH = Math.min(m.diverted.length ? m.diverted.length + 3 : 3, Math.max(3, Math.floor(rest / 4)));
    place(this.boxes.divert, 1 + serversH + midH, 0, w, divertH);
    place(this.boxes.connections, 1 + serversH + midH + divertH, 0, w, rest - midH - divertH);
  }

  private render(): void {
    this.layout();
    const m = this.model;
    const inner = (b: blessed.Widgets.BoxElement) => Math.max(1, (b.width as number) - 2);
    this.status.setContent(statusLine(m, this.screen.width as number));
    this.boxes.servers.setContent(serversPanel(m, inner(this.boxes.servers)).join('\n'));
    this.boxes.alps.setContent(alpPanel(m, inner(this.boxes.alps)).join('\n'));
    const connsH = (this.boxes.connections.height as number) - 2;
    this.boxes.connections.setContent(connectionsPanel(m, inner(this.boxes.connections), connsH).join('\n'));
    this.boxes.connections.setLabel(` Connections${m.filter ? ` [filter: ${m.filter}]` : ''} `);
    const tw = inner(this.boxes.traffic);
    this.boxes.traffic.setContent([...throughputPanel(m, tw), '', ...queuesPanel(m, tw)].join('\n'));
    this.boxes.divert.setContent(divertPanel(m, inner(this.boxes.divert), (this.boxes.divert.height as number) - 2, true).join('\n'));
    for (const name of ORDER) this.boxes[name].style.border.fg = name === this.focus ? 'cyan' : 'white';
    if (m.error) {
      this.notice.setContent(` The appliance is not reachable: ${m.error}.\n Control socket ${m.socket}\n Retrying every ${REFRESH_MS} ms; the data shown is from ${m.lastOk?.toISOString().slice(11, 19) ?? 'never'}.`);
      this.notice.show();
    } else {
      this.notice.hide();
    }
    if (!this.prompting) this.footer.setContent(Date.now() < this.flashUntil ? this.flash : KEYS);
    this.screen.render();
  }

  private quit(): void {
    if (this.timer) clearInterval(this.timer);
    this.screen.destroy();
    process.exit(0);
  }
}
