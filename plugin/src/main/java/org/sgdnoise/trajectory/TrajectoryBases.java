package org.sgdnoise.trajectory;

import java.util.SplittableRandom;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

/** The projection bases of a trajectory: m orthonormal rows of length d, in double. Stateless. */
final class TrajectoryBases {

    private TrajectoryBases() {}

    /**
     * A seeded random orthonormal basis: Gaussian rows from the seed's own generator (never ND4J's, which belongs
     * to training), orthonormalised by Gram–Schmidt. The same seed gives the same basis.
     */
    static INDArray random(int m, long d, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        double[][] rows = new double[m][(int) d];
        for (int i = 0; i < m; i++) {
            double[] row = rows[i];
            for (int j = 0; j < d; j++) {
                double u1 = 1 - r.nextDouble();
                double u2 = r.nextDouble();
                row[j] = Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2); // Box–Muller
            }
            // Classical Gram–Schmidt against the rows before, in plain arrays (ND4J's per-row ops made the first
            // record of a 50,890-parameter model take most of a second, which an overhead budget then had to repay).
            for (int k = 0; k < i; k++) {
                double[] bk = rows[k];
                double dot = 0;
                for (int j = 0; j < d; j++) {
                    dot += row[j] * bk[j];
                }
                for (int j = 0; j < d; j++) {
                    row[j] -= dot * bk[j];
                }
            }
            double norm = 0;
            for (int j = 0; j < d; j++) {
                norm += row[j] * row[j];
            }
            double inv = 1 / Math.sqrt(norm);
            for (int j = 0; j < d; j++) {
                row[j] *= inv;
            }
        }
        return Nd4j.createFromArray(rows);
    }

    /**
     * An m×d basis from the first {@code min(m, rows)} rows of {@code vectors} (for example a sketch's top
     * eigenvectors), in double; missing rows are zero. Not modified: {@code vectors}.
     */
    static INDArray fromRows(INDArray vectors, int m, long d) {
        INDArray b = Nd4j.zeros(DataType.DOUBLE, m, d);
        int rows = (int) Math.min(m, vectors.rows());
        b.get(NDArrayIndex.interval(0, rows), NDArrayIndex.all())
                .assign(vectors.get(NDArrayIndex.interval(0, rows), NDArrayIndex.all())
                        .castTo(DataType.DOUBLE));
        return b;
    }
}
