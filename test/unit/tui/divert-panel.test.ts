import { expect } from 'chai';
import { createServer, type Server } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { divertAnswerText, divertPanel, parseDivertLine, parseRemoveAnswer, removePrompt, type DivertRow } from '../../../tui/divert-panel';
import { DashboardModel } from '../../../tui/model';
import { renderOnce } from '../../../tui/panels';

const A = { original: '203.0.113.80:8080', diverted: '203.0.113.81:8080' };
const B = { original: 'web.socksalp.test', diverted: 'mirror.socksalp.test' };
const C = { original: '203.0.113.82', diverted: '203.0.113.81' };

function model(rows: DivertRow[], selected = 0): DashboardModel {
  const m = new DashboardModel('/nowhere');
  m.setDiverted(rows);
  m.divertSelected = selected;
  return m;
}

describe('tui: diverted addresses, the typed line', function () {
  it('ORIGINAL DIVERTED is an add in drain mode; a third word is the mode, passed on as typed', function () {
    expect(parseDivertLine('203.0.113.80:8080 203.0.113.81:8080')).to.deep.equal({
      ok: true, request: { cmd: 'divert', op: 'add', original: '203.0.113.80:8080', diverted: '203.0.113.81:8080', mode: 'drain' },
    });
    expect(parseDivertLine('  203.0.113.80:8080 \t203.0.113.81:8080  move ')).to.deep.equal({
      ok: true, request: { cmd: 'divert', op: 'add', original: '203.0.113.80:8080', diverted: '203.0.113.81:8080', mode: 'move' },
    });
    // The appliance validates modes and endpoints: the dashboard only splits the words.
    expect(parseDivertLine('not-an-address: sideways sideways')).to.deep.include({ ok: true });
  });

  it('another number of words is an error naming the form, and nothing is sent', function () {
    for (const [line, n] of [['', 0], ['203.0.113.80:8080', 1], ['a b drain extra', 4]] as const) {
      expect(parseDivertLine(line), line).to.deep.equal({ ok: false, error: `divert add: type ORIGINAL DIVERTED [drain|move], not ${n} word(s)` });
    }
  });

  it('the remove confirmation: Enter is drain, one word is the mode, more is an error', function () {
    expect(removePrompt(A)).to.equal('remove 203.0.113.80:8080 -> 203.0.113.81:8080? Enter: drain, or type move; Esc keeps it: ');
    expect(parseRemoveAnswer(A, '')).to.deep.equal({ ok: true, request: { cmd: 'divert', op: 'remove', original: '203.0.113.80:8080', mode: 'drain' } });
    expect(parseRemoveAnswer(A, ' move ')).to.deep.equal({ ok: true, request: { cmd: 'divert', op: 'remove', original: '203.0.113.80:8080', mode: 'move' } });
    expect(parseRemoveAnswer(A, 'move now')).to.deep.equal({ ok: false, error: 'divert remove: type nothing (drain) or one mode, not 2 words; 203.0.113.80:8080 stays' });
  });

  it('the status line shows the answer\'s message, or its error as is', function () {
    expect(divertAnswerText('add', { ok: true, message: 'added a -> b; established connections stay where they are', entries: [] }))
      .to.equal('divert: added a -> b; established connections stay where they are');
    expect(divertAnswerText('remove', { ok: false, error: 'mode "move" is not available' })).to.equal('divert remove: mode "move" is not available');
  });
});

describe('tui: diverted addresses, the panel', function () {
  it('an empty table says so and names the key that adds one', function () {
    expect(divertPanel(model([]), 120, 5, true)).to.deep.equal(['no diversions: connections go where they ask; a adds one']);
    expect(divertPanel(model([]), 120, 5, false)).to.deep.equal(['no diversions: connections go where they ask']);
  });

  it('lists ORIGINAL -> DIVERTED in table order, aligned, the cursor on the selected entry, then the count', function () {
    expect(divertPanel(model([A, B, C], 1), 120, 10, true)).to.deep.equal([
      '  203.0.113.80:8080 -> 203.0.113.81:8080',
      '> web.socksalp.test -> mirror.socksalp.test',
      '  203.0.113.82      -> 203.0.113.81',
      '3 entries; a adds, d removes the selected',
    ]);
    expect(divertPanel(model([A]), 120, 10, true)).to.deep.equal(['> 203.0.113.80:8080 -> 203.0.113.81:8080', '1 entry; a adds, d removes the selected']);
  });

  it('a short panel keeps the cursor in view and says which entries it shows', function () {
    expect(divertPanel(model([A, B, C], 0), 120, 3, true)).to.deep.equal([
      '> 203.0.113.80:8080 -> 203.0.113.81:8080',
      '  web.socksalp.test -> mirror.socksalp.test',
      '3 entries, 1-2 shown; a adds, d removes the selected',
    ]);
    expect(divertPanel(model([A, B, C], 2), 120, 3, true)).to.deep.equal([
      '  web.socksalp.test -> mirror.socksalp.test',
      '> 203.0.113.82      -> 203.0.113.81',
      '3 entries, 2-3 shown; a adds, d removes the selected',
    ]);
  });

  it('fits the width', function () {
    const lines = divertPanel(model([A, B]), 20, 10, true);
    expect(lines.every((l) => l.length <= 20)).to.equal(true);
    expect(lines[0]).to.equal('> 203.0.113.80:8080~');
  });

  it('dash --once prints every entry, without cursor or keys', function () {
    const m = model([A, B, C], 2);
    const text = renderOnce(m, 120);
    expect(text).to.contain([
      '== Diverted addresses ==',
      '  203.0.113.80:8080 -> 203.0.113.81:8080',
      '  web.socksalp.test -> mirror.socksalp.test',
      '  203.0.113.82      -> 203.0.113.81',
      '3 entries',
      '',
    ].join('\n'));
  });
});

describe('tui: diverted addresses, the model', function () {
  it('the cursor stays on its entry when the table changes, and within the table', function () {
    const m = model([A, B, C], 1);
    m.setDiverted([B, C]);
    expect(m.divertSelected, 'the entry above it went').to.equal(0);
    m.setDiverted([C, A, B]);
    expect(m.divertSelected, 'it moved down').to.equal(2);
    m.setDiverted([C]);
    expect(m.divertSelected, 'its entry went: the last one').to.equal(0);
    m.setDiverted([]);
    expect(m.divertSelected).to.equal(0);
    m.setDiverted([A, B, C]);
    m.moveDivertCursor(5);
    expect(m.divertSelected).to.equal(2);
    m.moveDivertCursor(-1);
    expect(m.divertSelected).to.equal(1);
    m.moveDivertCursor(-9);
    expect(m.divertSelected).to.equal(0);
  });

  describe('over a control socket', function () {
    let dir: string;
    let server: Server;
    let socket: string;
    const asked: Record<string, unknown>[] = [];
    let table: DivertRow[];

    // Answers as the appliance does, with the least that the model reads.
    const answer = (req: Record<string, unknown>): object => {
      switch (req.cmd) {
        case 'snapshot':
          return { ok: true, status: { devices: [], table: { created: 0 } }, servers: [], alps: [] };
        case 'conns':
          return { ok: true, rows: [], total: 0, matched: 0 };
        case 'divert':
          if (req.op === 'list') return { ok: true, entries: table, path: '/conf/diverted.ini' };
          if (req.mode !== 'drain') return { ok: false, error: `mode "${String(req.mode)}" is not available` };
          table = req.op === 'add' ? [...table, { original: String(req.original), diverted: String(req.diverted) }] : table.filter((e) => e.original !== req.original);
          return { ok: true, message: `${req.op === 'add' ? 'added' : 'removed'} ${String(req.original)}`, entries: table };
        default:
          return { ok: false, error: 'unknown command' };
      }
    };

    beforeEach(async function () {
      asked.length = 0;
      table = [A];
      dir = mkdtempSync(join(tmpdir(), 'socksalp-tui-'));
      socket = join(dir, 'control.sock');
      server = createServer((c) => {
        let data = '';
        c.setEncoding('utf8');
        c.on('data', (chunk: string) => {
          data += chunk;
          if (!data.includes('\n')) return;
          const req = JSON.parse(data.slice(0, data.indexOf('\n'))) as Record<string, unknown>;
          asked.push(req);
          c.end(JSON.stringify(answer(req)) + '\n');
        });
      });
      await new Promise<void>((r) => server.listen(socket, r));
    });

    afterEach(async function () {
      if (server.listening) await new Promise((r) => server.close(r));
      rmSync(dir, { recursive: true, force: true });
    });

    it('a refresh asks for divert list with the snapshot and the connections', async function () {
      const m = new DashboardModel(socket);
      await m.refresh();
      expect(m.error).to.equal(undefined);
      expect(asked.map((r) => `${String(r.cmd)}${r.op ? ` ${String(r.op)}` : ''}`).sort()).to.deep.equal(['conns', 'divert list', 'snapshot']);
      expect(m.diverted).to.deep.equal([A]);
    });

    it('the appliance away: says why, keeps the last table', async function () {
      const m = new DashboardModel(socket);
      await m.refresh();
      await new Promise((r) => server.close(r));
      await m.refresh();
      expect(m.error).to.equal('no appliance is running there');
      expect(m.diverted).to.deep.equal([A]);
    });

    it('add and remove send the request as built and take the answer\'s table; a refusal is shown as is', async function () {
      const m = new DashboardModel(socket);
      const add = parseDivertLine(`${B.original} ${B.diverted}`);
      if (!add.ok) throw new Error(add.error);
      expect(await m.divert(add.request)).to.equal(`divert: added ${B.original}`);
      expect(asked.at(-1)).to.deep.equal(add.request);
      expect(m.diverted).to.deep.equal([A, B]);
      const move = parseRemoveAnswer(A, 'move');
      if (!move.ok) throw new Error(move.error);
      expect(await m.divert(move.request)).to.equal('divert remove: mode "move" is not available');
      expect(m.diverted).to.deep.equal([A, B]);
      const drain = parseRemoveAnswer(A, '');
      if (!drain.ok) throw new Error(drain.error);
      expect(await m.divert(drain.request)).to.equal(`divert: removed ${A.original}`);
      expect(m.diverted).to.deep.equal([B]);
    });
  });
});
