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
        assertThatThrownBy(() -> sink.write(record(0)))
                .isInstanceOf(IOException.class)
                .hasMessageContaining("closed");
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

    /** A CSV sink whose file channel, {@code channel[0]}, fails half-way through a write while it is full. */
    private static CsvSink failing(Path csv, LineFileTest.FillingChannel[] channel, boolean fullAtFirst) {
        return new CsvSink(csv, c -> {
            LineFileTest.FillingChannel f = new LineFileTest.FillingChannel(c);
            f.full = fullAtFirst;
            return channel[0] = f;
        });
    }

    /** The file's lines: exactly one header, x,y, and whole rows of two cells after it. */
    private static List<String> assertOneHeaderAndWholeRows(Path csv) throws IOException {
        List<String> lines = Files.readAllLines(csv);
        assertThat(lines).first().isEqualTo("x,y");
        assertThat(lines).filteredOn(l -> l.startsWith("x")).hasSize(1);
        assertThat(lines.subList(1, lines.size())).allSatisfy(l -> assertThat(l).matches("[0-9.]+,[0-9.]+"));
        return lines;
    }

    @Test
    void aHeaderWriteThatFailedIsWrittenOnceAfterAResumeFromBeforeIt() throws IOException {
        Path csv = dir.resolve("header.csv");
        LineFileTest.FillingChannel[] channel = new LineFileTest.FillingChannel[1];
        // The first record: the file is opened, then the header write fails half-way (disk full).
        CsvSink first = failing(csv, channel, true);
        assertThatThrownBy(() -> first.write(rec(1.0))).hasMessageContaining("No space");
        assertThat(Files.readString(csv)).isEqualTo("x,"); // a torn header on disk
        long atCheckpoint = first.position(); // a checkpoint now keeps nothing: the header is not written
        assertThat(atCheckpoint).isZero();
        channel[0].full = false; // space again: the header is written again, whole, before the row
        first.write(rec(2.0));
        first.write(rec(3.0)); // after the checkpoint; then the process is killed
        assertThat(assertOneHeaderAndWholeRows(csv)).containsExactly("x,y", "2.0,4.0", "3.0,6.0");

        // Resumed from the checkpoint: cut back to nothing, one header, the rows of the resumed run.
        CsvSink resumed = new CsvSink(csv);
        resumed.resumeAt(atCheckpoint);
        resumed.write(rec(4.0));
        resumed.write(rec(5.0));
        resumed.close();
        assertThat(assertOneHeaderAndWholeRows(csv)).containsExactly("x,y", "4.0,8.0", "5.0,10.0");
    }

    @Test
    void aTornHeaderLeftByAKilledProcessIsReplacedByOneWholeHeaderOnResume() throws IOException {
        Path csv = dir.resolve("torn.csv");
        LineFileTest.FillingChannel[] channel = new LineFileTest.FillingChannel[1];
        CsvSink killed = failing(csv, channel, true);
        assertThatThrownBy(() -> killed.write(rec(1.0))).hasMessageContaining("No space");
        long atCheckpoint = killed.position();
        assertThat(Files.readString(csv)).isEqualTo("x,"); // killed here: nothing else ever written

        CsvSink resumed = new CsvSink(csv);
        resumed.resumeAt(atCheckpoint);
        resumed.write(rec(2.0));
        resumed.close();
        assertThat(assertOneHeaderAndWholeRows(csv)).containsExactly("x,y", "2.0,4.0");
    }

    @Test
    void aRowThatFailedAfterTheHeaderIsCutAndTheHeaderKeptOnResume() throws IOException {
        Path csv = dir.resolve("row.csv");
        LineFileTest.FillingChannel[] channel = new LineFileTest.FillingChannel[1];
        CsvSink sink = failing(csv, channel, false);
        sink.write(rec(1.0));
        channel[0].full = true;
        assertThatThrownBy(() -> sink.write(rec(2.0))).hasMessageContaining("No space");
        long atCheckpoint = sink.position(); // the header and the first row
        channel[0].full = false;
        sink.write(rec(3.0));

        CsvSink resumed = new CsvSink(csv);
        resumed.resumeAt(atCheckpoint);
        resumed.write(rec(4.0));
        resumed.close();
        assertThat(assertOneHeaderAndWholeRows(csv)).containsExactly("x,y", "1.0,2.0", "4.0,8.0");
    }
}
