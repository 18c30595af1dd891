package org.sgdnoise.samples;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * D's top eigenvectors at a snapshot, in a small binary file: int d, int k, then k vectors of d doubles (big-endian,
 * {@link DataOutputStream}), so that two snapshots' top-k subspaces can be compared afterwards.
 */
final class TopVectors {

    private TopVectors() {}

    /** Writes the first {@code k} columns of {@code vectors} (d×m). */
    static void write(INDArray vectors, int k, Path file) {
        int d = (int) vectors.rows();
        try (DataOutputStream out =
                new DataOutputStream(new java.io.BufferedOutputStream(Files.newOutputStream(file)))) {
            out.writeInt(d);
            out.writeInt(k);
            for (int j = 0; j < k; j++) {
                for (int i = 0; i < d; i++) {
                    out.writeDouble(vectors.getDouble(i, j));
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The vectors, {@code [k][d]}. */
    static double[][] read(Path file) throws IOException {
        try (DataInputStream in = new DataInputStream(new java.io.BufferedInputStream(Files.newInputStream(file)))) {
            int d = in.readInt();
            int k = in.readInt();
            double[][] v = new double[k][d];
            for (double[] row : v) {
                for (int i = 0; i < d; i++) {
                    row[i] = in.readDouble();
                }
            }
            return v;
        }
    }

    /**
     * The overlap of two k-dimensional subspaces, ‖AᵀB‖²_F / k: 1 when they coincide, about k/d for random ones.
     * Both hold orthonormal vectors.
     */
    static double overlap(double[][] a, double[][] b) {
        int k = Math.min(a.length, b.length);
        double s = 0;
        for (int i = 0; i < k; i++) {
            for (int j = 0; j < k; j++) {
                double dot = 0;
                for (int t = 0; t < a[i].length; t++) {
                    dot += a[i][t] * b[j][t];
                }
                s += dot * dot;
            }
        }
        return s / k;
    }
}
