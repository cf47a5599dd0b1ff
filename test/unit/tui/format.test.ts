import { expect } from 'chai';
import { formatBytes, formatCount, formatDuration, truncate } from '../../../appliance/text/units';
import { gauge, sparkline } from '../../../tui/panels';

describe('tui: formatting', function () {
  it('sizes in binary units', function () {
    expect([0, 1023, 1024, 1536, 10 * 1024 * 1024, 3.5 * 2 ** 30, 2 ** 40 * 200].map(formatBytes))
      .to.deep.equal(['0B', '1023B', '1.0KiB', '1.5KiB', '10.0MiB', '3.5GiB', '200TiB']);
  });

  it('counts and rates in decimal units', function () {
    expect([0, 999, 1000, 12_345, 999_999, 2_500_000, 7e12].map(formatCount)).to.deep.equal(['0', '999', '1.0K', '12.3K', '1000K', '2.5M', '7.0T']);
    expect(formatCount(0.4)).to.equal('0');
  });

  it('durations from seconds to days', function () {
    expect([0, 59, 60, 61, 3599, 3600, 3661, 86399, 86400, 200000, -5].map(formatDuration))
      .to.deep.equal(['0s', '59s', '1m00s', '1m01s', '59m59s', '1h00m', '1h01m', '23h59m', '1d00h', '2d07h', '0s']);
  });

  it('truncates long host names with an ASCII mark', function () {
    const host = 'a-very-long-host-name.in-a-deep.subdomain.example.test:443';
    expect(truncate(host, 20)).to.equal('a-very-long-host-na~');
    expect(truncate(host, 20)).to.have.length(20);
    expect(truncate('short', 20)).to.equal('short');
    expect(truncate(host, 1)).to.equal('a');
  });

  it('draws ASCII sparklines scaled to their maximum, right-aligned', function () {
    expect(sparkline([0, 1, 2, 3, 4, 5, 6, 7, 8, 9], 10)).to.equal(' .:-=+*#%@');
    expect(sparkline([5, 10], 4)).to.equal('  +@');
    expect(sparkline([0, 0], 3)).to.equal('   ');
    // Longer series are bucketed (maximum per bucket), newest bucket last.
    expect(sparkline([9, 0, 0, 0, 0, 0, 3, 0, 0, 9], 5)).to.equal('@  -@');
    expect(sparkline(Array.from({ length: 600 }, (_, i) => i), 50)).to.have.length(50);
  });

  it('draws queue gauges', function () {
    expect(gauge(0, 4096, 6)).to.equal('[      ]');
    expect(gauge(1, 4096, 6)).to.equal('[#     ]');
    expect(gauge(4096, 4096, 6)).to.equal('[######]');
    expect(gauge(9000, 4096, 6)).to.equal('[######]');
  });
});
