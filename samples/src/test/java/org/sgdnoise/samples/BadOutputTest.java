package org.sgdnoise.samples;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Output paths and counts are input: every command given an output that cannot be created (under a regular file,
 * or under {@code /proc}) or a negative count exits with code 2 and exactly one {@code error:} line that names the
 * option or path, before doing any work, and leaves nothing behind.
 */
class BadOutputTest {

    @TempDir
    Path dir;

    private Path aFile;

    @BeforeEach
    void files() throws Exception {
        aFile = Files.writeString(dir.resolve("a-file"), "not a folder");
    }

    /** Each command with its required arguments (inputs need not exist: the checks come first). */
    private List<String[]> commands() {
        String missing = dir.resolve("missing").toString();
        List<String[]> c = new ArrayList<>();
        c.add(new String[] {"quickstart"});
        c.add(new String[] {"spectrum", "--model", missing, "--data", missing});
        c.add(new String[] {"analyze-trajectory", missing});
        c.add(new String[] {"compare-sampling"});
        c.add(new String[] {"report", missing});
        c.add(new String[] {"reproduce"});
        c.add(new String[] {"bench"});
        c.add(new String[] {"bench-sketch", "--d", "100"});
        return c;
    }

    /** The output options of each command, in the order of {@link #commands()}. */
    private static final String[][] OUTPUTS = {
        {"--out"}, {"--out"}, {"--out", "--png"}, {"--out"}, {"--out"}, {"--out", "--doc"}, {"--out"}, {"--out"}
    };

    /** A negative value for one count option of each command. */
    private static final String[][] COUNTS = {
        {"--max-iterations", "--train-limit", "--epochs"},
        {"--limit", "--chunk"},
        {"--last"},
        {"--seeds", "--batch-sizes"},
        {},
        {"--batch-size", "--loop-iterations"},
        {"--gradients-per-probe", "--quickstart-reps"},
        {"--ell", "--batch"}
    };

    private static String[] with(String[] base, String... more) {
        String[] all = new String[base.length + more.length];
        System.arraycopy(base, 0, all, 0, base.length);
        System.arraycopy(more, 0, all, base.length, more.length);
        return all;
    }

    /** Runs the command line and returns its standard error lines after checking the exit code 2. */
    private static List<String> fails(String... args) {
        CommandRun run = CommandRun.of(args);
        int code = run.code();
        List<String> lines = run.stderr();
        assertThat(code)
                .as("%s: exit code (stderr %s)", String.join(" ", args), lines)
                .isEqualTo(Main.EXIT_USAGE);
        assertThat(lines).as(String.join(" ", args)).hasSize(1);
        assertThat(lines.get(0)).startsWith("error: ").doesNotContain("\tat ");
        return lines;
    }

    @Test
    void everyCommandRejectsAnOutputUnderARegularFile() throws Exception {
        List<String[]> commands = commands();
        for (int i = 0; i < commands.size(); i++) {
            for (String option : OUTPUTS[i]) {
                Path out = aFile.resolve("x").resolve("out.json");
                String line =
                        fails(with(commands.get(i), option, out.toString())).get(0);
                assertThat(line).contains(option).contains(out.toString()).contains("is not a folder");
            }
        }
        try (var files = Files.list(dir)) {
            assertThat(files.toList()).containsExactly(aFile);
        }
    }

    @Test
    void everyCommandRejectsAnOutputThatTheFileSystemRefuses() {
        Path proc = Path.of("/proc/nope");
        if (!Files.isDirectory(Path.of("/proc"))) {
            return; // not Linux
        }
        List<String[]> commands = commands();
        for (int i = 0; i < commands.size(); i++) {
            for (String option : OUTPUTS[i]) {
                String line = fails(
                                with(commands.get(i), option, proc.resolve("x").toString()))
                        .get(0);
                assertThat(line).contains(option).contains("/proc/nope").contains("cannot be created: ");
            }
        }
    }

    @Test
    void everyCommandRejectsNegativeCountsNamingTheOptionAndValue() {
        List<String[]> commands = commands();
        for (int i = 0; i < commands.size(); i++) {
            for (String option : COUNTS[i]) {
                String out = dir.resolve("o" + i).toString();
                String line =
                        fails(with(commands.get(i), option, "-5", "--out", out)).get(0);
                assertThat(line).isEqualTo("error: " + option.substring(2) + " must be >= 0, got -5");
            }
        }
        assertThat(Files.exists(dir.resolve("o0"))).isFalse();
    }

    @Test
    void spectrumLimitMinusFiveIsNoLongerReadAsAll() {
        assertThat(fails("spectrum", "--model", "m.zip", "--data", "d.csv", "--limit", "-5")
                        .get(0))
                .isEqualTo("error: limit must be >= 0, got -5");
    }
}
