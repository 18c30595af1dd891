package org.sgdnoise.listeners;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ch.qos.logback.classic.Level;
import org.junit.jupiter.api.Test;
import org.sgdnoise.testing.LogCapture;
import org.slf4j.LoggerFactory;

/** The failure policy both listeners share. */
class FailuresTest {

    @Test
    void aRunOfFailuresSwitchesOffOnceAndASuccessResetsTheRun() {
        try (LogCapture logs = new LogCapture(FailuresTest.class)) {
            Failures f = new Failures(LoggerFactory.getLogger(FailuresTest.class), "the thing", "Check it.", false, 3);
            f.fail(1, new RuntimeException("a"));
            f.fail(2, new RuntimeException("b"));
            f.success();
            f.fail(3, new RuntimeException("c"));
            f.fail(4, new RuntimeException("d"));
            assertThat(f.disabled()).isFalse(); // two in a row since the success
            f.fail(5, new RuntimeException("e"));
            assertThat(f.disabled()).isTrue();
            assertThat(f.total()).isEqualTo(5);
            assertThat(logs.events(Level.WARN)).hasSize(2);
            assertThat(logs.events(Level.WARN).get(0).getFormattedMessage())
                    .contains("the thing failed at iteration 1")
                    .contains("Check it.")
                    .contains("failFast(true)");
            assertThat(logs.events(Level.WARN).get(1).getFormattedMessage())
                    .contains("failed 3 times in a row (the last at iteration 5");
        }
    }

    @Test
    void failFastThrowsTheFirstFailureWithItsCause() {
        Failures f = new Failures(LoggerFactory.getLogger(FailuresTest.class), "the thing", "", true, 3);
        RuntimeException cause = new RuntimeException("boom");
        assertThatThrownBy(() -> f.fail(7, cause))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("iteration 7")
                .hasCause(cause);
        assertThat(f.total()).isEqualTo(1);
    }

    @Test
    void zeroNeverSwitchesOffAndNegativeIsRejected() {
        Failures f = new Failures(LoggerFactory.getLogger(FailuresTest.class), "the thing", "", false, 0);
        for (int i = 0; i < 50; i++) {
            f.fail(i, new RuntimeException());
        }
        assertThat(f.disabled()).isFalse();
        assertThatThrownBy(() -> Failures.checkDisableAfter(-2))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("disableAfter")
                .hasMessageContaining("-2");
    }

    @Test
    void observeCountsFailuresAndOnlyASuccessEndsTheRun() {
        Failures f = new Failures(LoggerFactory.getLogger(FailuresTest.class), "the thing", "", false, 2);
        f.observe(1, () -> {
            throw new IllegalStateException("a");
        });
        f.observe(2, () -> false); // a skip (a diverging model): the run of failures goes on
        f.observe(3, () -> {
            throw new OutOfMemoryError("b");
        });
        assertThat(f.total()).isEqualTo(2);
        assertThat(f.disabled()).isTrue();
        Failures g = new Failures(LoggerFactory.getLogger(FailuresTest.class), "the thing", "", false, 2);
        g.observe(1, () -> {
            throw new IllegalStateException("a");
        });
        g.observe(2, () -> true); // a success ends it
        g.observe(3, () -> {
            throw new IllegalStateException("c");
        });
        assertThat(g.disabled()).isFalse();
        assertThatThrownBy(() -> g.observe(4, () -> {
                    throw new StackOverflowError();
                }))
                .isInstanceOf(StackOverflowError.class); // a failing JVM is not the observer's to hide
    }
}
