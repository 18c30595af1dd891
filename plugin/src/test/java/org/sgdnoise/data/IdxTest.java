package org.sgdnoise.data;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.util.Arrays;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.Test;
import org.sgdnoise.UserInputException;

class IdxTest {

    private static byte[] encode(Idx.Array a, boolean gzip) throws IOException {
        ByteArrayOutputStream bos = new ByteArrayOutputStream();
        if (gzip) {
            try (GZIPOutputStream g = new GZIPOutputStream(bos)) {
                Idx.write(a, g);
            }
        } else {
            Idx.write(a, bos);
        }
        return bos.toByteArray();
    }

    @Test
    void roundTripsPlainAndGzip() throws IOException {
        byte[] data = new byte[3 * 2 * 2];
        for (int i = 0; i < data.length; i++) {
            data[i] = (byte) (i * 20);
        }
        Idx.Array a = new Idx.Array(new int[] {3, 2, 2}, data);
        for (boolean gz : new boolean[] {false, true}) {
            Idx.Array b = Idx.read("t", new ByteArrayInputStream(encode(a, gz)), Integer.MAX_VALUE);
            assertThat(b.dims()).containsExactly(3, 2, 2);
            assertThat(b.data()).isEqualTo(data);
            Idx.Array c = Idx.read("t", new ByteArrayInputStream(encode(a, gz)), 2);
            assertThat(c.count()).isEqualTo(2);
            assertThat(c.data()).isEqualTo(Arrays.copyOf(data, 8));
        }
    }

    @Test
    void malformedFilesGiveOneClearError() throws IOException {
        byte[] good = encode(new Idx.Array(new int[] {4, 3}, new byte[12]), false);
        assertThatThrownBy(() -> Idx.read("f", new ByteArrayInputStream(Arrays.copyOf(good, good.length - 1)), 100))
                .isInstanceOf(UserInputException.class)
                .hasMessageContaining("truncated");
        assertThatThrownBy(() -> Idx.read("f", new ByteArrayInputStream(new byte[] {1, 2, 3, 4, 5, 6, 7, 8}), 100))
                .isInstanceOf(UserInputException.class)
                .hasMessageContaining("not an IDX file");
        assertThatThrownBy(() -> Idx.read("f", new ByteArrayInputStream(new byte[] {0, 0, 8}), 100))
                .isInstanceOf(UserInputException.class)
                .hasMessageContaining("truncated");
        assertThatThrownBy(() -> Idx.read("f", new ByteArrayInputStream(new byte[] {0x1f, (byte) 0x8b, 1, 2, 3}), 100))
                .isInstanceOf(UserInputException.class);
        byte[] huge = {0, 0, 8, 1, 0x7f, (byte) 0xff, (byte) 0xff, (byte) 0xff};
        assertThatThrownBy(() -> Idx.read("f", new ByteArrayInputStream(huge), Integer.MAX_VALUE))
                .isInstanceOf(UserInputException.class)
                .hasMessageContaining("implausible");
    }
}
