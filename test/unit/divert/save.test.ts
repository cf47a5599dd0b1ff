import { expect } from 'chai';
import { chmodSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from '../../../appliance/config/load';
import { formatEndpoint } from '../../../appliance/divert/endpoint';
import { DivertedAddresses } from '../../../appliance/divert/table';
import { renderDiverted, saveDiverted } from '../../../appliance/divert/save';
import { REPO } from '../../lab/lab';
import { confCopies } from '../conf-dir';

const conf = confCopies();
/** A copy of conf/'s three usual files, plus diverted.ini holding `diverted` (none when undefined). */
const confWith = (diverted: string | Buffer | undefined) => conf(diverted === undefined ? {} : { 'diverted.ini': diverted });

/** The live table as the appliance would build it from `dir`. */
function live(dir: string) {
  const c = loadConfig(dir);
  return { path: c.diverted!.path, table: new DivertedAddresses(c.diverted!.entries) };
}

const FILE = [
  '; Diverted addresses of the web farm.',
  '; Second header line.',
  '',
  '[diverted]',
  '; the web server, moved',
  'web.socksalp.test = 203.0.113.81',
  '',
  '; --- group: port 8080 ---',
  '',
  '; old proxy',
  '203.0.113.80:8080 = 203.0.113.81:8080   ; until March',
  'Mirror.Socksalp.Test. = 203.0.113.83 # kept as written',
  '',
  '; end of the table',
  '',
].join('\n');

describe('divert: save writes the live table back to diverted.ini', function () {
  it('changes nothing when nothing changed', function () {
    const dir = confWith(FILE);
    const { path, table } = live(dir);
    saveDiverted(path, table);
    expect(readFileSync(path, 'utf8')).to.equal(FILE);
  });

  it('keeps the header, the comments of entries that stay, a group\'s comment; drops a removed entry\'s own comment', function () {
    const dir = confWith(FILE);
    const { path, table } = live(dir);
    table.remove('203.0.113.80:8080');
    expect(table.add('web.socksalp.test', '203.0.113.82:80').ok).to.equal(true);
    expect(table.add('ftp.socksalp.test:21', 'ftp2.socksalp.test').ok).to.equal(true);
    saveDiverted(path, table);
    expect(readFileSync(path, 'utf8')).to.equal([
      '; Diverted addresses of the web farm.',
      '; Second header line.',
      '',
      '[diverted]',
      '; the web server, moved',
      'web.socksalp.test = 203.0.113.82:80',
      '',
      '; --- group: port 8080 ---',
      '',
      'Mirror.Socksalp.Test. = 203.0.113.83 # kept as written',
      '',
      '; end of the table',
      '',
      'ftp.socksalp.test:21 = ftp2.socksalp.test',
      '',
    ].join('\n'));
    // Read back: the same table, in the same order.
    const again = live(dir).table;
    expect(again.entries()).to.deep.equal(table.entries());
    // And saved again: the same text (a stable order).
    const text = readFileSync(path, 'utf8');
    saveDiverted(path, again);
    expect(readFileSync(path, 'utf8')).to.equal(text);
  });

  it('keeps the inline comment of an entry whose diverted side changed', function () {
    const dir = confWith(FILE);
    const { path, table } = live(dir);
    table.add('203.0.113.80:8080', '203.0.113.84');
    saveDiverted(path, table);
    expect(readFileSync(path, 'utf8')).to.include('\n; old proxy\n203.0.113.80:8080 = 203.0.113.84   ; until March\n');
  });

  it('removing every entry leaves the comments that are no entry\'s', function () {
    const dir = confWith(FILE);
    const { path, table } = live(dir);
    for (const e of [...table.entries()]) table.remove(e.original);
    saveDiverted(path, table);
    const text = readFileSync(path, 'utf8');
    expect(text).to.equal('; Diverted addresses of the web farm.\n; Second header line.\n\n[diverted]\n\n; --- group: port 8080 ---\n\n\n; end of the table\n');
    expect(loadConfig(dir).diverted!.entries).to.deep.equal([]);
  });

  it('adds to conf/diverted.ini below its commented example, not attached to it', function () {
    const dir = confWith(readFileSync(join(REPO, 'conf', 'diverted.ini')));
    const { path, table } = live(dir);
    table.add('203.0.113.80', '203.0.113.81');
    saveDiverted(path, table);
    const text = readFileSync(path, 'utf8');
    expect(text.startsWith(readFileSync(join(REPO, 'conf', 'diverted.ini'), 'utf8'))).to.equal(true);
    expect(text.endsWith('[diverted]\n203.0.113.80 = 203.0.113.81\n')).to.equal(true);
    // Removed again, the file is as it was.
    const t2 = live(dir).table;
    t2.remove('203.0.113.80');
    saveDiverted(path, t2);
    expect(readFileSync(path, 'utf8')).to.equal(readFileSync(join(REPO, 'conf', 'diverted.ini'), 'utf8'));
  });

  it('creates the file when there was none, and it loads', function () {
    const dir = confWith(undefined);
    const { path, table } = live(dir);
    table.add('Web.Socksalp.Test', '203.0.113.81');
    saveDiverted(path, table);
    expect(readFileSync(path, 'utf8')).to.match(/^; Diverted addresses .*\n(;.*\n)*\n\[diverted\]\nweb\.socksalp\.test = 203\.0\.113\.81\n$/);
    expect(statSync(path).mode & 0o777).to.equal(0o644);
    expect(live(dir).table.entries().map((e) => formatEndpoint(e.original))).to.deep.equal(['web.socksalp.test']);
  });

  it('adds [diverted] to a file of comments alone; keeps CRLF; keeps the mode; leaves no temporary file', function () {
    expect(renderDiverted('; only a comment\n', [])).to.equal('; only a comment\n[diverted]\n');
    const dir = confWith('; header\r\n[diverted]\r\na.test = b.test\r\n');
    chmodSync(join(dir, 'diverted.ini'), 0o600);
    const { path, table } = live(dir);
    table.add('c.test', 'd.test');
    saveDiverted(path, table);
    expect(readFileSync(path, 'utf8')).to.equal('; header\r\n[diverted]\r\na.test = b.test\r\nc.test = d.test\r\n');
    expect(statSync(path).mode & 0o777).to.equal(0o600);
    expect(readdirSync(dir).filter((f) => f.includes('diverted'))).to.deep.equal(['diverted.ini']);
  });

  it('keeps bytes of a comment that are not UTF-8', function () {
    const bytes = Buffer.concat([Buffer.from('; caf'), Buffer.of(0xe9), Buffer.from(' (Latin-1)\n[diverted]\na.test = b.test\n')]);
    const dir = confWith(bytes);
    const { path, table } = live(dir);
    saveDiverted(path, table);
    expect(readFileSync(path).equals(bytes)).to.equal(true);
  });

  it('refuses to overwrite a file edited into something it cannot keep', function () {
    const dir = confWith('[diverted]\na.test = b.test\n');
    const { path, table } = live(dir);
    writeFileSync(path, '[diverted]\na.test = b.test\n[other]\nx = y\n');
    expect(() => saveDiverted(path, table)).to.throw(/diverted\.ini:3: "\[other\]" is not the one \[diverted\] section; not overwritten/);
    writeFileSync(path, '[diverted]\njust words\n');
    expect(() => saveDiverted(path, table)).to.throw(/diverted\.ini:2: "just words" is not a comment/);
    expect(readFileSync(path, 'utf8')).to.equal('[diverted]\njust words\n');
  });
});
