package org.sgdnoise.curvature;

import java.util.SplittableRandom;
import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.Sgd;
import org.nd4j.linalg.lossfunctions.LossFunctions.LossFunction;

/**
 * Small double-precision models with closed-form Hessians, and their data. DL4J's flat layout of an
 * OutputLayer or DenseLayer is W ([nIn, nOut], column-major: entry (i, j) at {@code i + nIn·j}) then b; the
 * tests check that layout against the network's own output before relying on it.
 */
final class Regressions {

    private Regressions() {}

    /** The column of weight (i, j), or of bias j when {@code i == nIn}, in a one-layer model's flat vector. */
    static int index(int i, int j, int nIn, int nOut) {
        return i < nIn ? i + nIn * j : nIn * nOut + j;
    }

    static NeuralNetConfiguration.Builder base() {
        return new NeuralNetConfiguration.Builder()
                .seed(7)
                .dataType(DataType.DOUBLE)
                .updater(new Sgd(1.0));
    }

    static MultiLayerConfiguration oneLayer(
            NeuralNetConfiguration.Builder base, LossFunction loss, Activation act, int nIn, int nOut) {
        return base.list()
                .layer(new OutputLayer.Builder(loss)
                        .nIn(nIn)
                        .nOut(nOut)
                        .activation(act)
                        .build())
                .build();
    }

    static MultiLayerConfiguration tanhMlp(int nIn, int hidden, int nOut) {
        return mlp(nIn, hidden, nOut, Activation.TANH);
    }

    static MultiLayerConfiguration mlp(int nIn, int hidden, int nOut, Activation hiddenActivation) {
        return base().list()
                .layer(new DenseLayer.Builder()
                        .nIn(nIn)
                        .nOut(hidden)
                        .activation(hiddenActivation)
                        .build())
                .layer(new OutputLayer.Builder(LossFunction.MCXENT)
                        .nIn(hidden)
                        .nOut(nOut)
                        .activation(Activation.SOFTMAX)
                        .build())
                .build();
    }

    /** The softmax regression as a ComputationGraph. */
    static ComputationGraph softmaxGraph(int nIn, int nOut, double[] params) {
        ComputationGraphConfiguration conf = base().graphBuilder()
                .addInputs("in")
                .addLayer(
                        "out",
                        new OutputLayer.Builder(LossFunction.MCXENT)
                                .nIn(nIn)
                                .nOut(nOut)
                                .activation(Activation.SOFTMAX)
                                .build(),
                        "in")
                .setOutputs("out")
                .build();
        ComputationGraph g = new ComputationGraph(conf);
        g.init(Nd4j.createFromArray(params).reshape(1, params.length), false);
        return g;
    }

    static MultiLayerNetwork network(MultiLayerConfiguration conf, double[] params) {
        MultiLayerNetwork net = new MultiLayerNetwork(conf);
        net.init(Nd4j.createFromArray(params).reshape(1, params.length), false);
        return net;
    }

    static double[] gaussian(SplittableRandom rng, int n, double sd) {
        double[] x = new double[n];
        for (int i = 0; i < n; i++) {
            x[i] = sd * rng.nextGaussian();
        }
        return x;
    }

    static double[][] matrix(SplittableRandom rng, int rows, int cols, double sd) {
        double[][] x = new double[rows][];
        for (int i = 0; i < rows; i++) {
            x[i] = gaussian(rng, cols, sd);
        }
        return x;
    }

    static double[][] oneHot(SplittableRandom rng, int rows, int classes) {
        double[][] y = new double[rows][classes];
        for (int i = 0; i < rows; i++) {
            y[i][rng.nextInt(classes)] = 1;
        }
        return y;
    }

    static DataSet dataSet(double[][] x, double[][] y) {
        return new DataSet(Nd4j.createFromArray(x), Nd4j.createFromArray(y));
    }

    /** {@code x̃ᵀW + b} for the flat parameters of a one-layer model. */
    static double[] affine(double[] params, double[] x, int nOut) {
        int nIn = x.length;
        double[] z = new double[nOut];
        for (int j = 0; j < nOut; j++) {
            z[j] = params[index(nIn, j, nIn, nOut)];
            for (int i = 0; i < nIn; i++) {
                z[j] += x[i] * params[index(i, j, nIn, nOut)];
            }
        }
        return z;
    }

    static double[] softmax(double[] z) {
        double max = Double.NEGATIVE_INFINITY;
        for (double v : z) {
            max = Math.max(max, v);
        }
        double[] p = new double[z.length];
        double s = 0;
        for (int j = 0; j < z.length; j++) {
            p[j] = Math.exp(z[j] - max);
            s += p[j];
        }
        for (int j = 0; j < z.length; j++) {
            p[j] /= s;
        }
        return p;
    }

    /**
     * The Hessian of a one-layer model's mean loss when the loss's Hessian in the outputs z is {@code a(x)}:
     * {@code H = (1/n) Σ a(xₙ) ⊗ x̃ₙx̃ₙᵀ} with x̃ = (x, 1), in DL4J's flat order.
     */
    static double[][] kronecker(
            double[][] x, java.util.function.Function<Integer, double[][]> outputHessian, int nOut) {
        int n = x.length;
        int nIn = x[0].length;
        int d = (nIn + 1) * nOut;
        double[][] h = new double[d][d];
        for (int e = 0; e < n; e++) {
            double[][] a = outputHessian.apply(e);
            for (int i = 0; i <= nIn; i++) {
                double xi = i < nIn ? x[e][i] : 1;
                for (int k = 0; k <= nIn; k++) {
                    double xk = k < nIn ? x[e][k] : 1;
                    for (int j = 0; j < nOut; j++) {
                        for (int l = 0; l < nOut; l++) {
                            h[index(i, j, nIn, nOut)][index(k, l, nIn, nOut)] += a[j][l] * xi * xk / n;
                        }
                    }
                }
            }
        }
        return h;
    }

    /** The closed-form Hessian of softmax regression's mean MCXENT loss: {@code (1/n) Σ (diag(p) − ppᵀ) ⊗ x̃x̃ᵀ}. */
    static double[][] softmaxHessian(double[] params, double[][] x, int nOut) {
        return kronecker(
                x,
                e -> {
                    double[] p = softmax(affine(params, x[e], nOut));
                    double[][] a = new double[nOut][nOut];
                    for (int j = 0; j < nOut; j++) {
                        for (int l = 0; l < nOut; l++) {
                            a[j][l] = (j == l ? p[j] : 0) - p[j] * p[l];
                        }
                    }
                    return a;
                },
                nOut);
    }

    /** Softmax regression's gradient of one example's loss: {@code (p − y) ⊗ x̃}, in DL4J's flat order. */
    static double[] softmaxExampleGradient(double[] params, double[] x, double[] y) {
        int nIn = x.length;
        int nOut = y.length;
        double[] p = softmax(affine(params, x, nOut));
        double[] g = new double[(nIn + 1) * nOut];
        for (int i = 0; i <= nIn; i++) {
            for (int j = 0; j < nOut; j++) {
                g[index(i, j, nIn, nOut)] = (p[j] - y[j]) * (i < nIn ? x[i] : 1);
            }
        }
        return g;
    }

    static double relativeError(double[] actual, double[] expected) {
        double num = 0;
        double den = 0;
        for (int i = 0; i < actual.length; i++) {
            num += (actual[i] - expected[i]) * (actual[i] - expected[i]);
            den += expected[i] * expected[i];
        }
        return Math.sqrt(num / den);
    }

    static INDArray row(double[] v) {
        return Nd4j.createFromArray(v).reshape(1, v.length);
    }
}
