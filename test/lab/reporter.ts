import * as Mocha from 'mocha';

/**
 * Mocha's spec reporter, closing with the plain line CI reads ("N passed, N failed,
 * N skipped"): mocha's own "N passing" is not one of the closings CI knows, and a run it
 * cannot read is taken for one that ran no test.
 */
class SpecWithTotals extends Mocha.reporters.Spec {
  constructor(runner: Mocha.Runner, options?: Mocha.MochaOptions) {
    super(runner, options);
    runner.once(Mocha.Runner.constants.EVENT_RUN_END, () => {
      const s = runner.stats;
      if (!s) return;
      process.stdout.write(`${s.passes} passed, ${s.failures} failed, ${s.pending} skipped\n`);
    });
  }
}

export = SpecWithTotals;
