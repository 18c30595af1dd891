package org.sgdnoise.samples.cli;

import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import org.sgdnoise.UserInputException;
import org.sgdnoise.samples.TrajectoryAnalysis;
import org.sgdnoise.trajectory.LoopStatistics;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code analyze-trajectory}: loop detection on a trajectory file. */
@Command(
        name = "analyze-trajectory",
        mixinStandardHelpOptions = true,
        description =
                "Tests a trajectory (a TrajectoryListener CSV, or any CSV of time steps x coordinates) for closed "
                        + "loops; writes a JSON report and a PNG phase portrait of the most circulating plane.")
public final class AnalyzeTrajectoryCommand implements Callable<Integer> {

    @Parameters(index = "0", description = "trajectory CSV")
    Path csv;

    @Option(names = "--dt", defaultValue = "1", description = "time step between rows (default: ${DEFAULT-VALUE})")
    double dt;

    @Option(
            names = "--significance",
            defaultValue = "0.01",
            description = "level for the LOOP verdict (default: ${DEFAULT-VALUE})")
    double significance;

    @Option(names = "--seed", defaultValue = "1", description = "seed of the surrogates (default: ${DEFAULT-VALUE})")
    long seed;

    @Option(
            names = "--out",
            defaultValue = "sgdnoise-out/trajectory.json",
            description = "JSON report (default: ${DEFAULT-VALUE})")
    Path out;

    @Option(
            names = "--png",
            defaultValue = "sgdnoise-out/phase-portrait.png",
            description = "phase portrait (default: ${DEFAULT-VALUE})")
    Path png;

    @Option(
            names = "--plain-sgd",
            description = "the run used plain SGD (no momentum): apply the stationarity gate "
                    + "2<theta.u>/<|u|^2> ~ 1 from the listener's update columns")
    boolean plainSgd;

    @Option(
            names = "--gate-tolerance",
            defaultValue = "0.5",
            description = "|ratio - 1| beyond which the window is NOT_STATIONARY (default: ${DEFAULT-VALUE})")
    double gateTolerance;

    @Option(
            names = "--last",
            defaultValue = "0",
            description = "analyse only the last N steps (of the last segment); 0 = all")
    int last;

    @Override
    public Integer call() throws Exception {
        if (last < 0) {
            throw new UserInputException("last must be >= 0, got " + last);
        }
        LoopStatistics d = LoopStatistics.defaults();
        LoopStatistics detector;
        try {
            detector = new LoopStatistics(
                    significance, d.blocks(), d.surrogates(), d.minStepsPerBlock(), d.maxDiffusionExponent(), seed);
        } catch (IllegalArgumentException e) {
            throw new UserInputException(e.getMessage(), e);
        }
        Map<String, Object> r =
                TrajectoryAnalysis.run(csv, dt, detector, plainSgd ? gateTolerance : Double.NaN, last, out, png);
        System.out.println(String.format(
                Locale.ROOT,
                "%s: max_rate %s, p_value %s, period %s, %s steps; wrote %s and %s",
                r.get("verdict"),
                r.get("max_rate"),
                r.get("p_value"),
                r.get("period"),
                r.get("steps"),
                out,
                png));
        return 0;
    }
}
