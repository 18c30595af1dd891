package org.sgdnoise.samples;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.sgdnoise.UserInputException;
import org.sgdnoise.output.JsonDocument;

/**
 * Output locations are input: a path that cannot be created or written is reported as a
 * {@link UserInputException} naming the option, the path and the reason, before any work is done.
 */
public final class Outputs {

    private Outputs() {}

    /**
     * Checks that {@code path} (a file or a folder an output will be written to) can be created or written:
     * every existing ancestor is a folder, and the path is writable when it exists, or can be created when it
     * does not. The check creates what is missing and removes it again, so it leaves nothing behind.
     *
     * @param option the option's name, for the message, such as {@code --out}
     * @param path the output path
     * @throws UserInputException naming the option, the path and the reason when it cannot be written
     */
    public static void check(String option, Path path) {
        Path p = path.toAbsolutePath().normalize();
        for (Path a = p.getParent(); a != null; a = a.getParent()) {
            if (Files.exists(a) && !Files.isDirectory(a)) {
                throw new UserInputException(option + " " + path + " cannot be created: " + a + " is not a folder");
            }
        }
        if (Files.exists(p)) {
            if (!Files.isWritable(p)) {
                throw new UserInputException(option + " " + path + " is not writable");
            }
            return;
        }
        List<Path> created = new ArrayList<>();
        try {
            List<Path> missing = new ArrayList<>();
            for (Path a = p.getParent(); a != null && !Files.exists(a); a = a.getParent()) {
                missing.add(0, a);
            }
            for (Path a : missing) {
                created.add(0, Files.createDirectory(a));
            }
            created.add(0, Files.createFile(p));
        } catch (IOException e) {
            throw new UserInputException(option + " " + path + " cannot be created: " + JsonDocument.reason(e), e);
        } finally {
            for (Path c : created) {
                try {
                    Files.deleteIfExists(c);
                } catch (IOException ignored) {
                    // best effort: an empty folder or file left behind is harmless
                }
            }
        }
    }
}
