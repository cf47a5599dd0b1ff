import { expect } from 'chai';
import { runFuzz } from '../fuzz/fuzz';

/**
 * `npm test`'s short, seeded pass of the fuzzing harness (test/fuzz/fuzz.ts); `npm run fuzz`
 * runs a long one. Fails on an exception, an internal error, or anything left behind.
 */
describe('fuzz: a short seeded pass through the whole data path', function () {
  this.timeout(120_000);
  for (const seed of [1, 2]) {
    it(`seed ${seed}: 15000 packets, no exception, no internal error, nothing left behind`, function () {
      const r = runFuzz({ seed, count: 15_000 });
      expect(r.problems, r.logs.join('\n')).to.deep.equal([]);
      // It went deep: connections spliced and translated, flows diverted, names answered, fragments joined.
      for (const k of ['spliced', 'translated', 'flowsCreated', 'dnsAnswered', 'reassembled', 'synChallenged', 'corpusSeeds']) expect(r.covered[k], k).to.be.above(0);
    });
  }
});
