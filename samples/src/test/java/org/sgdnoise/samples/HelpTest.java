package org.sgdnoise.samples;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** Every command's {@code --help} prints its usage and nothing else: no picocli WARN (a stray % in a description). */
class HelpTest {

    @Test
    void everyCommandsHelpIsCleanAndExitsZero() {
        List<String> commands =
                new ArrayList<>(new CommandLine(new Main()).getSubcommands().keySet());
        commands.remove("help");
        assertThat(commands).contains("quickstart", "reproduce", "spectrum", "curvature", "loops", "report");
        commands.add(""); // the top level
        PrintStream out = System.out;
        PrintStream err = System.err;
        for (String command : commands) {
            ByteArrayOutputStream buffer = new ByteArrayOutputStream();
            PrintStream capture = new PrintStream(buffer, true, StandardCharsets.UTF_8);
            int code;
            try {
                System.setOut(capture);
                System.setErr(capture);
                code = command.isEmpty() ? Main.execute("--help") : Main.execute(command, "--help");
            } finally {
                System.setOut(out);
                System.setErr(err);
            }
            String text = buffer.toString(StandardCharsets.UTF_8);
            assertThat(code).as(command).isZero();
            assertThat(text)
                    .as(command)
                    .contains("Usage:")
                    .doesNotContain("WARN")
                    .doesNotContain("Could not format");
        }
    }
}
