package org.sgdnoise.listeners;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ch.qos.logback.classic.Level;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.sgdnoise.testing.LogCapture;
import org.slf4j.LoggerFactory;

/**
 * The overhead budget on a simulated clock: training iterations and listener actions of known cost, so that the
 * share, the schedule and the interval in force are exact, not timed.
 */
class OverheadBudgetTest {

    private static final long MS = 1_000_000L;

    /** A simulated run: what the budget decided and the share at the end. */
    private record Run(List<Integer> acted, List<Integer> intervals, double share, OverheadBudget budget) {}

    /**
     * Runs {@code iterations} iterations of {@code iterationMs} each; an action costs {@code firstMs} the first
     * time and {@code actionMs} after.
     */
    private static Run simulate(
            double fraction, int configured, int iterations, double iterationMs, double firstMs, double actionMs) {
        long[] clock = {0};
        OverheadBudget b = new OverheadBudget(
                fraction, configured, () -> clock[0], LoggerFactory.getLogger(OverheadBudgetTest.class), "probes");
        List<Integer> acted = new ArrayList<>();
        List<Integer> intervals = new ArrayList<>();
        for (int it = 0; it < iterations; it++) {
            clock[0] += (long) (iterationMs * MS);
            b.tick(it);
            if (b.due(it)) {
                long begin = clock[0];
                clock[0] += (long) ((acted.isEmpty() ? firstMs : actionMs) * MS);
                acted.add(it);
                intervals.add(b.intervalInForce());
                b.acted(it, begin, clock[0]);
            }
        }
        return new Run(acted, intervals, b.share(), b);
    }

    @Test
    void aBudgetOfZeroActsExactlyAtTheConfiguredInterval() {
        Run r = simulate(0, 3, 100, 1, 500, 500); // each action 500 times an iteration: no stretching
        List<Integer> expected = new ArrayList<>();
        for (int it = 0; it < 100; it += 3) {
            expected.add(it);
        }
        assertThat(r.acted()).isEqualTo(expected);
        assertThat(r.budget().intervalInForce()).isEqualTo(3);
        assertThat(r.share()).isGreaterThan(0.9); // measured all the same
    }

    @Test
    void aCheapListenerKeepsItsConfiguredInterval() {
        Run r = simulate(0.01, 5, 2000, 2, 0.05, 0.05); // 0.05 ms every 5 iterations of 2 ms: 0.5%
        assertThat(r.acted()).hasSize(400);
        assertThat(r.budget().intervalInForce()).isEqualTo(5);
        assertThat(r.share()).isBetween(0.004, 0.006);
    }

    @Test
    void anExpensiveListenerStretchesToStayWithinTheBudget() {
        // A fast model probed every iteration: 2 ms iterations, 5 ms probes (the first 12 ms), 2,000 iterations.
        try (LogCapture logs = new LogCapture(OverheadBudgetTest.class)) {
            Run r = simulate(0.01, 1, 2000, 2, 12, 5);
            assertThat(r.share()).as("share of wall time").isBetween(0.0, 0.02);
            assertThat(r.acted().size()).isBetween(3, 20);
            // The interval in force only grows, in powers of two of the configured one.
            for (int i = 1; i < r.intervals().size(); i++) {
                int v = r.intervals().get(i);
                assertThat(v).isGreaterThanOrEqualTo(r.intervals().get(i - 1));
                assertThat(Integer.bitCount(v)).isEqualTo(1);
            }
            assertThat(r.budget().intervalInForce()).isGreaterThanOrEqualTo(256); // 5/(0.01·2) ≈ 250
            assertThat(logs.messages(Level.INFO))
                    .singleElement()
                    .asString()
                    .contains("over the overhead budget of 1%")
                    .contains("instead of 1");
        }
    }

    /**
     * The steady share leaves out the first action, which the budget pays back: in a short run with an expensive
     * first probe (60 ms against 2,000 iterations of 1 ms) the share is over the budget and the steady share within it.
     */
    @Test
    void theSteadyShareLeavesOutTheFirstAction() {
        Run r = simulate(0.01, 10, 2000, 1, 60, 0.5);
        assertThat(r.share()).isGreaterThan(0.02); // 60 ms of about 2 s
        double later = 0.5e-3 * (r.acted().size() - 1);
        assertThat(r.budget().steadyShare())
                .isCloseTo(later / (2.0 + later), org.assertj.core.data.Offset.offset(2e-4));
        assertThat(r.budget().steadyShare()).isLessThanOrEqualTo(0.01);
    }

    /**
     * Work charged at every iteration (the scalars: 0.005 ms of each 1 ms iteration, 0.5%) counts as the listener's
     * own: the share includes it, and the actions (40 ms) thin out to keep the total within the budget.
     */
    @Test
    void chargedWorkCountsAgainstTheBudgetAndTheActionsMakeRoom() {
        long[] clock = {0};
        OverheadBudget b = new OverheadBudget(
                0.01, 10, () -> clock[0], LoggerFactory.getLogger(OverheadBudgetTest.class), "probes");
        int actions = 0;
        for (int it = 0; it < 20_000; it++) {
            clock[0] += MS;
            b.tick(it);
            if (b.due(it)) {
                long begin = clock[0];
                clock[0] += 40 * MS;
                b.acted(it, begin, clock[0]);
                actions++;
            }
            long begin = clock[0];
            clock[0] += (long) (0.005 * MS);
            b.charged(clock[0] - begin);
        }
        assertThat(b.share()).isBetween(0.005, 0.02);
        Run without = simulate(0.01, 10, 20_000, 1, 40, 40);
        assertThat(actions).isLessThan(without.acted().size());
    }

    @Test
    void theShareFollowsTheBudgetOverALongRun() {
        // 20,000 iterations of 1 ms, 40 ms actions: the share settles within the budget, not far below it.
        Run r = simulate(0.01, 10, 20_000, 1, 40, 40);
        assertThat(r.share()).isBetween(0.003, 0.02);
        assertThat(r.acted().get(1) - r.acted().get(0)).isGreaterThanOrEqualTo(10);
    }

    @Test
    void pausesBetweenIterationsDoNotBuyTheListenerTime() {
        // 2 ms iterations with a 10 s pause (an evaluation, another model) every 200: the pauses are not training.
        long[] clock = {0};
        OverheadBudget b = new OverheadBudget(
                0.01, 1, () -> clock[0], LoggerFactory.getLogger(OverheadBudgetTest.class), "records");
        long own = 0;
        long iterations = 0;
        for (int it = 0; it < 4000; it++) {
            clock[0] += 2 * MS + (it % 200 == 199 ? 10_000 * MS : 0);
            iterations++;
            b.tick(it);
            if (b.due(it)) {
                long begin = clock[0];
                clock[0] += 5 * MS;
                own += 5 * MS;
                b.acted(it, begin, clock[0]);
            }
        }
        double trainingOnly = own / (double) (own + iterations * 2 * MS);
        assertThat(trainingOnly).as("share of the training itself").isLessThan(0.02);
        assertThat(b.share()).isBetween(0.0, 0.02);
    }

    @Test
    void rejectsABudgetOutsideZeroToOne() {
        for (double bad : new double[] {-0.01, 1, 2, Double.NaN}) {
            assertThatThrownBy(() -> OverheadBudget.checkFraction(bad))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("overheadBudget must be a fraction in [0, 1)");
        }
        assertThatThrownBy(() -> new DiffusionListener.Builder().overheadBudget(1.5))
                .hasMessageContaining("got 1.5");
    }
}
