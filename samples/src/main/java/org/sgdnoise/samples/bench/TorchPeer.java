package org.sgdnoise.samples.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The PyTorch peer: per-example gradients of the same MLP and small LeNet with {@code torch.func.vmap(grad)},
 * measured by the script {@code vmap_peer.py}, which ships in the samples jar beside this class. {@code bench
 * --torch} copies it into its output folder and runs it with {@code python3} (same environment, so the same
 * {@code OMP_NUM_THREADS}) when {@code python3 -c 'import torch'} succeeds; otherwise the result says why not.
 */
public final class TorchPeer {

    /** The script's classpath resource. */
    public static final String SCRIPT = "/org/sgdnoise/samples/bench/vmap_peer.py";

    /** How long the script may run. */
    static final long TIMEOUT_MINUTES = 10;

    private TorchPeer() {}

    /**
     * The peer's figures, or why there are none.
     *
     * @param available whether {@code python3} could import torch
     * @param reason why not, or null
     * @param script the script that ran, or null
     * @param result the script's JSON output (torch version, threads, per model the medians and the ratio), or null
     */
    public record Result(boolean available, String reason, String script, JsonNode result) {}

    /** Runs the script at {@code k} examples with {@code reps} timed repetitions, writing it into {@code dir}. */
    public static Result run(int k, int reps, Path dir) throws IOException, InterruptedException {
        Output probe = exec(List.of("python3", "-c", "import torch"), 2);
        if (probe == null || probe.code != 0) {
            return new Result(
                    false,
                    "torch not available: python3 -c 'import torch' "
                            + (probe == null ? "did not start or timed out" : "failed: " + lastLine(probe.text)),
                    null,
                    null);
        }
        Path script = dir.resolve("vmap_peer.py");
        try (InputStream in = TorchPeer.class.getResourceAsStream(SCRIPT)) {
            if (in == null) {
                return new Result(false, "resource " + SCRIPT + " missing from the class path", null, null);
            }
            Files.copy(in, script, StandardCopyOption.REPLACE_EXISTING);
        }
        Output out = exec(
                List.of("python3", script.toString(), "--k", Integer.toString(k), "--reps", Integer.toString(reps)),
                TIMEOUT_MINUTES);
        if (out == null || out.code != 0) {
            return new Result(
                    false,
                    "vmap_peer.py " + (out == null ? "timed out" : "failed: " + lastLine(out.text)),
                    script.toString(),
                    null);
        }
        return new Result(true, null, script.toString(), new ObjectMapper().readTree(lastLine(out.text)));
    }

    private record Output(int code, String text) {}

    /** Runs a command, stdout and stderr together; null when it cannot start or runs past the limit. */
    private static Output exec(List<String> cmd, long minutes) throws InterruptedException {
        try {
            Path log = Files.createTempFile("sgdnoise-torch", ".log");
            try {
                Process p = new ProcessBuilder(cmd)
                        .redirectErrorStream(true)
                        .redirectOutput(log.toFile())
                        .start();
                if (!p.waitFor(minutes, TimeUnit.MINUTES)) {
                    p.destroyForcibly();
                    return null;
                }
                return new Output(p.exitValue(), Files.readString(log, StandardCharsets.UTF_8));
            } finally {
                Files.deleteIfExists(log);
            }
        } catch (IOException e) {
            return null;
        }
    }

    private static String lastLine(String text) {
        List<String> lines = text.strip().lines().toList();
        return lines.isEmpty() ? "" : lines.get(lines.size() - 1);
    }
}
