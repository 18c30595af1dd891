package org.sgdnoise.sketch;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.util.Arrays;
import java.util.Random;
import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.CommonOps_DDRM;
import org.ejml.dense.row.factory.DecompositionFactory_DDRM;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.sgdnoise.internal.linalg.SymmetricEigen;

/** Every guarantee of theory.md §4 against the exact AᵀA in double, for several seeded spectra. */
class FrequentDirectionsTest {

    /** Absolute slack for double rounding, relative to ‖A‖_F². */
    static final double TOL = 1e-9;

    /** n×d rows with a decaying spectrum: column j scaled by decay^j, rows rotated by a random basis. */
    static double[][] stream(int n, int d, double decay, long seed) {
        Random r = new Random(seed);
        double[][] q = new double[d][d];
        for (int i = 0; i < d; i++) {
            for (int j = 0; j < d; j++) {
                q[i][j] = r.nextGaussian();
            }
        }
        DMatrixRMaj basis = new DMatrixRMaj(q);
        var qr = DecompositionFactory_DDRM.qr(d, d);
        qr.decompose(basis);
        DMatrixRMaj orth = qr.getQ(null, false);
        double[][] a = new double[n][d];
        for (int i = 0; i < n; i++) {
            double[] z = new double[d];
            for (int j = 0; j < d; j++) {
                z[j] = r.nextGaussian() * Math.pow(decay, j);
            }
            for (int c = 0; c < d; c++) {
                double s = 0;
                for (int j = 0; j < d; j++) {
                    s += orth.get(c, j) * z[j];
                }
                a[i][c] = s;
            }
        }
        return a;
    }

    static DMatrixRMaj gram(double[][] rows, int d, double[] weights) {
        DMatrixRMaj m = new DMatrixRMaj(d, d);
        for (int i = 0; i < rows.length; i++) {
            double w = weights == null ? 1 : weights[i];
            for (int a = 0; a < d; a++) {
                for (int b = 0; b < d; b++) {
                    m.add(a, b, w * rows[i][a] * rows[i][b]);
                }
            }
        }
        return m;
    }

    static DMatrixRMaj gram(INDArray b) {
        double[][] rows =
                b.rows() == 0 ? new double[0][] : b.castTo(DataType.DOUBLE).toDoubleMatrix();
        return gram(rows, (int) b.columns(), null);
    }

    static double[] eigDesc(DMatrixRMaj m) {
        double[][] a = new double[m.numRows][m.numCols];
        for (int i = 0; i < m.numRows; i++) {
            for (int j = 0; j < m.numCols; j++) {
                a[i][j] = m.get(i, j);
            }
        }
        return SymmetricEigen.eigenvalues(a, 1.0);
    }

    static double trace(DMatrixRMaj m) {
        return CommonOps_DDRM.trace(m);
    }

    /** Checks every inequality of theory.md §4 for a sketch of the (weighted) matrix whose AᵀA is ata. */
    static void assertGuarantees(FrequentDirections fd, DMatrixRMaj ata) {
        int d = ata.numRows;
        DMatrixRMaj btb = gram(fd.sketchRows());
        double mass = trace(ata);
        double tol = TOL * Math.max(1, mass);
        double delta = fd.delta();
        // 0 ≼ AᵀA − BᵀB ≼ Δ·I
        DMatrixRMaj diff = new DMatrixRMaj(d, d);
        CommonOps_DDRM.subtract(ata, btb, diff);
        double[] e = eigDesc(diff);
        assertThat(e[d - 1]).as("AᵀA − BᵀB is PSD").isGreaterThanOrEqualTo(-tol);
        assertThat(e[0]).as("AᵀA − BᵀB ≼ Δ I").isLessThanOrEqualTo(delta + tol);
        // sandwich, per eigenvalue (λ_max included)
        double[] la = eigDesc(ata);
        double[] lb = eigDesc(btb);
        for (int i = 0; i < d; i++) {
            assertThat(la[i]).as("λ_%d lower", i).isGreaterThanOrEqualTo(lb[i] - tol);
            assertThat(la[i]).as("λ_%d upper", i).isLessThanOrEqualTo(lb[i] + delta + tol);
        }
        // mass accounting and the GLPW bound for every k < ℓ
        assertThat(fd.absorbedMass()).isCloseTo(mass, within(tol));
        assertThat(fd.absorbedMass() - trace(btb)).isCloseTo(fd.removedMass(), within(tol));
        assertThat(delta).isLessThanOrEqualTo(fd.removedMass() / fd.ell() + tol);
        for (int k = 0; k < fd.ell(); k++) {
            double tail = 0;
            for (int i = k; i < d; i++) {
                tail += Math.max(0, la[i]);
            }
            assertThat(fd.removedMass() / fd.ell())
                    .as("GLPW bound at k = %d", k)
                    .isLessThanOrEqualTo(tail / (fd.ell() - k) + tol);
        }
        // the sketch's own eigenvalues are those of BᵀB
        double[] own = fd.eigen(0, false).values();
        for (int i = 0; i < own.length; i++) {
            assertThat(own[i]).isCloseTo(i < d ? Math.max(0, lb[i]) : 0, within(tol));
        }
    }

    @ParameterizedTest
    @ValueSource(longs = {1, 2, 3, 4})
    void guaranteesHoldForSeveralSpectra(long seed) {
        int d = 24;
        double decay = new double[] {0.5, 0.8, 0.95, 1.0}[(int) (seed - 1)];
        double[][] a = stream(150, d, decay, seed);
        FrequentDirections fd = new FrequentDirections(d, 6, 6, DataType.DOUBLE);
        for (int i = 0; i < a.length; i += 7) {
            fd.insert(Nd4j.createFromArray(Arrays.copyOfRange(a, i, Math.min(a.length, i + 7))));
        }
        assertThat(fd.shrinks()).isGreaterThan(5);
        assertThat(fd.delta()).isPositive();
        assertGuarantees(fd, gram(a, d, null));
    }

    @Test
    void fewerRowsThanTheBufferAreKeptExactly() {
        double[][] a = stream(11, 20, 0.9, 5);
        FrequentDirections fd = new FrequentDirections(20, 6, 6, DataType.DOUBLE);
        fd.insert(Nd4j.createFromArray(a));
        assertThat(fd.delta()).isZero();
        assertThat(fd.shrinks()).isZero();
        assertThat(fd.sketchRows().toDoubleMatrix()).isEqualTo(a);
        assertGuarantees(fd, gram(a, 20, null));
    }

    @Test
    void zeroRowsChangeNothingButTheCount() {
        FrequentDirections fd = new FrequentDirections(10, 4, 4, DataType.DOUBLE);
        fd.insert(Nd4j.zeros(DataType.DOUBLE, 9, 10));
        assertThat(fd.delta()).isZero();
        assertThat(fd.sketchMass()).isZero();
        assertThat(fd.absorbedRows()).isEqualTo(9);
        double[][] a = stream(30, 10, 0.7, 6);
        fd.insert(Nd4j.createFromArray(a));
        fd.insert(Nd4j.zeros(DataType.DOUBLE, 5, 10));
        assertGuarantees(fd, gram(a, 10, null));
    }

    @Test
    void dimensionBelowTwoEllIsExactWhenTheRankFits() {
        // d = 5 < ℓ: at every shrink the ℓ-th eigenvalue is 0, so nothing is lost.
        double[][] a = stream(60, 5, 0.8, 7);
        FrequentDirections fd = new FrequentDirections(5, 8, 8, DataType.DOUBLE);
        fd.insert(Nd4j.createFromArray(a));
        assertThat(fd.shrinks()).isGreaterThan(2);
        assertThat(fd.delta()).isCloseTo(0, within(1e-9));
        assertGuarantees(fd, gram(a, 5, null));
        // d = 12 < 2ℓ = 16 with full rank: lossy, but every bound still holds.
        double[][] b = stream(80, 12, 0.95, 8);
        FrequentDirections fd2 = new FrequentDirections(12, 8, 8, DataType.DOUBLE);
        fd2.insert(Nd4j.createFromArray(b));
        assertGuarantees(fd2, gram(b, 12, null));
    }

    @Test
    void mergeCoversBothStreams() {
        int d = 18;
        double[][] a1 = stream(70, d, 0.85, 9);
        double[][] a2 = stream(55, d, 0.6, 10);
        FrequentDirections s1 = new FrequentDirections(d, 5, 5, DataType.DOUBLE);
        FrequentDirections s2 = new FrequentDirections(d, 5, 5, DataType.DOUBLE);
        s1.insert(Nd4j.createFromArray(a1));
        s2.insert(Nd4j.createFromArray(a2));
        double d1 = s1.delta();
        double d2 = s2.delta();
        s1.merge(s2);
        assertThat(s1.delta()).isGreaterThanOrEqualTo(d1 + d2);
        assertThat(s1.absorbedRows()).isEqualTo(125);
        double[][] both = new double[125][];
        System.arraycopy(a1, 0, both, 0, 70);
        System.arraycopy(a2, 0, both, 70, 55);
        assertGuarantees(s1, gram(both, d, null));
    }

    @Test
    void decayIsTheSketchOfTheWeightedStream() {
        int d = 16;
        double gamma = 0.8;
        int batches = 12;
        int per = 5;
        double[][] a = stream(batches * per, d, 0.9, 11);
        double[] weights = new double[a.length];
        FrequentDirections fd = new FrequentDirections(d, 4, 4, DataType.DOUBLE);
        FrequentDirections exact = new FrequentDirections(d, 100, 100, DataType.DOUBLE);
        for (int b = 0; b < batches; b++) {
            fd.decay(gamma);
            exact.decay(gamma);
            INDArray rows = Nd4j.createFromArray(Arrays.copyOfRange(a, b * per, (b + 1) * per));
            fd.insert(rows);
            exact.insert(rows);
            for (int i = 0; i < per; i++) {
                weights[b * per + i] = Math.pow(gamma, batches - 1 - b);
            }
        }
        DMatrixRMaj weighted = gram(a, d, weights);
        // Without shrinks, decay gives exactly Σ γ^age A_jᵀA_j ...
        assertThat(exact.delta()).isZero();
        DMatrixRMaj exactGram = gram(exact.sketchRows());
        for (int i = 0; i < d; i++) {
            for (int j = 0; j < d; j++) {
                assertThat(exactGram.get(i, j)).isCloseTo(weighted.get(i, j), within(1e-10));
            }
        }
        assertThat(exact.absorbedRows()).isCloseTo(Arrays.stream(weights).sum(), within(1e-12));
        // ... and with shrinks every guarantee holds for the weighted stream.
        assertThat(fd.shrinks()).isPositive();
        assertGuarantees(fd, weighted);
    }

    @Test
    void eigenvectorsAreUnitAndSpanTheTopDirections() {
        int d = 30;
        double[][] a = new double[40][d];
        Random r = new Random(12);
        for (double[] row : a) {
            row[3] = 5 * r.nextGaussian();
            row[17] = 2 * r.nextGaussian();
            row[8] = 0.01 * r.nextGaussian();
        }
        FrequentDirections fd = new FrequentDirections(d, 6, 6, DataType.DOUBLE);
        fd.insert(Nd4j.createFromArray(a));
        FrequentDirections.Eigen e = fd.eigen(2, true);
        INDArray v = e.vectors();
        assertThat(v.rows()).isEqualTo(2);
        // Unit, orthogonal, and along the two strong axes (up to the sample's small correlations).
        assertThat(v.getRow(0).norm2Number().doubleValue()).isCloseTo(1, within(1e-9));
        assertThat(v.getRow(1).norm2Number().doubleValue()).isCloseTo(1, within(1e-9));
        assertThat(v.getRow(0).mul(v.getRow(1)).sumNumber().doubleValue()).isCloseTo(0, within(1e-9));
        assertThat(Math.abs(v.getDouble(0, 3))).isCloseTo(1, within(1e-3));
        assertThat(Math.abs(v.getDouble(1, 17))).isCloseTo(1, within(1e-3));
        assertThat(e.upper()[0]).isEqualTo(e.values()[0] + fd.delta());
    }

    @Test
    void floatSketchMeetsTheBoundsToFloatPrecision() {
        int d = 40;
        double[][] a = stream(120, d, 0.9, 13);
        FrequentDirections fd = new FrequentDirections(d, 8, 8, DataType.FLOAT);
        fd.insert(Nd4j.createFromArray(a).castTo(DataType.FLOAT));
        DMatrixRMaj ata = gram(
                Nd4j.createFromArray(a)
                        .castTo(DataType.FLOAT)
                        .castTo(DataType.DOUBLE)
                        .toDoubleMatrix(),
                d,
                null);
        double[] la = eigDesc(ata);
        double[] lb = eigDesc(gram(fd.sketchRows()));
        double tol = 1e-5 * la[0];
        for (int i = 0; i < d; i++) {
            assertThat(la[i]).isBetween(lb[i] - tol, lb[i] + fd.delta() + tol);
        }
    }

    @Test
    void serializationRoundTrips() throws Exception {
        double[][] a = stream(50, 12, 0.8, 14);
        FrequentDirections fd = new FrequentDirections(12, 4, 4, DataType.FLOAT);
        fd.insert(Nd4j.createFromArray(a).castTo(DataType.FLOAT));
        ByteArrayOutputStream bos = new ByteArrayOutputStream();
        try (ObjectOutputStream out = new ObjectOutputStream(bos)) {
            out.writeObject(fd);
        }
        FrequentDirections back;
        try (ObjectInputStream in = new ObjectInputStream(new ByteArrayInputStream(bos.toByteArray()))) {
            back = (FrequentDirections) in.readObject();
        }
        assertThat(back.delta()).isEqualTo(fd.delta());
        assertThat(back.rows()).isEqualTo(fd.rows());
        assertThat(back.sketchRows().toFloatMatrix()).isEqualTo(fd.sketchRows().toFloatMatrix());
        assertThat(back.eigen(3, false).values()).isEqualTo(fd.eigen(3, false).values());
        back.insert(Nd4j.createFromArray(a).castTo(DataType.FLOAT));
        assertThat(back.absorbedRows()).isEqualTo(100);
    }

    @Test
    void badArgumentsAreRejected() {
        assertThatThrownBy(() -> new FrequentDirections(0, 4, 4, DataType.FLOAT))
                .hasMessageContaining("d must be >= 1");
        assertThatThrownBy(() -> new FrequentDirections(5, 1, 4, DataType.FLOAT))
                .hasMessageContaining("ell must be >= 2");
        FrequentDirections fd = new FrequentDirections(5, 2, 2, DataType.FLOAT);
        assertThatThrownBy(() -> fd.insert(Nd4j.zeros(DataType.FLOAT, 2, 4))).hasMessageContaining("p x 5");
        assertThatThrownBy(() -> fd.decay(0)).hasMessageContaining("gamma");
        assertThatThrownBy(() -> fd.merge(new FrequentDirections(6, 2, 2, DataType.FLOAT)))
                .hasMessageContaining("merge");
    }
}
