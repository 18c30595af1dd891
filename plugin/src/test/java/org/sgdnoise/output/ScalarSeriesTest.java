package org.sgdnoise.output;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import org.junit.jupiter.api.Test;

class ScalarSeriesTest {

    private static IterationScalars at(int iteration, int worker) {
        return new IterationScalars(iteration, 0, worker, iteration, 0.1, Double.NaN);
    }

    @Test
    void keepsEverythingUntilFullThenThinsEvenly() {
        ScalarSeries s = new ScalarSeries(8);
        for (int i = 0; i < 8; i++) {
            s.add(at(i, 0));
        }
        assertThat(s.snapshot()).extracting(IterationScalars::iteration).containsExactly(0, 1, 2, 3, 4, 5, 6, 7);
        for (int i = 8; i < 100; i++) {
            s.add(at(i, 0));
        }
        List<IterationScalars> kept = s.snapshot();
        assertThat(kept.size()).isLessThanOrEqualTo(8);
        // After 100 points in 8 slots the stride is 16: iterations 0, 16, ..., 96.
        assertThat(kept).extracting(IterationScalars::iteration).containsExactly(0, 16, 32, 48, 64, 80, 96);
        assertThat(s.offered()).isEqualTo(100);
    }

    @Test
    void workersAreKeptApartAndBoundedEach() {
        ScalarSeries s = new ScalarSeries(4);
        for (int i = 0; i < 10; i++) {
            s.add(at(i, 1));
            s.add(at(i, 0));
        }
        List<IterationScalars> kept = s.snapshot();
        assertThat(kept).hasSizeLessThanOrEqualTo(8);
        assertThat(kept.stream().filter(p -> p.worker() == 1))
                .extracting(IterationScalars::iteration)
                .containsExactly(0, 4, 8);
        assertThat(kept.stream().filter(p -> p.worker() == 0))
                .extracting(IterationScalars::iteration)
                .containsExactly(0, 4, 8);
    }

    @Test
    void badInputIsRejected() {
        assertThatThrownBy(() -> new ScalarSeries(1)).hasMessageContaining("capacity must be >= 2, got 1");
        assertThatThrownBy(() -> new ScalarSeries(4).add(at(0, -1))).hasMessageContaining("worker must be >= 0");
    }

    @Test
    void aScalarsRecordHasTheDocumentedKeysAndNullForNaN() {
        ProbeRecord r = new IterationScalars(3, 1, 0, 0.5, 0.1, Double.NaN).toRecord();
        assertThat(r.fields().keySet()).containsExactly(IterationScalars.KEYS);
        assertThat(r.get("update_norm")).isNull();
    }
}
