package org.sgdnoise.output;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.sgdnoise.output.internal.LineFile;

class LineFileTest {

    @TempDir
    Path dir;

    /** A channel onto the file that, while "full", writes half of what it is given and then fails. */
    static final class FillingChannel implements WritableByteChannel {
        final FileChannel file;
        boolean full;

        FillingChannel(FileChannel file) {
            this.file = file;
        }

        @Override
        public int write(ByteBuffer src) throws IOException {
            if (full) {
                ByteBuffer half = src.duplicate();
                half.limit(src.position() + Math.max(1, src.remaining() / 2));
                file.write(half);
                throw new IOException("No space left on device");
            }
            return file.write(src);
        }

        @Override
        public boolean isOpen() {
            return file.isOpen();
        }

        @Override
        public void close() throws IOException {
            file.close();
        }
    }

    @Test
    void aLineThatFailedHalfWayIsCutBeforeTheNextOne() throws IOException {
        Path p = dir.resolve("f.jsonl");
        FillingChannel[] ch = new FillingChannel[1];
        LineFile f = LineFile.open(p, -1, c -> ch[0] = new FillingChannel(c));
        f.writeLine("{\"a\":1}");
        ch[0].full = true;
        assertThatThrownBy(() -> f.writeLine("{\"a\":2}")).hasMessageContaining("No space");
        assertThat(Files.readString(p)).isEqualTo("{\"a\":1}\n{\"a\""); // torn on disk for now
        ch[0].full = false; // space again
        f.writeLine("{\"a\":3}");
        f.close();
        assertThat(Files.readAllLines(p)).containsExactly("{\"a\":1}", "{\"a\":3}");
        assertThat(f.position()).isEqualTo(Files.size(p));
    }

    @Test
    void resumingKeepsTheGivenBytesAndRefusesAFileThatShrank() throws IOException {
        Path p = dir.resolve("r.jsonl");
        LineFile f = LineFile.open(p, -1);
        f.writeLine("one");
        long kept = f.position();
        f.writeLine("two");
        f.close();
        LineFile g = LineFile.open(p, kept);
        g.writeLine("three");
        g.close();
        assertThat(Files.readAllLines(p)).containsExactly("one", "three");
        assertThatThrownBy(() -> LineFile.open(p, 1000))
                .isInstanceOf(IOException.class)
                .hasMessageContaining("fewer than the 1000");
        LineFile append = LineFile.open(p, Long.MAX_VALUE);
        append.writeLine("four");
        append.close();
        assertThat(Files.readAllLines(p)).containsExactly("one", "three", "four");
    }

    @Test
    void streamsGetWholeFlushedLines() throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        List<Integer> flushedAt = new ArrayList<>();
        OutputStream s = new OutputStream() {
            @Override
            public void write(int b) {
                bytes.write(b);
            }

            @Override
            public void flush() {
                flushedAt.add(bytes.size());
            }
        };
        LineFile f = LineFile.of(s, "stream");
        f.writeLine("é1");
        f.writeLine("2");
        assertThat(bytes.toString(StandardCharsets.UTF_8)).isEqualTo("é1\n2\n");
        assertThat(flushedAt).containsExactly(4, 6);
        assertThat(f.resumable()).isFalse();
    }

    @Test
    void aBufferedFileWritesWholeLinesTogetherAndOnFlushAndClose() throws IOException {
        Path f = dir.resolve("buffered.csv");
        LineFile out = LineFile.open(f, -1).buffered(60_000);
        out.writeLine("a,1");
        out.writeLine("b,2");
        assertThat(Files.size(f)).as("held back").isZero();
        assertThat(out.position()).isEqualTo(8);
        out.flush();
        assertThat(Files.readAllLines(f)).containsExactly("a,1", "b,2");
        String big = "x".repeat(1000);
        int lines = LineFile.BUFFER_BYTES / 1001 + 1;
        for (int i = 0; i < lines; i++) {
            out.writeLine(big);
        }
        assertThat(Files.size(f)).as("a full buffer is written at once").isEqualTo(8 + lines * 1001L);
        out.writeLine("c,3");
        out.close();
        assertThat(Files.readAllLines(f)).hasSize(3 + lines).endsWith("c,3");
        LineFile now = LineFile.open(dir.resolve("now.csv"), -1).buffered(0);
        now.writeLine("d,4");
        assertThat(Files.readAllLines(dir.resolve("now.csv"))).containsExactly("d,4");
        now.close();
    }
}
