package org.sgdnoise.listeners;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicReference;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.deeplearning4j.datasets.iterator.utilty.ListDataSetIterator;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.sgdnoise.diffusion.SamplingScheme;
import org.sgdnoise.output.IterationScalars;
import org.sgdnoise.output.ProbeRecord;
import org.sgdnoise.output.RecordSink;
import org.sgdnoise.probe.ProbeFields;
import org.sgdnoise.testing.TestNetworks;

/**
 * {@link SgdnoiseMetrics} as Prometheus scrapes it: the text format's names, labels and values, and a DL4J network
 * trained with a DiffusionListener whose probe and loss appear in the scrape.
 */
class SgdnoiseMetricsPrometheusTest {

    /** One sample line of the text format: {@code name{label="value",...} number}. */
    private static final Pattern SAMPLE = Pattern.compile("^([a-zA-Z_:][a-zA-Z0-9_:]*)\\{([^}]*)} (\\S+)$");

    private static final Pattern LABEL = Pattern.compile("([a-zA-Z_][a-zA-Z0-9_]*)=\"([^\"]*)\",?");

    /** A scraped sample: its name, labels (sorted) and value. */
    private record Sample(String name, Map<String, String> labels, double value) {}

    private static List<Sample> parse(String scrape) {
        List<Sample> samples = new ArrayList<>();
        for (String line : scrape.split("\n")) {
            Matcher m = SAMPLE.matcher(line);
            if (line.startsWith("#") || !m.matches()) {
                continue;
            }
            Map<String, String> labels = new TreeMap<>();
            Matcher l = LABEL.matcher(m.group(2));
            while (l.find()) {
                labels.put(l.group(1), l.group(2));
            }
            samples.add(new Sample(m.group(1), labels, Double.parseDouble(m.group(3))));
        }
        return samples;
    }

    /** The value of the one sample {@code name} with exactly these labels (key, value, ...). */
    private static double value(List<Sample> samples, String name, String... labels) {
        Map<String, String> want = new TreeMap<>();
        for (int i = 0; i < labels.length; i += 2) {
            want.put(labels[i], labels[i + 1]);
        }
        List<Sample> found = samples.stream()
                .filter(s -> s.name().equals(name) && s.labels().equals(want))
                .toList();
        assertThat(found).as("%s%s", name, want).hasSize(1);
        return found.get(0).value();
    }

    @Test
    void theScrapeHasOneLinePerGaugeWithModelAndWorkerLabelsAndTheExactValues() {
        PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        SgdnoiseMetrics metrics = new SgdnoiseMetrics("lenet");
        metrics.bindTo(registry);

        List<Sample> before = parse(registry.scrape());
        assertThat(before).hasSize(SgdnoiseMetricsTest.WORKER_GAUGES.size());
        assertThat(before).allSatisfy(s -> {
            assertThat(s.labels()).isEqualTo(Map.of("model", "lenet", "worker", "0"));
            assertThat(s.value()).as(s.name()).isNaN();
        });
        assertThat(before.stream().map(Sample::name))
                .containsExactlyInAnyOrderElementsOf(SgdnoiseMetricsTest.WORKER_GAUGES.stream()
                        .map(n -> n.replace('.', '_'))
                        .toList());

        metrics.write(SgdnoiseMetricsTest.probe(0, 200, 0.1234567890123));
        metrics.writeScalars(new IterationScalars(201, 0, 0, 2.302585092994046, 0.05, 1.5e-3));
        metrics.write(SgdnoiseMetricsTest.probe(1, 200, 0.25));
        metrics.write(SgdnoiseMetricsTest.verdict(0, 0.001, 0.0625));

        String scrape = registry.scrape();
        assertThat(scrape)
                .contains("# TYPE sgdnoise_diffusion_trace gauge\n")
                .contains("sgdnoise_diffusion_trace{model=\"lenet\",worker=\"0\"} 0.1234567890123\n")
                .contains("sgdnoise_diffusion_layer_trace_share{layer=\"0\",model=\"lenet\",worker=\"0\"} 0.625\n");
        List<Sample> after = parse(scrape);
        assertThat(value(after, "sgdnoise_diffusion_trace", "model", "lenet", "worker", "0"))
                .isEqualTo(0.1234567890123);
        assertThat(value(after, "sgdnoise_diffusion_trace", "model", "lenet", "worker", "1"))
                .isEqualTo(0.25);
        assertThat(value(after, "sgdnoise_diffusion_lambda_max", "model", "lenet", "worker", "0"))
                .isEqualTo(0.1234567890123 / 4);
        assertThat(value(after, "sgdnoise_diffusion_rank", "model", "lenet", "worker", "0"))
                .isEqualTo(7.0);
        assertThat(value(after, "sgdnoise_diffusion_iteration", "model", "lenet", "worker", "0"))
                .isEqualTo(200.0);
        assertThat(value(after, "sgdnoise_diffusion_temperature", "model", "lenet", "worker", "0"))
                .isNaN();
        assertThat(value(after, "sgdnoise_training_loss", "model", "lenet", "worker", "0"))
                .isEqualTo(2.302585092994046);
        assertThat(value(after, "sgdnoise_training_learning_rate", "model", "lenet", "worker", "0"))
                .isEqualTo(0.05);
        assertThat(value(after, "sgdnoise_training_update_norm", "model", "lenet", "worker", "0"))
                .isEqualTo(1.5e-3);
        assertThat(value(after, "sgdnoise_training_loss", "model", "lenet", "worker", "1"))
                .isNaN();
        assertThat(value(after, "sgdnoise_trajectory_p_value", "model", "lenet", "worker", "0"))
                .isEqualTo(0.001);
        assertThat(value(after, "sgdnoise_trajectory_max_rate", "model", "lenet", "worker", "0"))
                .isEqualTo(0.0625);
        assertThat(value(after, "sgdnoise_diffusion_layer_trace_share", "layer", "1", "model", "lenet", "worker", "1"))
                .isEqualTo(0.375);
        registry.close();
    }

    @Test
    void aNetworkTrainedWithADiffusionListenerShowsItsProbeAndLossInTheScrape() {
        PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        SgdnoiseMetrics metrics = new SgdnoiseMetrics("mlp");
        metrics.bindTo(registry);
        RecordingSink records = new RecordingSink();
        AtomicReference<IterationScalars> lastScalars = new AtomicReference<>();
        RecordSink scalars = new RecordSink() {
            @Override
            public void write(ProbeRecord record) {}

            @Override
            public void writeScalars(IterationScalars s) {
                lastScalars.set(s);
            }
        };
        MultiLayerNetwork net = TestNetworks.mlp(DataType.FLOAT);
        DiffusionListener listener = new DiffusionListener.Builder()
                .overheadBudget(0)
                .probeEvery(2)
                .gradientsPerProbe(8)
                .sampling(SamplingScheme.WITHOUT_REPLACEMENT, 64)
                .sink(metrics)
                .sink(records)
                .sink(scalars)
                .build()
                .attachTo(net);

        // 4 iterations of batches of 16; probes at iterations 0 and 2
        net.fit(new ListDataSetIterator<>(
                TestNetworks.vectors(64, 7, DataType.FLOAT).asList(), 16));
        listener.close();

        assertThat(records.records).hasSize(2);
        ProbeRecord last = records.records.get(1);
        List<Sample> samples = parse(registry.scrape());
        String[] tags = {"model", "mlp", "worker", "0"};
        assertThat(value(samples, "sgdnoise_diffusion_iteration", tags)).isEqualTo(2.0);
        assertThat(value(samples, "sgdnoise_diffusion_trace", tags))
                .isPositive()
                .isEqualTo(((Number) last.get(ProbeFields.TRACE)).doubleValue());
        assertThat(value(samples, "sgdnoise_diffusion_lambda_max", tags))
                .isEqualTo(((Number) last.get(ProbeFields.LAMBDA_MAX)).doubleValue());
        assertThat(value(samples, "sgdnoise_diffusion_temperature", tags))
                .isPositive()
                .isEqualTo(((Number) last.get(ProbeFields.TEMPERATURE)).doubleValue());
        IterationScalars s = lastScalars.get();
        assertThat(s.iteration()).isEqualTo(3);
        assertThat(value(samples, "sgdnoise_training_loss", tags)).isPositive().isEqualTo(s.loss());
        assertThat(value(samples, "sgdnoise_training_update_norm", tags))
                .isPositive()
                .isEqualTo(s.updateNorm());
        // one share per layer with trained parameters, adding up to 1
        String[] layers = (String[]) last.get(ProbeFields.LAYER_NAMES);
        assertThat(layers).hasSize(2);
        double sum = 0;
        for (String layer : layers) {
            sum += value(
                    samples, "sgdnoise_diffusion_layer_trace_share", "layer", layer, "model", "mlp", "worker", "0");
        }
        assertThat(sum).isCloseTo(1.0, within(1e-9));
        assertThat(listener.sinkFailureCount()).isZero();
        registry.close();
    }
}
