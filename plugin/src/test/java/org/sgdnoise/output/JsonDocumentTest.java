package org.sgdnoise.output;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.sgdnoise.UserInputException;

class JsonDocumentTest {

    @TempDir
    Path dir;

    @Test
    void nestedValuesRoundTripThroughJackson() throws Exception {
        Map<String, Object> doc = new LinkedHashMap<>();
        doc.put("n", 3L);
        doc.put("x", 0.25);
        doc.put("nan", Double.NaN);
        doc.put("s", "a \"quoted\"\nline");
        doc.put("ok", true);
        doc.put("none", null);
        doc.put("v", new double[] {1, 2.5});
        doc.put("m", new double[][] {{1, 2}, {3, 4}});
        doc.put("i", new int[] {1, 2});
        doc.put("l", List.of("a", "b"));
        doc.put("o", Map.of("k", 1));
        doc.put("empty", Map.of());
        Path out = dir.resolve("a/b/doc.json");
        JsonDocument.write(doc, out);
        JsonNode j = new ObjectMapper().readTree(Files.readString(out));
        assertThat(j.get("n").asLong()).isEqualTo(3);
        assertThat(j.get("x").asDouble()).isEqualTo(0.25);
        assertThat(j.get("nan").isNull()).isTrue();
        assertThat(j.get("s").asText()).isEqualTo("a \"quoted\"\nline");
        assertThat(j.get("ok").asBoolean()).isTrue();
        assertThat(j.get("none").isNull()).isTrue();
        assertThat(j.get("v").get(1).asDouble()).isEqualTo(2.5);
        assertThat(j.get("m").get(1).get(0).asDouble()).isEqualTo(3);
        assertThat(j.get("i").get(1).asInt()).isEqualTo(2);
        assertThat(j.get("l").get(0).asText()).isEqualTo("a");
        assertThat(j.get("o").get("k").asInt()).isEqualTo(1);
        assertThat(j.get("empty").size()).isZero();
    }

    @Test
    void anOutputThatCannotBeWrittenIsBadInputNamingThePath() throws Exception {
        Path file = dir.resolve("a-file");
        Files.writeString(file, "x");
        Path out = file.resolve("x.json");
        assertThatThrownBy(() -> JsonDocument.write(Map.of("a", 1), out))
                .isInstanceOf(UserInputException.class)
                .hasMessageStartingWith("cannot write " + out + ": ");
        assertThatThrownBy(() -> JsonDocument.write(Map.of("a", new Object()), dir.resolve("y.json")))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("value must be a JSON type");
    }
}
