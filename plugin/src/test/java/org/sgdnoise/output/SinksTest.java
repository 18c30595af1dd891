package org.sgdnoise.output;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SinksTest {

    @TempDir
    Path dir;

    private static ProbeRecord record(int it) {
        return ProbeRecord.builder()
                .put("iteration", it)
                .put("loss", 0.25)
                .put("name", "a \"quoted\", comma\nline")
                .put("eigenvalues", new double[] {3.0, 1.5e-7})
                .put("missing", Double.NaN)
                .put("flag", true)
                .build();
    }

    @Test
    void jsonlWritesOneParsableObjectPerLine() throws IOException {
        Path p = dir.resolve("sub/metrics.jsonl");
        try (JsonlSink sink = new JsonlSink(p, false)) {
            sink.write(record(0));
            sink.write(record(1));
        }
        List<String> lines = Files.readAllLines(p);
        assertThat(lines).hasSize(2);
        JsonNode n = new ObjectMapper().readTree(lines.get(1));
        assertThat(n.get("iteration").asInt()).isEqualTo(1);
        assertThat(n.get("loss").asDouble()).isEqualTo(0.25);
        assertThat(n.get("name").asText()).isEqualTo("a \"quoted\", comma\nline");
        assertThat(n.get("eigenvalues").get(1).asDouble()).isEqualTo(1.5e-7);
        assertThat(n.get("missing").isNull()).isTrue();
        assertThat(n.get("flag").asBoolean()).isTrue();
    }

    @Test
    void csvHasHeaderQuotingAndJoinedArrays() throws IOException {
        Path p = dir.resolve("metrics.csv");
        try (CsvSink sink = new CsvSink(p)) {
            sink.write(record(0));
        }
        String text = Files.readString(p);
        assertThat(text).startsWith("iteration,loss,name,eigenvalues,missing,flag\n");
        assertThat(text).contains("0,0.25,\"a \"\"quoted\"\", comma\nline\",3.0;1.5E-7,,true\n");
    }

    @Test
    void closedSinkRefusesWrites() throws IOException {
        JsonlSink sink = new JsonlSink(dir.resolve("x.jsonl"), false);
        sink.close();
        assertThatThrownBy(() -> sink.write(record(0))).isInstanceOf(IOException.class).hasMessageContaining("closed");
    }

    @Test
    void duplicateKeysAndUnsupportedValuesAreRejected() {
        assertThatThrownBy(() -> ProbeRecord.builder().put("a", 1).put("a", 2))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("duplicate");
        assertThatThrownBy(() -> ProbeRecord.builder().put("a", new Object()))
                .isInstanceOf(IllegalArgumentException.class);
    }

    private static ProbeRecord rec(double x) {
        return ProbeRecord.builder().put("x", x).put("y", 2 * x).build();
    }

    @Test
    void aResumedSinkKeepsWhatWasWrittenBeforeTheCheckpointAndAppendsAtTheNextRecord() throws IOException {
        Path existing = dir.resolve("existing.jsonl");
        Files.writeString(existing, "{\"old\":1}\n");
        JsonlSink appending = new JsonlSink(existing, true);
        long atCheckpoint = appending.position(); // never written: what it would keep is what is there
        assertThat(atCheckpoint).isEqualTo(Files.size(existing));
        appending.write(rec(1.0)); // written after the checkpoint, then the process dies
        JsonlSink resumed = new JsonlSink(existing, true);
        resumed.resumeAt(atCheckpoint);
        assertThat(Files.readAllLines(existing)).hasSize(2); // nothing is cut before the next record
        resumed.write(rec(2.0));
        resumed.close();
        assertThat(Files.readAllLines(existing)).hasSize(2).first().isEqualTo("{\"old\":1}");

        Path csv = dir.resolve("r.csv");
        CsvSink c = new CsvSink(csv);
        c.write(rec(1.0));
        long pos = c.position();
        c.write(rec(2.0));
        c.close();
        CsvSink again = new CsvSink(csv);
        again.resumeAt(pos);
        again.write(rec(3.0));
        again.close();
        assertThat(Files.readAllLines(csv)).hasSize(3).last().asString().startsWith("3");
    }
}
