import { expect } from 'chai';
import { bag, escapeLabelValue, Exposition, formatValue, kebab } from '../../../appliance/metrics/exposition';

describe('metrics: the text exposition format 0.0.4', function () {
  it('writes HELP and TYPE before each family, labels in order, values as Go floats (golden text)', function () {
    const x = new Exposition();
    x.family('socksalp_build_info', 'gauge', 'The running socksalp.').sample([['version', '1.2.3']], 1);
    x.family('socksalp_drops_total', 'counter', 'Drops by reason.').sample([['reason', 'no-route']], 3).sample([['reason', 'queue-full']], 0);
    x.family('socksalp_uptime_seconds', 'gauge', 'Seconds.').sample([], 12.5);
    x.family('socksalp_odd', 'gauge', 'Odd values.').sample([['v', 'nan']], NaN).sample([['v', 'inf']], Infinity).sample([['v', '-inf']], -Infinity).sample([['v', 'big']], 2 ** 53);
    x.family('socksalp_empty_total', 'counter', 'A family with no samples yet.');
    expect(x.text()).to.equal([
      '# HELP socksalp_build_info The running socksalp.',
      '# TYPE socksalp_build_info gauge',
      'socksalp_build_info{version="1.2.3"} 1',
      '# HELP socksalp_drops_total Drops by reason.',
      '# TYPE socksalp_drops_total counter',
      'socksalp_drops_total{reason="no-route"} 3',
      'socksalp_drops_total{reason="queue-full"} 0',
      '# HELP socksalp_uptime_seconds Seconds.',
      '# TYPE socksalp_uptime_seconds gauge',
      'socksalp_uptime_seconds 12.5',
      '# HELP socksalp_odd Odd values.',
      '# TYPE socksalp_odd gauge',
      'socksalp_odd{v="nan"} NaN',
      'socksalp_odd{v="inf"} +Inf',
      'socksalp_odd{v="-inf"} -Inf',
      'socksalp_odd{v="big"} 9007199254740992',
      '# HELP socksalp_empty_total A family with no samples yet.',
      '# TYPE socksalp_empty_total counter',
      '',
    ].join('\n'));
  });

  it('escapes backslash, double quote and line feed in label values, backslash and line feed in help', function () {
    expect(escapeLabelValue('a\\b"c\nd')).to.equal('a\\\\b\\"c\\nd');
    const x = new Exposition();
    x.family('socksalp_x', 'gauge', 'Help with \\ and\nnewline "quoted".').sample([['server', 'we"ird\\name\n']], 1);
    expect(x.text()).to.equal('# HELP socksalp_x Help with \\\\ and\\nnewline "quoted".\n# TYPE socksalp_x gauge\nsocksalp_x{server="we\\"ird\\\\name\\n"} 1\n');
  });

  it('writes a histogram as cumulative _bucket{le} lines ending at +Inf, then _sum and _count', function () {
    const x = new Exposition();
    x.family('socksalp_handshake_duration_seconds', 'histogram', 'Handshakes.');
    x.histogram([['server', 'sa']], { bounds: [0.001, 0.01, 0.1], counts: new Float64Array([2, 0, 5, 1]), sum: 0.456, count: 8 });
    x.histogram([['server', 'sb']], { bounds: [0.001, 0.01, 0.1], counts: new Float64Array(4), sum: 0, count: 0 });
    expect(x.text()).to.equal([
      '# HELP socksalp_handshake_duration_seconds Handshakes.',
      '# TYPE socksalp_handshake_duration_seconds histogram',
      'socksalp_handshake_duration_seconds_bucket{server="sa",le="0.001"} 2',
      'socksalp_handshake_duration_seconds_bucket{server="sa",le="0.01"} 2',
      'socksalp_handshake_duration_seconds_bucket{server="sa",le="0.1"} 7',
      'socksalp_handshake_duration_seconds_bucket{server="sa",le="+Inf"} 8',
      'socksalp_handshake_duration_seconds_sum{server="sa"} 0.456',
      'socksalp_handshake_duration_seconds_count{server="sa"} 8',
      'socksalp_handshake_duration_seconds_bucket{server="sb",le="0.001"} 0',
      'socksalp_handshake_duration_seconds_bucket{server="sb",le="0.01"} 0',
      'socksalp_handshake_duration_seconds_bucket{server="sb",le="0.1"} 0',
      'socksalp_handshake_duration_seconds_bucket{server="sb",le="+Inf"} 0',
      'socksalp_handshake_duration_seconds_sum{server="sb"} 0',
      'socksalp_handshake_duration_seconds_count{server="sb"} 0',
      '',
    ].join('\n'));
  });

  it('writes a summary as {quantile} lines, then _sum and _count, and refuses samples in it', function () {
    const x = new Exposition();
    x.family('socksalp_event_loop_delay_seconds', 'summary', 'Delay.');
    x.summary([], [[0.5, 0.0002], [0.99, 0.004]], 1.5, 300);
    expect(x.text()).to.equal([
      '# HELP socksalp_event_loop_delay_seconds Delay.',
      '# TYPE socksalp_event_loop_delay_seconds summary',
      'socksalp_event_loop_delay_seconds{quantile="0.5"} 0.0002',
      'socksalp_event_loop_delay_seconds{quantile="0.99"} 0.004',
      'socksalp_event_loop_delay_seconds_sum 1.5',
      'socksalp_event_loop_delay_seconds_count 300',
      '',
    ].join('\n'));
    expect(() => x.sample([], 1)).to.throw(/is a summary/);
    x.family('socksalp_g2', 'gauge', '');
    expect(() => x.summary([], [], 0, 0)).to.throw(/not a summary/);
  });

  it('refuses what would make the text invalid: bad or repeated names, counters without _total, reserved labels, mismatched histograms', function () {
    const x = new Exposition();
    expect(() => x.family('socksalp-bad', 'gauge', '')).to.throw(/not a valid new name/);
    x.family('socksalp_once', 'gauge', '');
    expect(() => x.family('socksalp_once', 'gauge', '')).to.throw(/not a valid new name/);
    expect(() => x.family('socksalp_events', 'counter', '')).to.throw(/does not end in _total/);
    x.family('socksalp_g', 'gauge', '');
    expect(() => x.sample([['__name__', 'x']], 1)).to.throw(/not a valid name/);
    expect(() => x.sample([['1abc', 'x']], 1)).to.throw(/not a valid name/);
    expect(() => x.histogram([], { bounds: [1], counts: [0, 0], sum: 0, count: 0 })).to.throw(/not a histogram/);
    x.family('socksalp_h_seconds', 'histogram', '');
    expect(() => x.sample([], 1)).to.throw(/is a histogram/);
    expect(() => x.histogram([], { bounds: [1, 2], counts: [0, 0], sum: 0, count: 0 })).to.throw(/2 bounds need 3 counts/);
  });

  it('turns a bag of counters into one family with an event label in kebab case', function () {
    expect(kebab('rstOutOfWindow')).to.equal('rst-out-of-window');
    const x = new Exposition();
    bag(x, 'socksalp_rfc5961_events_total', 'RFC 5961.', { rstExact: 2, challengeAcks: 5, label: 'not a number' });
    expect(x.text()).to.equal('# HELP socksalp_rfc5961_events_total RFC 5961.\n# TYPE socksalp_rfc5961_events_total counter\n' +
      'socksalp_rfc5961_events_total{event="rst-exact"} 2\nsocksalp_rfc5961_events_total{event="challenge-acks"} 5\n');
    expect(formatValue(0.1 + 0.2)).to.equal('0.30000000000000004');
  });
});
