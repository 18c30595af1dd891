package org.sgdnoise.output;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.sgdnoise.output.TensorBoardEventReader.Histogram;
import org.sgdnoise.output.internal.LogHistogram;
import org.sgdnoise.output.internal.TfRecordFile;

/** The TFRecord framing and the histogram's bucket rule, below the sink. */
class TensorBoardEncodingTest {

    @TempDir
    Path dir;

    @Test
    void crc32cOfTheStandardTestVector() {
        byte[] v = TensorBoardEventReader.utf8("123456789");
        assertThat(TensorBoardEventReader.crc32c(v, 0, v.length)).isEqualTo(0xE3069283);
        CRC32C jdk = new CRC32C();
        jdk.update(v);
        assertThat((int) jdk.getValue()).isEqualTo(0xE3069283);
        assertThat(TfRecordFile.maskedCrc32c(v, 0, v.length)).isEqualTo(TensorBoardEventReader.masked(0xE3069283));
    }

    @ParameterizedTest
    @ValueSource(longs = {1, 2, 3})
    void maskedCrcAgreesWithTheBitwiseDefinition(long seed) {
        Random r = new Random(seed);
        byte[] b = new byte[1 + r.nextInt(500)];
        r.nextBytes(b);
        int off = r.nextInt(b.length);
        int len = r.nextInt(b.length - off + 1);
        assertThat(TfRecordFile.maskedCrc32c(b, off, len))
                .isEqualTo(TensorBoardEventReader.masked(TensorBoardEventReader.crc32c(b, off, len)));
    }

    /** A channel onto the file that, while "full", writes part of what it is given and then fails. */
    static final class FillingChannel implements WritableByteChannel {
        final FileChannel file;
        boolean full;

        FillingChannel(FileChannel file) {
            this.file = file;
        }

        @Override
        public int write(ByteBuffer src) throws IOException {
            if (full) {
                ByteBuffer part = src.duplicate();
                part.limit(src.position() + Math.max(1, src.remaining() / 2));
                file.write(part);
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
    void aRecordThatFailedHalfWayIsCutOffBeforeTheNext() throws IOException {
        Path p = dir.resolve("events.out.tfevents.test");
        FillingChannel[] channel = new FillingChannel[1];
        try (TfRecordFile f = TfRecordFile.create(p, ch -> channel[0] = new FillingChannel(ch))) {
            f.write(new byte[] {1, 2, 3});
            channel[0].full = true;
            assertThatThrownBy(() -> f.write(new byte[100])).isInstanceOf(IOException.class);
            assertThat(Files.size(p)).isGreaterThan(3 + 16); // torn bytes on disk
            channel[0].full = false;
            f.write(new byte[] {4, 5});
            assertThat(f.position()).isEqualTo(3 + 16 + 2 + 16);
        }
        List<byte[]> records = TensorBoardEventReader.records(p);
        assertThat(records).containsExactly(new byte[] {1, 2, 3}, new byte[] {4, 5});
    }

    @Test
    void anExistingFileIsNeverReplaced() throws IOException {
        Path p = Files.writeString(dir.resolve("events.out.tfevents.x"), "keep");
        assertThatThrownBy(() -> TfRecordFile.create(p)).isInstanceOf(java.nio.file.FileAlreadyExistsException.class);
        assertThat(Files.readString(p)).isEqualTo("keep");
    }

    private static Histogram read(LogHistogram h) {
        return new Histogram(h.min(), h.max(), h.num(), h.sum(), h.sumSquares(), h.limits(), h.counts());
    }

    @Test
    void histogramOfPositiveValuesStartsAtTheSmallestValuesBucket() {
        double[] v = {1e-3, 1.0, 1.0, 10.0, 10.000001};
        LogHistogram h = LogHistogram.of(v);
        TensorBoardEventReader.checkHistogram(read(h), v);
        // 1e-3, 1 and 10 are grid edges: each sits at the top of its bucket; 10.000001 is in the next one; the
        // empty grid buckets between 1e-3 and 1, and between 1 and 10, are one empty bucket each
        assertThat(h.counts()).containsExactly(1, 0, 2, 0, 1, 1);
        assertThat(h.limits()[0]).isCloseTo(1e-3, within(1e-18));
        assertThat(h.limits()[1]).isCloseTo(Math.pow(10, -0.1), within(1e-15));
        assertThat(h.limits()[2]).isEqualTo(1.0);
        assertThat(h.limits()[3]).isCloseTo(Math.pow(10, 0.9), within(1e-14));
        assertThat(h.limits()[5]).isCloseTo(Math.pow(10, 1.1), within(1e-14));
    }

    @Test
    void nonPositiveValuesShareOneBucketUpToZero() {
        double[] v = {0.0, -1e-18, 0.0, 3e-5, 2.0};
        LogHistogram h = LogHistogram.of(v);
        TensorBoardEventReader.checkHistogram(read(h), v);
        assertThat(h.limits()[0]).isEqualTo(0.0);
        assertThat(h.counts()[0]).isEqualTo(3);
        assertThat(h.counts()[1]).isZero(); // from 0 to the lower edge of 3e-5's bucket
        double[] onlyZeros = {0.0, -0.0, -1e-300};
        LogHistogram z = LogHistogram.of(onlyZeros);
        assertThat(z.limits()).containsExactly(0.0);
        assertThat(z.counts()).containsExactly(3.0);
    }

    @Test
    void histogramOfNothingFiniteIsNull() {
        assertThat(LogHistogram.of(new double[0])).isNull();
        assertThat(LogHistogram.of(new double[] {Double.NaN, Double.NEGATIVE_INFINITY}))
                .isNull();
    }

    @ParameterizedTest
    @ValueSource(longs = {11, 12, 13, 14})
    void histogramsOfRandomSpectraFollowTheRule(long seed) {
        Random r = new Random(seed);
        double[] v = new double[1 + r.nextInt(300)];
        for (int i = 0; i < v.length; i++) {
            v[i] = r.nextInt(10) == 0 ? 0.0 : Math.pow(10, -30 + 40 * r.nextDouble());
        }
        TensorBoardEventReader.checkHistogram(read(LogHistogram.of(v)), v);
    }

    @Test
    void extremeValuesTerminate() {
        double[] v = {Double.MIN_VALUE, Double.MAX_VALUE, 1.0};
        LogHistogram h = LogHistogram.of(v);
        assertThat(h.num()).isEqualTo(3);
        assertThat(java.util.Arrays.stream(h.counts()).sum()).isEqualTo(3);
    }
}
