package org.sgdnoise.output.internal;

import java.util.Arrays;

/**
 * A histogram of values that span decades (the eigenvalues of D), in TensorBoard's {@code HistogramProto} layout:
 * bucket {@code i} counts the values in {@code (limits[i-1], limits[i]]}, bucket 0 those up to {@code limits[0]}.
 *
 * <p>The bucket rule: a fixed grid of {@value #BUCKETS_PER_DECADE} buckets per decade, with edges
 * 10<sup>j/{@value #BUCKETS_PER_DECADE}</sup> for every integer j (a ratio of about 1.26 between neighbours), the
 * same at every step, so histograms of different probes line up. A positive value v falls in the bucket
 * (10<sup>(j−1)/10</sup>, 10<sup>j/10</sup>] with the smallest such j. Values ≤ 0 (D is positive semi-definite:
 * these are zeros and rounding) are counted in one bucket with limit 0. Only buckets from the one holding the
 * smallest value to the one holding the largest are written, and each run of empty grid buckets between them is
 * merged into one empty bucket, as TensorFlow's own histograms do. Non-finite values are left out.
 *
 * @param min the smallest value counted
 * @param max the largest value counted
 * @param num the number of values counted
 * @param sum their sum
 * @param sumSquares the sum of their squares
 * @param limits each bucket's upper edge, increasing
 * @param counts each bucket's count
 */
public record LogHistogram(
        double min, double max, double num, double sum, double sumSquares, double[] limits, double[] counts) {

    /** Grid buckets per factor of ten. */
    public static final int BUCKETS_PER_DECADE = 10;

    /**
     * The histogram of the finite values of {@code values} (not modified), or null when there are none.
     * O(n) time and at most 2n + 1 buckets, plus one int per grid bucket between the smallest and largest value.
     */
    public static LogHistogram of(double[] values) {
        int n = 0;
        int nonPositive = 0;
        double min = Double.POSITIVE_INFINITY;
        double max = Double.NEGATIVE_INFINITY;
        double sum = 0;
        double sumSquares = 0;
        int lo = Integer.MAX_VALUE; // grid indices of the smallest and largest positive values
        int hi = Integer.MIN_VALUE;
        for (double v : values) {
            if (!Double.isFinite(v)) {
                continue;
            }
            n++;
            min = Math.min(min, v);
            max = Math.max(max, v);
            sum += v;
            sumSquares += v * v;
            if (v <= 0) {
                nonPositive++;
            } else {
                int j = index(v);
                lo = Math.min(lo, j);
                hi = Math.max(hi, j);
            }
        }
        if (n == 0) {
            return null;
        }
        int positives = n - nonPositive;
        // dense grid counts from lo to hi: double's whole range is about 6,300 grid buckets
        int[] grid = positives > 0 ? new int[hi - lo + 1] : new int[0];
        for (double v : values) {
            if (Double.isFinite(v) && v > 0) {
                grid[index(v) - lo]++;
            }
        }
        double[] limits = new double[2 * n + 2]; // non-empty buckets <= n, empty runs between them fewer
        double[] counts = new double[limits.length];
        int b = 0;
        if (nonPositive > 0) {
            limits[b] = 0;
            counts[b++] = nonPositive;
            if (positives > 0) { // the empty stretch from 0 to the first positive bucket's lower edge
                limits[b] = edge(lo - 1);
                counts[b++] = 0;
            }
        }
        for (int j = 0; j < grid.length; j++) {
            if (grid[j] == 0 && b > 0 && counts[b - 1] == 0) {
                limits[b - 1] = edge(lo + j); // extend the run of empty buckets
            } else {
                limits[b] = edge(lo + j);
                counts[b++] = grid[j];
            }
        }
        return new LogHistogram(min, max, n, sum, sumSquares, Arrays.copyOf(limits, b), Arrays.copyOf(counts, b));
    }

    /** The grid edge 10^(j / {@value #BUCKETS_PER_DECADE}). */
    public static double edge(int j) {
        return Math.pow(10, (double) j / BUCKETS_PER_DECADE);
    }

    /** The grid index of a positive value: the smallest j with {@code v <= edge(j)}. */
    public static int index(double v) {
        int j = (int) Math.ceil(BUCKETS_PER_DECADE * Math.log10(v));
        // log10 and pow round: settle the index against the edges actually written
        while (v > edge(j)) {
            j++;
        }
        while (v <= edge(j - 1)) {
            j--;
        }
        return j;
    }
}
