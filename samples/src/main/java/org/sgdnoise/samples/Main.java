package org.sgdnoise.samples;

import org.sgdnoise.samples.cli.AnalyzeTrajectoryCommand;
import org.sgdnoise.samples.cli.BenchCommand;
import org.sgdnoise.samples.cli.BenchSketchCommand;
import org.sgdnoise.samples.cli.CompareSamplingCommand;
import org.sgdnoise.samples.cli.QuickStartCommand;
import org.sgdnoise.samples.cli.ReportCommand;
import org.sgdnoise.samples.cli.ReproduceCommand;
import org.sgdnoise.samples.cli.SpectrumCommand;
import org.sgdnoise.samples.cli.ToyCommand;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The sgdnoise command line: {@code java -jar sgdnoise-samples.jar <command> [options]}. */
@Command(
        name = "sgdnoise",
        mixinStandardHelpOptions = true,
        versionProvider = Main.Version.class,
        description = "Instruments for the gradient noise of SGD in Deeplearning4j.",
        subcommands = {QuickStartCommand.class, SpectrumCommand.class, AnalyzeTrajectoryCommand.class, ToyCommand.class, CompareSamplingCommand.class, ReportCommand.class, ReproduceCommand.class, BenchCommand.class, BenchSketchCommand.class, CommandLine.HelpCommand.class})
public final class Main implements Runnable {

    /** Exit code for bad input (options, files). */
    public static final int EXIT_USAGE = 2;

    private static final Logger log = LoggerFactory.getLogger(Main.class);

    public static void main(String[] args) {
        System.exit(execute(args));
    }

    /** Runs the command line and returns the exit code: 0 ok, 2 bad input, 1 failure. */
    public static int execute(String... args) {
        return run(new Main(), args);
    }

    /**
     * Runs a picocli command (this command line, or another program's, such as the Spark job) with sgdnoise's
     * error policy, and returns the exit code: 0 ok, 2 bad input (one {@code error:} line), 1 failure.
     */
    public static int run(Object command, String... args) {
        CommandLine cl = new CommandLine(command);
        cl.setExecutionExceptionHandler((ex, cmd, parsed) -> {
            Throwable t = ex;
            while (t != null && !(t instanceof UserInputException)) {
                t = t.getCause();
            }
            if (t != null) {
                cmd.getErr().println("error: " + t.getMessage());
                return EXIT_USAGE;
            }
            log.error("failed: {}", ex.toString(), ex);
            cmd.getErr().println("error: " + ex);
            return 1;
        });
        return cl.execute(args);
    }

    @Override
    public void run() {
        new CommandLine(this).usage(System.out);
    }

    /** The version from the jar manifest. */
    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String v = Main.class.getPackage().getImplementationVersion();
            return new String[] {"sgdnoise " + (v == null ? "(development)" : v)};
        }
    }
}
