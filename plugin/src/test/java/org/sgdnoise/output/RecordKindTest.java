package org.sgdnoise.output;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;
import org.sgdnoise.probe.ProbeFields;
import org.sgdnoise.trajectory.TrajectoryFields;

class RecordKindTest {

    @Test
    void theKeysAreTheListenersOwnAndTellTheRecordsApart() {
        assertThat(RecordKind.TRACE_KEY).isEqualTo(ProbeFields.TRACE);
        assertThat(RecordKind.VERDICT_KEY).isEqualTo(TrajectoryFields.VERDICT);
        assertThat(RecordKind.of(ProbeRecord.builder().put("trace", 1.0).build()))
                .isEqualTo(RecordKind.PROBE);
        assertThat(RecordKind.of(ProbeRecord.builder().put("verdict", "LOOP").build()))
                .isEqualTo(RecordKind.LOOP);
        assertThat(RecordKind.of(ProbeRecord.builder().put("loss", 1.0).build()))
                .isEqualTo(RecordKind.OTHER);
        assertThat(RecordKind.PROBE.label()).isEqualTo("probe");
    }
}
