package org.sgdnoise.sampling;

import org.sgdnoise.internal.stats.StudentT;

/**
 * A paired comparison of two arms over n seeds: the differences {@code a_i − b_i}, their mean with a two-sided
 * Student-t interval, the paired t test's p, the exact two-sided sign test's p, and the smallest true mean
 * difference the t test would detect with 80% power at the same level (the power this many seeds has, stated in
 * the data's units). Pairs with a non-finite member are dropped and counted.
 *
 * @param n the pairs used
 * @param dropped pairs left out because a member was not finite
 * @param mean the mean difference a − b
 * @param sd the standard deviation of the differences
 * @param low lower end of the interval of the mean difference
 * @param high upper end
 * @param level the interval's level (0.95)
 * @param tP the paired t test's two-sided p (NaN below 2 pairs or with no spread)
 * @param positive pairs with a − b &gt; 0
 * @param negative pairs with a − b &lt; 0
 * @param signP the sign test's exact two-sided p over the pairs that are not ties
 * @param detectable the true mean difference detected with 80% power by a two-sided t test at 1 − level
 */
public record PairedComparison(
        int n,
        int dropped,
        double mean,
        double sd,
        double low,
        double high,
        double level,
        double tP,
        int positive,
        int negative,
        double signP,
        double detectable) {

    /** The level of every interval here. */
    public static final double LEVEL = 0.95;

    /** The power behind {@link #detectable}. */
    public static final double POWER = 0.8;

    /** Compares the paired values {@code a[i]} and {@code b[i]}. */
    public static PairedComparison of(double[] a, double[] b) {
        if (a.length != b.length) {
            throw new IllegalArgumentException(
                    "paired arrays must have the same length, got " + a.length + " and " + b.length);
        }
        double[] d = new double[a.length];
        int n = 0;
        for (int i = 0; i < a.length; i++) {
            if (Double.isFinite(a[i]) && Double.isFinite(b[i])) {
                d[n++] = a[i] - b[i];
            }
        }
        double mean = 0;
        int pos = 0;
        int neg = 0;
        for (int i = 0; i < n; i++) {
            mean += d[i];
            pos += d[i] > 0 ? 1 : 0;
            neg += d[i] < 0 ? 1 : 0;
        }
        mean = n == 0 ? Double.NaN : mean / n;
        double ss = 0;
        for (int i = 0; i < n; i++) {
            ss += (d[i] - mean) * (d[i] - mean);
        }
        double sd = n < 2 ? Double.NaN : Math.sqrt(ss / (n - 1));
        double low = Double.NaN;
        double high = Double.NaN;
        double tP = Double.NaN;
        double detectable = Double.NaN;
        if (n >= 2) {
            double se = sd / Math.sqrt(n);
            double t = StudentT.quantile(1 - LEVEL, n - 1);
            low = mean - t * se;
            high = mean + t * se;
            tP = se > 0 ? StudentT.twoSided(mean / se, n - 1) : Double.NaN;
            // Approximate power of the two-sided t test (the central t for the alternative's quantile).
            detectable = (t + StudentT.quantile(2 * (1 - POWER), n - 1)) * se;
        }
        return new PairedComparison(
                n, a.length - n, mean, sd, low, high, LEVEL, tP, pos, neg, signTest(pos, neg), detectable);
    }

    /**
     * The exact two-sided sign test: {@code min(1, 2·P(X ≤ min(pos, neg)))} for X ~ Binomial(pos + neg, 1/2); 1
     * when there are no untied pairs.
     */
    public static double signTest(int positive, int negative) {
        int m = positive + negative;
        int k = Math.min(positive, negative);
        double tail = 0;
        double term = Math.pow(0.5, m); // C(m, 0) / 2^m
        for (int i = 0; i <= k; i++) {
            tail += term;
            term = term * (m - i) / (i + 1);
        }
        return Math.min(1, 2 * tail);
    }

    /** True when the interval excludes 0. */
    public boolean excludesZero() {
        return low > 0 || high < 0;
    }
}
