package org.sgdnoise.samples;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * One run of the command line in this JVM, with its standard error captured (the tests' one way of running it).
 *
 * @param code the exit code
 * @param stderr the lines written to standard error
 */
record CommandRun(int code, List<String> stderr) {

    /** Runs {@code Main.execute(args)}. */
    static CommandRun of(String... args) {
        PrintStream old = System.err;
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
        int code;
        try {
            code = Main.execute(args);
        } finally {
            System.setErr(old);
        }
        return new CommandRun(code, err.toString(StandardCharsets.UTF_8).lines().toList());
    }
}
