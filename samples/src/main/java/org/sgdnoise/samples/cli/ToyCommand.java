package org.sgdnoise.samples.cli;

import java.util.Locale;
import java.util.concurrent.Callable;
import org.sgdnoise.UserInputException;
import org.sgdnoise.trajectory.LoopAnalysis;
import org.sgdnoise.trajectory.LoopStatistics;
import org.sgdnoise.trajectory.ToySystems;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code toy}: the paper's two-dimensional examples, simulated and analysed against their analytic rates. */
@Command(
        name = "toy",
        mixinStandardHelpOptions = true,
        description = "Simulates the analytic cases of theory section 5 by Euler-Maruyama (rotating OU, reversible "
                + "anisotropic OU, Brownian motion, the double well with lambda = 0, 0.5, 1.5), "
                + "runs the loop detector, "
                + "and prints measured against analytic area rates.")
public final class ToyCommand implements Callable<Integer> {

    @Option(
            names = "--steps",
            defaultValue = "5000000",
            description = "Euler-Maruyama steps per system (default: ${DEFAULT-VALUE})")
    int steps;

    @Option(names = "--dt", defaultValue = "0.002", description = "time step (default: ${DEFAULT-VALUE})")
    double dt;

    @Option(names = "--seed", defaultValue = "1", description = "seed (default: ${DEFAULT-VALUE})")
    long seed;

    @Override
    public Integer call() {
        if (steps < 1000 || !(dt > 0)) {
            throw new UserInputException("need steps >= 1000 and dt > 0");
        }
        LoopStatistics detector = LoopStatistics.defaults().withSeed(seed);
        System.out.println(
                "| system | analytic area rate | measured A_12 ± standard error | max rate ± standard error | "
                        + "p-value | verdict |");
        System.out.println("|---|---|---|---|---|---|");
        row(detector, "rotating OU, alpha = 0.7", 0.7, ToySystems.rotatingOu(0.7, dt, steps, seed));
        row(
                detector,
                "reversible OU, F = diag(1, 0.3), D = diag(5, 0.2)",
                0,
                ToySystems.reversibleOu(new double[] {1, 0.3}, new double[] {5, 0.2}, dt, steps, seed));
        row(detector, "Brownian motion", 0, ToySystems.brownian(2, dt, steps, seed));
        for (double lambda : new double[] {0, 0.5, 1.5}) {
            row(
                    detector,
                    "double well, lambda = " + lambda,
                    ToySystems.doubleWellAreaRate(lambda),
                    ToySystems.doubleWell(lambda, dt, steps, seed));
        }
        return 0;
    }

    private void row(LoopStatistics detector, String name, double analytic, double[][] y) {
        LoopAnalysis a = detector.analyze(y, dt);
        System.out.println(String.format(
                Locale.ROOT,
                "| %s | %.4f | %.4f ± %.4f | %.4f ± %.4f | %.3g | %s |",
                name,
                analytic,
                a.areaRate()[0][1],
                a.areaRateStderr()[0][1],
                a.maxRate(),
                a.maxRateStderr(),
                a.pValue(),
                a.verdict()));
    }
}
