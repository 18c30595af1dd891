package org.sgdnoise.gradients;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Random;
import org.assertj.core.api.Assertions;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.nn.weights.WeightInit;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.nd4j.linalg.learning.config.Sgd;
import org.nd4j.linalg.lossfunctions.LossFunctions.LossFunction;
import org.sgdnoise.diffusion.DiffusionStatistics;
import org.sgdnoise.internal.linalg.Gram;
import org.sgdnoise.sketch.DiffusionSketch;
import org.sgdnoise.sketch.FrequentDirections;
import org.sgdnoise.testing.TestNetworks;

/**
 * Writing factored gradients a block of rows and columns at a time, centred or not, and feeding them to
 * the sketch that way, against the materialised rows.
 */
class GradientFactorsTest {

    /** Dense 5→7 (bias) → Dense 7→4 (no bias) → Output 4→3, double: W blocks of odd sizes. */
    private static MultiLayerNetwork net() {
        MultiLayerConfiguration conf = new NeuralNetConfiguration.Builder()
                .seed(21)
                .dataType(DataType.DOUBLE)
                .weightInit(WeightInit.XAVIER)
                .updater(new Sgd(0.1))
                .list()
                .layer(new DenseLayer.Builder()
                        .nIn(TestNetworks.N_IN)
                        .nOut(7)
                        .activation(Activation.TANH)
                        .build())
                .layer(new DenseLayer.Builder()
                        .nIn(7)
                        .nOut(4)
                        .activation(Activation.SIGMOID)
                        .hasBias(false)
                        .build())
                .layer(new OutputLayer.Builder(LossFunction.MCXENT)
                        .nIn(4)
                        .nOut(TestNetworks.N_OUT)
                        .activation(Activation.SOFTMAX)
                        .build())
                .build();
        MultiLayerNetwork n = new MultiLayerNetwork(conf);
        n.init();
        return n;
    }

    private static GradientFactors factors(int k) {
        GradientFactors f = factors(k, ProbeMode.EVAL);
        assertThat(f.factored()).isTrue();
        return f;
    }

    /** TRAIN mode takes the exact path: explicit rows, one column range per layer. */
    private static GradientFactors factors(int k, ProbeMode mode) {
        PerExampleGradients e = new PerExampleGradients(mode, 1L << 30);
        ProbeBatch batch = ProbeBatch.of(TestNetworks.vectors(k, 3, DataType.DOUBLE));
        return e.factors(net(), batch, PerExampleGradients.select(ExampleSelection.FIRST, k, k, 0));
    }

    @Test
    void everyBlockOfRowsAndColumnsEqualsTheRows() {
        everyBlockEqualsTheRows(factors(9));
    }

    /**
     * Found by the non-interference matrix: rows from an offset in a layer's column range (a sketch shrink
     * mid-probe).
     */
    @Test
    void everyBlockOfTheExactPathsRowsEqualsTheRows() {
        GradientFactors f = factors(9, ProbeMode.TRAIN);
        assertThat(f.factored()).isFalse();
        everyBlockEqualsTheRows(f);
    }

    private static void everyBlockEqualsTheRows(GradientFactors f) {
        INDArray rows = f.rows();
        long d = f.d();
        Random rnd = new Random(5);
        for (int t = 0; t < 200; t++) {
            int r0 = rnd.nextInt(9);
            int r1 = r0 + 1 + rnd.nextInt(9 - r0);
            long c0 = rnd.nextInt((int) d);
            long c1 = c0 + 1 + rnd.nextInt((int) (d - c0));
            // The target is a view into a larger array, as the sketch's storage is.
            INDArray big = Nd4j.zeros(DataType.DOUBLE, 12, d + 3);
            INDArray target = big.get(NDArrayIndex.interval(2, 2 + r1 - r0), NDArrayIndex.interval(0, c1 - c0));
            f.write(r0, r1, c0, c1, target);
            INDArray expected = rows.get(NDArrayIndex.interval(r0, r1), NDArrayIndex.interval(c0, c1));
            // 1e-14: a BLAS product and an elementwise one may round a·δ one ulp apart.
            assertThat(target.equalsWithEps(expected, 1e-14))
                    .as("rows [%d,%d) columns [%d,%d)", r0, r1, c0, c1)
                    .isTrue();
            assertThat(big.sumNumber().doubleValue())
                    .isEqualTo(target.sumNumber().doubleValue(), Assertions.within(1e-9));
        }
    }

    @Test
    void centredBlocksAndTheMeanRowEqualTheCentredRows() {
        GradientFactors f = factors(8);
        INDArray rows = f.rows();
        INDArray mean = rows.mean(0).reshape(1, f.d());
        assertThat(f.meanRow().equalsWithEps(mean, 1e-14)).isTrue();
        INDArray centred = rows.subRowVector(mean);
        INDArray target = Nd4j.create(DataType.DOUBLE, 3, 20);
        f.writeCentred(4, 7, 10, 30, target);
        assertThat(target.equalsWithEps(centred.get(NDArrayIndex.interval(4, 7), NDArrayIndex.interval(10, 30)), 1e-14))
                .isTrue();
    }

    @Test
    void badRangesAreRejected() {
        GradientFactors f = factors(4);
        Assertions.assertThatThrownBy(() -> f.write(0, 5, 0, 3, Nd4j.create(5, 3)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("within 4×");
        Assertions.assertThatThrownBy(() -> f.write(0, 2, 0, 3, Nd4j.create(2, 4)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("target must be 2×3");
    }

    @Test
    void anFOrderTargetGetsTheSameValues() {
        GradientFactors f = factors(5);
        INDArray target = Nd4j.create(DataType.DOUBLE, new long[] {3, 60}, 'f');
        f.write(1, 4, 3, 63, target);
        assertThat(target.equalsWithEps(f.rows().get(NDArrayIndex.interval(1, 4), NDArrayIndex.interval(3, 63)), 0))
                .isTrue();
    }

    @Test
    void theSketchFedByColumnBlocksEqualsTheSketchFedRows() {
        // The 784-512-10 MLP in double with ℓ = 4: the sketch stores 262,144 columns per block, so the
        // block boundary cuts through the first layer's W mid-column, and k = 9 rows span several shrinks.
        MultiLayerNetwork wide = BatchedGradientsTest.wideMlp(DataType.DOUBLE);
        for (DiffusionSketch.Centring centring : DiffusionSketch.Centring.values()) {
            DiffusionSketch byRows = new DiffusionSketch(407_050, 4, 3, centring, DataType.DOUBLE);
            DiffusionSketch byBlocks = new DiffusionSketch(407_050, 4, 3, centring, DataType.DOUBLE);
            assertThat(byRows.sketch().blockColumns()).isLessThan(784L * 512);
            for (int p = 0; p < 3; p++) {
                PerExampleGradients e = new PerExampleGradients(ProbeMode.EVAL, 1L << 30);
                ProbeBatch batch = ProbeBatch.of(BatchedGradientsTest.wideData(9 + p, DataType.DOUBLE));
                try (GradientFactors f =
                        e.factors(wide, batch, PerExampleGradients.select(ExampleSelection.FIRST, 9, 9, 0))) {
                    assertThat(f.d()).isEqualTo(407_050);
                    INDArray rows = f.rows();
                    INDArray mean = DiffusionStatistics.centre(rows);
                    byRows.addProbe(rows, mean);
                    byBlocks.addProbe(f.k(), f::writeCentred, f.meanRow());
                }
                wide.fit(BatchedGradientsTest.wideData(32, DataType.DOUBLE)); // the next probe sees new weights
            }
            FrequentDirections.Eigen a = byRows.sketch().eigen(4, false);
            FrequentDirections.Eigen b = byBlocks.sketch().eigen(4, false);
            assertThat(byBlocks.sketch().shrinks())
                    .isEqualTo(byRows.sketch().shrinks())
                    .isGreaterThan(2);
            assertThat(b.delta()).isEqualTo(a.delta(), Assertions.within(1e-12 * a.values()[0]));
            for (int i = 0; i < 4; i++) {
                assertThat(b.values()[i])
                        .as("%s eigenvalue %d", centring, i)
                        .isEqualTo(a.values()[i], Assertions.within(1e-12 * a.values()[0]));
            }
        }
    }

    @Test
    void floatGradientsWithADominantMeanKeepTheirNoiseDigits() {
        // Nearly identical examples: |ḡ|² exceeds tr(D) by orders of magnitude. Centring a Gram matrix
        // accumulated in float would lose about |ḡ|²/tr(D) · 1e-7 of the trace; the factors' Gram in double
        // must match the rows centred in double.
        MultiLayerNetwork net = TestNetworks.mlp(DataType.FLOAT);
        Random rnd = new Random(8);
        int k = 16;
        INDArray x = Nd4j.create(DataType.FLOAT, k, TestNetworks.N_IN);
        INDArray y = Nd4j.create(DataType.FLOAT, k, TestNetworks.N_OUT);
        for (int i = 0; i < k; i++) {
            for (int j = 0; j < TestNetworks.N_IN; j++) {
                x.putScalar(i, j, 1.0 + j + 1e-3 * rnd.nextGaussian());
            }
            y.putScalar(i, 0, 1.0);
        }
        PerExampleGradients e = new PerExampleGradients(ProbeMode.EVAL, 1L << 30);
        GradientFactors f = e.factors(
                net, ProbeBatch.of(new DataSet(x, y)), PerExampleGradients.select(ExampleSelection.FIRST, k, k, 0));
        var fromFactors = DiffusionStatistics.ofGram(f.gram(), f.d(), 3);
        var oracle = DiffusionStatistics.compute(f.rows().castTo(DataType.DOUBLE), 3);
        assertThat(oracle.gradNormSq() / oracle.trace()).as("mean dominates").isGreaterThan(1e4);
        assertThat(fromFactors.trace()).isCloseTo(oracle.trace(), Assertions.within(1e-4 * oracle.trace()));
        assertThat(fromFactors.eigenvalues()[0])
                .isCloseTo(oracle.eigenvalues()[0], Assertions.within(1e-4 * oracle.eigenvalues()[0]));
        // The same Gram matrix accumulated in float, for contrast, misses by far more.
        INDArray rows = f.rows();
        double[][] floatGram = Gram.of(rows);
        var fromFloat = DiffusionStatistics.ofGram(floatGram, f.d(), 3);
        assertThat(Math.abs(fromFloat.trace() - oracle.trace()))
                .isGreaterThan(10 * Math.abs(fromFactors.trace() - oracle.trace()));
    }

    /**
     * An embedding table's sparse part (after an explicit part, so its columns start mid-row) against dense
     * rows built by the definition, {@code row_i[v + o·V] = Σ_t [tok_{i,t} = v] δ_{i,t,o}}: Gram, every block
     * of rows and columns, and the mean. Tokens repeat within and across examples; one token is in none.
     */
    @Test
    void theSparseEmbeddingPartEqualsItsDenseRows() {
        int k = 9;
        int steps = 5;
        int vocab = 7;
        int width = 3;
        int lead = 4;
        Random rnd = new Random(12);
        int[][] tokens = new int[k][steps];
        INDArray delta = Nd4j.create(DataType.DOUBLE, k, steps, width);
        INDArray lead0 = Nd4j.create(DataType.DOUBLE, k, lead);
        long d = lead + (long) vocab * width;
        INDArray dense = Nd4j.create(DataType.DOUBLE, k, d);
        for (int i = 0; i < k; i++) {
            for (int j = 0; j < lead; j++) {
                lead0.putScalar(i, j, rnd.nextGaussian());
                dense.putScalar(i, j, lead0.getDouble(i, j));
            }
            for (int t = 0; t < steps; t++) {
                tokens[i][t] = rnd.nextInt(3) == 0 ? 1 : 2 + rnd.nextInt(vocab - 2); // token 0 never occurs
                for (int o = 0; o < width; o++) {
                    double v = t == steps - 1 && i % 2 == 0 ? 0.0 : rnd.nextGaussian(); // masked positions
                    delta.putScalar(new long[] {i, t, o}, v);
                    long col = lead + tokens[i][t] + (long) o * vocab;
                    dense.putScalar(i, col, dense.getDouble(i, col) + v);
                }
            }
        }
        GradientFactors f = new GradientFactors(
                k,
                d,
                DataType.DOUBLE,
                java.util.List.of(
                        new GradientFactors.Explicit("lead", 0, lead0),
                        new SparseRows("emb", lead, vocab, tokens, delta)));
        assertThat(f.factored()).isTrue();
        double[][] g = f.gram();
        double[][] oracle = dense.mmul(dense.transpose()).toDoubleMatrix();
        for (int i = 0; i < k; i++) {
            for (int j = 0; j < k; j++) {
                assertThat(g[i][j]).as("G[%d][%d]", i, j).isCloseTo(oracle[i][j], Assertions.within(1e-12));
            }
        }
        for (int t = 0; t < 300; t++) {
            int r0 = rnd.nextInt(k);
            int r1 = r0 + 1 + rnd.nextInt(k - r0);
            long c0 = rnd.nextInt((int) d);
            long c1 = c0 + 1 + rnd.nextInt((int) (d - c0));
            INDArray big = Nd4j.zeros(DataType.DOUBLE, k + 3, d + 3);
            INDArray target = big.get(NDArrayIndex.interval(2, 2 + r1 - r0), NDArrayIndex.interval(1, 1 + c1 - c0));
            target.assign(Double.NaN); // every entry of the block must be written, zeros included
            f.write(r0, r1, c0, c1, target);
            assertThat(target.equalsWithEps(
                            dense.get(NDArrayIndex.interval(r0, r1), NDArrayIndex.interval(c0, c1)), 1e-15))
                    .as("rows [%d,%d) columns [%d,%d)", r0, r1, c0, c1)
                    .isTrue();
        }
        assertThat(f.rows().equalsWithEps(dense, 1e-15)).isTrue();
        assertThat(f.meanRow().equalsWithEps(dense.mean(0).reshape(1, d), 1e-15))
                .isTrue();
    }
}
