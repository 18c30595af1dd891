package org.sgdnoise.samples;

import java.nio.file.FileSystemException;
import java.nio.file.Path;
import java.util.Set;
import org.sgdnoise.UserInputException;
import org.sgdnoise.output.JsonDocument;
import org.sgdnoise.samples.cli.AnalyzeTrajectoryCommand;
import org.sgdnoise.samples.cli.BenchCommand;
import org.sgdnoise.samples.cli.BenchSketchCommand;
import org.sgdnoise.samples.cli.CompareSamplingCommand;
import org.sgdnoise.samples.cli.CurvatureCommand;
import org.sgdnoise.samples.cli.LoopsCommand;
import org.sgdnoise.samples.cli.QuickStartCommand;
import org.sgdnoise.samples.cli.ReportCommand;
import org.sgdnoise.samples.cli.ReproduceCommand;
import org.sgdnoise.samples.cli.SpectrumCommand;
import org.sgdnoise.samples.cli.ToyCommand;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.ExecutionException;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.ParseResult;

/** The sgdnoise command line: {@code java -jar sgdnoise-samples.jar <command> [options]}. */
@Command(
        name = "sgdnoise",
        mixinStandardHelpOptions = true,
        versionProvider = Main.Version.class,
        description = "Instruments for the gradient noise of SGD in Deeplearning4j.",
        subcommands = {
            QuickStartCommand.class,
            SpectrumCommand.class,
            CurvatureCommand.class,
            LoopsCommand.class,
            AnalyzeTrajectoryCommand.class,
            ToyCommand.class,
            CompareSamplingCommand.class,
            ReportCommand.class,
            ReproduceCommand.class,
            BenchCommand.class,
            BenchSketchCommand.class,
            CommandLine.HelpCommand.class
        })
public final class Main implements Runnable {

    /** Exit code for bad input (options, files). */
    public static final int EXIT_USAGE = UserInputException.EXIT_CODE;

    /** Options that name where output goes: checked before a command runs (see {@link Outputs#check}). */
    static final Set<String> OUTPUT_OPTIONS = Set.of("--out", "--png", "--doc", "--tensorboard");

    /** Integer options that may be negative; every other int or long option is a count or size, at least 0. */
    static final Set<String> SIGNED_OPTIONS = Set.of("--seed");

    private static final Logger log = LoggerFactory.getLogger(Main.class);

    public static void main(String[] args) {
        System.exit(execute(args));
    }

    /** Runs the command line and returns the exit code: 0 ok, 2 bad input, 1 failure. */
    public static int execute(String... args) {
        return run(new Main(), args);
    }

    /**
     * Runs a picocli command with sgdnoise's error policy, and returns the exit code: 0 ok, 2 bad input (one
     * {@code error:} line), 1 failure. Bad input is a {@link UserInputException} anywhere in the failure's
     * causes, a file-system failure on a path ({@link FileSystemException}), a negative count (any int or long
     * option but {@code --seed}), or an output ({@code --out}, {@code --png}, {@code --doc}, {@code --tensorboard}) that cannot be
     * created or written, the last two checked before the command runs.
     *
     * @param command a picocli command object
     * @param args the command line
     * @return the exit code
     */
    public static int run(Object command, String... args) {
        CommandLine cl = new CommandLine(command);
        cl.setExecutionStrategy(parsed -> {
            Integer help = CommandLine.executeHelpRequest(parsed);
            if (help != null) {
                return help;
            }
            ParseResult last = parsed;
            while (last.hasSubcommand()) {
                last = last.subcommand();
            }
            try {
                checkOptions(last);
            } catch (UserInputException e) {
                throw new ExecutionException(last.commandSpec().commandLine(), e.getMessage(), e);
            }
            return new CommandLine.RunLast().execute(parsed);
        });
        cl.setExecutionExceptionHandler((ex, cmd, parsed) -> {
            UserInputException bad = UserInputException.find(ex);
            if (bad != null) {
                cmd.getErr().println("error: " + bad.getMessage());
                return EXIT_USAGE;
            }
            for (Throwable t = ex; t != null; t = t.getCause()) {
                if (t instanceof FileSystemException f) {
                    cmd.getErr().println("error: file-system failure: " + JsonDocument.reason(f));
                    return EXIT_USAGE;
                }
            }
            log.error("failed: {}", ex.toString(), ex);
            cmd.getErr().println("error: " + ex);
            return 1;
        });
        return cl.execute(args);
    }

    /** Rejects negative counts and outputs that cannot be written, naming the option and the value. */
    static void checkOptions(ParseResult parsed) {
        for (OptionSpec o : parsed.commandSpec().options()) {
            String name = o.longestName();
            Object v = o.getValue();
            if (v instanceof Integer || v instanceof Long) {
                long x = ((Number) v).longValue();
                if (x < 0 && !SIGNED_OPTIONS.contains(name)) {
                    throw new UserInputException(name.replaceFirst("^-+", "") + " must be >= 0, got " + x);
                }
            } else if (v instanceof int[] a) {
                for (int x : a) {
                    if (x < 0) {
                        throw new UserInputException(name.replaceFirst("^-+", "") + " must be >= 0, got " + x);
                    }
                }
            }
        }
        for (OptionSpec o : parsed.commandSpec().options()) {
            if (OUTPUT_OPTIONS.contains(o.longestName()) && o.getValue() instanceof Path p) {
                Outputs.check(o.longestName(), p);
            }
        }
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
