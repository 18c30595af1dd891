package org.sgdnoise.samples;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A resumable experiment's record of finished runs: one JSON object per line with a {@code key}, appended as each
 * run finishes. A line torn by a killed process is dropped on reading (that run is repeated).
 */
final class RunLog {

    private static final Logger log = LoggerFactory.getLogger(RunLog.class);

    private RunLog() {}

    /** The finished runs by key, in file order; rewrites the file without a torn line if it finds one. */
    static Map<String, JsonNode> read(Path file, String command) throws IOException {
        Map<String, JsonNode> out = new LinkedHashMap<>();
        if (!Files.exists(file)) {
            return out;
        }
        ObjectMapper om = new ObjectMapper();
        List<String> good = new ArrayList<>();
        boolean bad = false;
        for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
            if (line.isBlank()) {
                continue;
            }
            try {
                JsonNode r = om.readTree(line);
                out.put(r.get("key").asText(), r);
                good.add(line);
            } catch (IOException | RuntimeException e) {
                bad = true;
                log.warn(
                        "{}: dropping an unreadable line of {} (a torn record of a killed run); that run is repeated",
                        command,
                        file);
            }
        }
        if (bad) { // rewrite without the torn line, so appended records start on a line of their own
            Files.writeString(file, good.isEmpty() ? "" : String.join("\n", good) + "\n", StandardCharsets.UTF_8);
        }
        return out;
    }

    /** Appends one run's record as a line and returns it as read back. */
    static JsonNode append(Path file, Map<String, Object> record) throws IOException {
        ObjectMapper om = new ObjectMapper();
        String line = om.writeValueAsString(record) + "\n";
        Files.writeString(file, line, StandardCharsets.UTF_8, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
        return om.readTree(line);
    }
}
