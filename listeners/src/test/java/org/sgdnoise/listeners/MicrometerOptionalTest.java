package org.sgdnoise.listeners;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.File;
import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.deeplearning4j.datasets.iterator.utilty.ListDataSetIterator;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.sgdnoise.testing.TestNetworks;

/**
 * micrometer-core is an optional dependency: only {@link SgdnoiseMetrics} may refer to it, and the listeners load
 * and train without it on the class path.
 */
class MicrometerOptionalTest {

    private static final String MICROMETER = "io/micrometer/";
    private static final String BINDER = "org/sgdnoise/listeners/SgdnoiseMetrics";

    /** The module's compiled main classes (target/classes). */
    private static Path mainClasses() throws URISyntaxException {
        return Path.of(DiffusionListener.class
                .getProtectionDomain()
                .getCodeSource()
                .getLocation()
                .toURI());
    }

    /** True when the class file's constant pool names {@code internalName} (ASCII names appear verbatim). */
    private static boolean refersTo(Path classFile, String internalName) {
        try {
            return new String(Files.readAllBytes(classFile), StandardCharsets.ISO_8859_1).contains(internalName);
        } catch (IOException e) {
            throw new IllegalStateException("cannot read " + classFile, e);
        }
    }

    private static boolean isBinder(Path root, Path classFile) {
        String name = root.relativize(classFile).toString().replace(File.separatorChar, '/');
        return name.equals(BINDER + ".class") || name.startsWith(BINDER + "$");
    }

    @Test
    void onlyTheBinderClassesReferToMicrometerOrToTheBinder() throws Exception {
        Path root = mainClasses();
        List<Path> classes;
        try (Stream<Path> files = Files.walk(root)) {
            classes =
                    files.filter(p -> p.toString().endsWith(".class")).sorted().toList();
        }
        // The scan sees what it must: the listeners, and the binder's own references.
        assertThat(classes.stream().map(p -> p.getFileName().toString()))
                .contains("DiffusionListener.class", "TrajectoryListener.class", "SgdnoiseMetrics.class");
        assertThat(refersTo(root.resolve(BINDER + ".class"), MICROMETER)).isTrue();

        List<String> offenders = classes.stream()
                .filter(p -> !isBinder(root, p))
                .filter(p -> refersTo(p, MICROMETER) || refersTo(p, BINDER))
                .map(p -> root.relativize(p).toString())
                .toList();
        assertThat(offenders)
                .as("classes other than SgdnoiseMetrics naming Micrometer or the binder")
                .isEmpty();
    }

    @Test
    void aDiffusionListenerTrainsInAJvmWithoutMicrometer() throws Exception {
        String classPath = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
        String withoutMicrometer = Arrays.stream(classPath.split(File.pathSeparator))
                .filter(e -> !e.contains("micrometer") && !e.contains("prometheus") && !e.contains("HdrHistogram"))
                .collect(Collectors.joining(File.pathSeparator));
        assertThat(withoutMicrometer).contains("nd4j").isNotEqualTo(classPath);

        Path java = Path.of(System.getProperty("java.home"), "bin", "java");
        ProcessBuilder pb = new ProcessBuilder(
                        java.toString(), "-Xmx1g", "-cp", withoutMicrometer, WithoutMicrometer.class.getName())
                .redirectErrorStream(true);
        pb.environment().put("OMP_NUM_THREADS", "1");
        Process child = pb.start();
        byte[] out = child.getInputStream().readAllBytes(); // until the child exits
        assertThat(child.waitFor(120, TimeUnit.SECONDS)).isTrue();
        String output = new String(out, StandardCharsets.UTF_8);

        assertThat(child.exitValue()).as(output).isZero();
        assertThat(output)
                .contains("micrometer: absent")
                .contains("probes: 2, failures: 0, sink failures: 0")
                .contains("binder: NoClassDefFoundError");
    }

    /** Run in the child JVM: trains with a DiffusionListener, then shows that only the binder needs Micrometer. */
    static final class WithoutMicrometer {
        private WithoutMicrometer() {}

        public static void main(String[] args) throws Exception {
            try {
                Class.forName("io.micrometer.core.instrument.MeterRegistry");
                System.out.println("micrometer: present");
            } catch (ClassNotFoundException e) {
                System.out.println("micrometer: absent");
            }
            MultiLayerNetwork net = TestNetworks.mlp(DataType.FLOAT);
            RecordingSink records = new RecordingSink();
            DiffusionListener listener = new DiffusionListener.Builder()
                    .overheadBudget(0)
                    .probeEvery(2)
                    .gradientsPerProbe(8)
                    .sink(records)
                    .build()
                    .attachTo(net);
            net.fit(new ListDataSetIterator<>(
                    TestNetworks.vectors(64, 7, DataType.FLOAT).asList(), 16));
            listener.close();
            System.out.println("probes: " + records.records.size() + ", failures: " + listener.failureCount()
                    + ", sink failures: " + listener.sinkFailureCount());
            try {
                Class.forName("org.sgdnoise.listeners.SgdnoiseMetrics");
                System.out.println("binder: loaded");
            } catch (NoClassDefFoundError e) {
                System.out.println("binder: NoClassDefFoundError");
            }
        }
    }
}
