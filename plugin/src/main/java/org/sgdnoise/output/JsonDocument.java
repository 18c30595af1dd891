package org.sgdnoise.output;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import java.nio.file.Path;
import java.util.Collection;
import java.util.Map;
import org.sgdnoise.UserInputException;

/**
 * Writes a small JSON document (a report) to a file, indented two spaces, without a JSON library.
 *
 * <p>Values: null, strings, booleans, numbers (non-finite doubles are written as null), maps with string keys,
 * collections, and arrays of double, int, long, String, double[] or Object. Stateless and thread-safe.
 */
public final class JsonDocument {

    private JsonDocument() {}

    /**
     * The document as indented JSON text.
     *
     * @param document the top-level object; keys in its iteration order
     * @return the JSON text, ending with a newline
     * @throws IllegalArgumentException for a value of a type listed nowhere above
     */
    public static String toJson(Map<String, ?> document) {
        StringBuilder sb = new StringBuilder(1024);
        value(sb, document, 0);
        return sb.append('\n').toString();
    }

    /**
     * Writes the document to {@code out}, creating its parent folders.
     *
     * @param document the top-level object
     * @param out the file; replaced if it exists
     * @throws UserInputException when {@code out} or its folder cannot be created or written (the message names
     *     the path and the reason): an output path is the user's input
     */
    public static void write(Map<String, ?> document, Path out) {
        String text = toJson(document);
        try {
            Path parent = out.toAbsolutePath().getParent();
            if (parent != null) {
                Files.createDirectories(parent);
            }
            Files.writeString(out, text, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UserInputException("cannot write " + out + ": " + reason(e), e);
        }
    }

    /**
     * A short reason for an I/O failure, for an error line, such as {@code "no such file or folder: /a/b"}: the
     * common file-system failures in words, with the file they name; else the exception's message.
     *
     * @param e the failure
     * @return the reason, never empty
     */
    public static String reason(IOException e) {
        if (e instanceof FileSystemException f) {
            String what;
            if (f instanceof NoSuchFileException) {
                what = "no such file or folder";
            } else if (f instanceof AccessDeniedException) {
                what = "permission denied";
            } else if (f instanceof FileAlreadyExistsException) {
                what = "already exists";
            } else if (f instanceof NotDirectoryException) {
                what = "not a folder";
            } else {
                what = f.getReason() != null ? f.getReason() : f.getClass().getSimpleName();
            }
            return f.getFile() == null ? what : what + ": " + f.getFile();
        }
        return e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
    }

    private static void value(StringBuilder sb, Object v, int depth) {
        if (v instanceof Map<?, ?> m) {
            if (m.isEmpty()) {
                sb.append("{}");
                return;
            }
            sb.append('{');
            boolean first = true;
            for (Map.Entry<?, ?> e : m.entrySet()) {
                sb.append(first ? "" : ",");
                first = false;
                newline(sb, depth + 1);
                Json.string(sb, String.valueOf(e.getKey()));
                sb.append(": ");
                value(sb, e.getValue(), depth + 1);
            }
            newline(sb, depth);
            sb.append('}');
        } else if (v instanceof Collection<?> c) {
            array(sb, c.toArray(), depth);
        } else if (v instanceof double[][] a) {
            array(sb, a, depth);
        } else if (v instanceof Object[] a && !(v instanceof String[])) {
            array(sb, a, depth);
        } else if (v instanceof int[] a) {
            sb.append('[');
            for (int i = 0; i < a.length; i++) {
                sb.append(i > 0 ? ", " : "").append(a[i]);
            }
            sb.append(']');
        } else if (v instanceof long[] a) {
            sb.append('[');
            for (int i = 0; i < a.length; i++) {
                sb.append(i > 0 ? ", " : "").append(a[i]);
            }
            sb.append(']');
        } else if (v == null
                || v instanceof String
                || v instanceof double[]
                || v instanceof String[]
                || v instanceof Double
                || v instanceof Float) {
            Json.value(sb, v);
        } else if (v instanceof Number || v instanceof Boolean) {
            sb.append(v);
        } else {
            throw new IllegalArgumentException(
                    "value must be a JSON type, got " + v.getClass().getName());
        }
    }

    private static void array(StringBuilder sb, Object[] a, int depth) {
        if (a.length == 0) {
            sb.append("[]");
            return;
        }
        sb.append('[');
        for (int i = 0; i < a.length; i++) {
            sb.append(i > 0 ? "," : "");
            newline(sb, depth + 1);
            value(sb, a[i], depth + 1);
        }
        newline(sb, depth);
        sb.append(']');
    }

    private static void newline(StringBuilder sb, int depth) {
        sb.append('\n');
        for (int i = 0; i < depth; i++) {
            sb.append("  ");
        }
    }
}
