import { expect } from 'chai';
import { join } from 'node:path';
import { loadConfig } from '../../../appliance/config/load';
import { summarizeConfig } from '../../../appliance/config/summary';
import { REPO } from '../../lab/lab';
import { configProblems } from '../config-problems';
import { appended, confCopies } from '../conf-dir';

describe('config: appliance.ini [export]', function () {
  const copy = confCopies();
  /** A copy of conf/ whose appliance.ini ends with `section`. */
  const conf = (section: string) => copy({ 'appliance.ini': appended(section) });

  it('is off unless ipfix is set, as in conf/', function () {
    expect(loadConfig(join(REPO, 'conf')).export).to.equal(undefined);
    expect(loadConfig(conf('[export]\n')).export).to.equal(undefined);
  });

  it('reads the collector, interim, template_refresh and observation_domain, with their defaults', function () {
    const c = loadConfig(conf('[export]\nipfix = 198.18.0.2:4739\ninterim = 30\ntemplate_refresh = 20\nobservation_domain = 4294967295\n'));
    expect(c.export).to.deep.equal({ address: 0xc6120002, port: 4739, interim: 30, templateRefresh: 20, observationDomain: 4294967295 });
    expect(summarizeConfig(c)).to.match(/export +ipfix 198\.18\.0\.2:4739 \(UDP\), interim 30s, template_refresh 20s, observation_domain 4294967295/);
    expect(loadConfig(conf('[export]\nipfix = 198.18.0.2:4739\n')).export).to.deep.equal({ address: 0xc6120002, port: 4739, interim: 60, templateRefresh: 60, observationDomain: 0 });
  });

  it('reports a bad collector, bad numbers, unknown keys, and keys that do nothing without ipfix', function () {
    const bad = configProblems(conf('[export]\nipfix = 198.18.0.2\ninterim = 0\ntemplate_refresh = soon\nobservation_domain = -1\ncolour = red\n')).join('\n');
    expect(bad).to.match(/appliance\.ini:\d+: \[export\] ipfix: expected the collector as ADDRESS:PORT like 198\.18\.0\.2:4739, got "198\.18\.0\.2"/);
    expect(bad).to.match(/\[export\] interim: expected a whole number from 1 to 86400, got "0"/);
    expect(bad).to.match(/\[export\] template_refresh: expected a whole number from 1 to 86400, got "soon"/);
    expect(bad).to.match(/\[export\] observation_domain: expected a whole number from 0 to 4294967295, got "-1"/);
    expect(bad).to.match(/\[export\] colour: unknown key \(expected one of: interim, ipfix, observation_domain, template_refresh\)/);
    for (const v of ['198.18.0.2:0', '198.18.0.2:65536', '198.18.0.256:4739', 'collector:4739', '[::1]:4739']) {
      expect(configProblems(conf(`[export]\nipfix = ${v}\n`))[0], v).to.match(/ipfix: expected the collector as ADDRESS:PORT/);
    }
    expect(configProblems(conf('[export]\ninterim = 10\n'))).to.have.length(1);
    expect(configProblems(conf('[export]\ninterim = 10\n'))[0]).to.match(/\[export\] interim: export is off: add ipfix = ADDRESS:PORT$/);
    expect(configProblems(conf('[export]\nipfix =\n'))[0]).to.match(/\[export\] ipfix: value is empty$/);
  });
});
