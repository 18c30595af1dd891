package org.sgdnoise.listeners;

import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.binder.MeterBinder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.ToDoubleFunction;
import org.sgdnoise.output.IterationScalars;
import org.sgdnoise.output.ProbeRecord;
import org.sgdnoise.output.RecordKind;
import org.sgdnoise.output.RecordSink;
import org.sgdnoise.probe.ProbeFields;
import org.sgdnoise.trajectory.TrajectoryFields;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Live gauges of the gradient noise for Micrometer: a {@link RecordSink} that keeps the latest probe record, loop
 * verdict and iteration scalars of each worker, and a {@link MeterBinder} whose gauges read them. Add it to a
 * listener as a sink and bind it to any registry (Prometheus, JMX, ...):
 *
 * <pre>{@code
 * SgdnoiseMetrics metrics = new SgdnoiseMetrics("lenet");
 * metrics.bindTo(registry);
 * new DiffusionListener.Builder()
 *         .probeEvery(100)
 *         .sink(metrics)
 *         .build()
 *         .attachTo(net);
 * }</pre>
 *
 * <p>The same instance may be a sink of a {@link TrajectoryListener} too (its verdict records are told apart by
 * their {@code verdict} key) and may be bound to several registries, before or after training starts.
 *
 * <p><b>Class path.</b> {@code io.micrometer:micrometer-core} is an optional dependency of sgdnoise-listeners: add
 * it to your build to use this class. Only this class refers to Micrometer; the listeners load and run without it.
 *
 * <p><b>Names.</b> One rule: {@code sgdnoise.<group>.<record key>} with the key's underscores as dots (Micrometer's
 * lowercase dotted names; Prometheus renders {@code sgdnoise.diffusion.lambda.max} as
 * {@code sgdnoise_diffusion_lambda_max}). Groups and keys:
 *
 * <ul>
 *   <li>{@code diffusion} (the DiffusionListener's latest probe, {@link ProbeFields}): {@code iteration},
 *       {@code trace}, {@code lambda_max}, {@code rank}, {@code participation_ratio}, {@code effective_rank},
 *       {@code isotropy_ratio}, {@code noise_scale_unbiased}, {@code temperature}; and per layer with trained parameters
 *       {@code layer_trace_share} (its share of tr(D), tag {@code layer});
 *   <li>{@code training} (the latest {@link IterationScalars}, sent at every iteration): {@code loss},
 *       {@code learning_rate}, {@code update_norm};
 *   <li>{@code trajectory} (the TrajectoryListener's latest verdict, {@link TrajectoryFields}): {@code p_value},
 *       {@code max_rate}.
 * </ul>
 *
 * <p><b>Tags.</b> {@code model} (the constructor's name, default {@value #DEFAULT_MODEL}), {@code worker} (the
 * records' {@code worker}: 0, or ParallelWrapper's worker number) and, on the per-layer gauge, {@code layer}. Add
 * tags such as the host with the registry's common tags.
 *
 * <p><b>When gauges appear.</b> At {@link #bindTo} the gauges of worker 0 and of every worker and layer seen so far;
 * a worker or layer first seen later gets its gauges then, in every registry bound so far. A gauge reads NaN (the
 * Micrometer convention for "no value") until its record arrives, and where the record holds null (a NaN or an
 * undefined ratio: the temperature with an unknown sampling scheme, for example); a gauge of the trajectory reads NaN
 * without a TrajectoryListener. Gauges keep the last values after training; remove them with the registry.
 *
 * <p>Gauges hold their state strongly, so they keep reading after the caller drops this object. Cost per record: a
 * copy of a dozen numbers; per iteration ({@link #writeScalars}): three. Never throws into training: a gauge a
 * registry refuses (a meter of the same name with other tag keys, for example) is warned about once and the others
 * go on. Thread-safe: any number of training threads may write while registries are bound.
 */
public final class SgdnoiseMetrics implements MeterBinder, RecordSink {

    /** The {@code model} tag's value when none is given. */
    public static final String DEFAULT_MODEL = "model";

    private static final Logger log = LoggerFactory.getLogger(SgdnoiseMetrics.class);

    private static final String PREFIX = "sgdnoise.";

    /** One gauge read from one record key: {@code sgdnoise.<group>.<key with dots>}. */
    private record Spec(String group, String key, String description) {
        String meterName() {
            return PREFIX + group + "." + key.replace('_', '.');
        }
    }

    private static final List<Spec> DIFFUSION = List.of(
            new Spec("diffusion", ProbeFields.ITERATION, "DL4J iteration of the latest probe of D"),
            new Spec("diffusion", ProbeFields.TRACE, "tr(D): total variance of the per-example gradients"),
            new Spec("diffusion", ProbeFields.LAMBDA_MAX, "largest eigenvalue of D"),
            new Spec(
                    "diffusion",
                    ProbeFields.RANK,
                    "eigenvalues of D above the paper's threshold lambda_max*d*eps32 (grows with d; compare models by "
                            + "the participation ratio)"),
            new Spec("diffusion", ProbeFields.PARTICIPATION_RATIO, "(tr D)^2 / tr(D^2)"),
            new Spec("diffusion", ProbeFields.EFFECTIVE_RANK, "exp of the entropy of the normalised spectrum of D"),
            new Spec("diffusion", ProbeFields.ISOTROPY_RATIO, "d * lambda_max / tr(D): 1 when isotropic"),
            new Spec(
                    "diffusion",
                    ProbeFields.NOISE_SCALE_UNBIASED,
                    "noise scale tr(D) / |grad f|^2 (McCandlish et al. 2018), unbiased estimate; NaN when |grad f|^2 "
                            + "is not resolved"),
            new Spec(
                    "diffusion",
                    ProbeFields.TEMPERATURE,
                    "SGD temperature eta/(2b), times (1 - b/N) without replacement (it multiplies D' = N/(N-1) D); "
                            + "NaN when undefined"));

    private static final List<Spec> TRAINING = List.of(
            new Spec("training", IterationScalars.KEYS[3], "minibatch loss of the latest iteration"),
            new Spec("training", IterationScalars.KEYS[4], "learning rate in force at the latest iteration"),
            new Spec("training", IterationScalars.KEYS[5], "norm of the latest parameter update"));

    private static final List<Spec> TRAJECTORY = List.of(
            new Spec("trajectory", TrajectoryFields.P_VALUE, "p-value of the latest loop test"),
            new Spec("trajectory", TrajectoryFields.MAX_RATE, "largest area rate of the latest loop test, per step"));

    private static final Spec LAYER_SHARE = new Spec(
            "diffusion", ProbeFields.LAYER_TRACE_SHARE, "share of tr(D) in one layer's parameters at the latest probe");

    private final String model;
    private final Map<Integer, Worker> workers = new ConcurrentHashMap<>();
    private final Object registration = new Object();
    private final List<MeterRegistry> registries = new ArrayList<>(); // guarded by registration
    private final AtomicBoolean refusalWarned = new AtomicBoolean();
    private final AtomicBoolean unknownRecordSaid = new AtomicBoolean();

    /** Gauges tagged {@code model=}{@value #DEFAULT_MODEL}. */
    public SgdnoiseMetrics() {
        this(DEFAULT_MODEL);
    }

    /**
     * Gauges tagged {@code model=<model>}.
     *
     * @param model the {@code model} tag's value, not blank
     * @throws IllegalArgumentException for a null or blank name
     */
    public SgdnoiseMetrics(String model) {
        if (model == null || model.isBlank()) {
            throw new IllegalArgumentException(
                    "model must be a non-blank name, got " + (model == null ? "null" : "\"" + model + "\""));
        }
        this.model = model;
    }

    /** The {@code model} tag's value. */
    public String model() {
        return model;
    }

    /**
     * Registers the gauges of worker 0 and of every worker and layer seen so far in {@code registry}, and those of
     * workers and layers seen later as they appear. Binding the same registry twice does nothing more.
     *
     * @throws IllegalArgumentException for a null registry
     */
    @Override
    public void bindTo(MeterRegistry registry) {
        if (registry == null) {
            throw new IllegalArgumentException("registry must not be null, got null");
        }
        synchronized (registration) {
            for (MeterRegistry r : registries) {
                if (r == registry) {
                    return;
                }
            }
            worker(0); // before the registry joins the list: its gauges are registered once, below
            registries.add(registry);
            for (Worker w : workers.values()) {
                registerWorker(registry, w);
                for (String layer : w.layers) {
                    registerLayer(registry, w, layer);
                }
            }
        }
    }

    /**
     * Keeps a probe record ({@link ProbeFields}, told by its {@code trace} key) or a loop verdict
     * ({@link TrajectoryFields}, told by {@code verdict}) as its worker's latest; other records are ignored.
     */
    @Override
    public void write(ProbeRecord record) {
        if (record == null) {
            return;
        }
        Map<String, Object> fields = record.fields();
        RecordKind kind = RecordKind.of(record);
        if (kind == RecordKind.LOOP) {
            worker(workerOf(fields)).trajectory = values(fields, TRAJECTORY);
        } else if (kind == RecordKind.PROBE) {
            Worker w = worker(workerOf(fields));
            w.diffusion = values(fields, DIFFUSION);
            w.layerShares = layerShares(fields);
            for (String layer : w.layerShares.keySet()) {
                if (!w.layers.contains(layer)) {
                    addLayer(w, layer);
                }
            }
        } else if (unknownRecordSaid.compareAndSet(false, true)) {
            log.debug("sgdnoise: metrics ignore records without 'trace' or 'verdict', such as {}", record);
        }
    }

    /** Keeps {@code scalars} as its worker's latest loss, learning rate and update norm. */
    @Override
    public void writeScalars(IterationScalars scalars) {
        if (scalars != null) {
            worker(scalars.worker()).training =
                    new double[] {scalars.loss(), scalars.learningRate(), scalars.updateNorm()};
        }
    }

    @Override
    public String toString() {
        synchronized (registration) {
            return "SgdnoiseMetrics[model=" + model + ", workers=" + workers.keySet() + ", registries="
                    + registries.size() + "]";
        }
    }

    /** One worker's latest values, replaced whole (never changed in place), and the layers it has shown. */
    private static final class Worker {
        final int index;
        final Set<String> layers = Collections.synchronizedSet(new LinkedHashSet<>());
        volatile double[] diffusion = nans(DIFFUSION.size());
        volatile double[] training = nans(TRAINING.size());
        volatile double[] trajectory = nans(TRAJECTORY.size());
        volatile Map<String, Double> layerShares = Map.of();

        Worker(int index) {
            this.index = index;
        }

        double layerShare(String layer) {
            return layerShares.getOrDefault(layer, Double.NaN);
        }
    }

    private Worker worker(int index) {
        Worker w = workers.get(index);
        return w != null ? w : addWorker(index);
    }

    private Worker addWorker(int index) {
        synchronized (registration) {
            Worker w = workers.get(index);
            if (w == null) {
                w = new Worker(index);
                for (MeterRegistry r : registries) {
                    registerWorker(r, w);
                }
                workers.put(index, w);
            }
            return w;
        }
    }

    private void addLayer(Worker w, String layer) {
        synchronized (registration) {
            if (w.layers.add(layer)) {
                for (MeterRegistry r : registries) {
                    registerLayer(r, w, layer);
                }
            }
        }
    }

    private void registerWorker(MeterRegistry registry, Worker w) {
        Tags tags = Tags.of("model", model, "worker", Integer.toString(w.index));
        for (int i = 0; i < DIFFUSION.size(); i++) {
            int at = i;
            register(registry, DIFFUSION.get(i), tags, w, x -> x.diffusion[at]);
        }
        for (int i = 0; i < TRAINING.size(); i++) {
            int at = i;
            register(registry, TRAINING.get(i), tags, w, x -> x.training[at]);
        }
        for (int i = 0; i < TRAJECTORY.size(); i++) {
            int at = i;
            register(registry, TRAJECTORY.get(i), tags, w, x -> x.trajectory[at]);
        }
    }

    private void registerLayer(MeterRegistry registry, Worker w, String layer) {
        Tags tags = Tags.of("model", model, "worker", Integer.toString(w.index), "layer", layer);
        register(registry, LAYER_SHARE, tags, w, x -> x.layerShare(layer));
    }

    private void register(MeterRegistry registry, Spec spec, Tags tags, Worker w, ToDoubleFunction<Worker> f) {
        try {
            // Strong: a gauge keeps only a weak reference to its state by default, and a Worker may be reachable
            // from nothing else once the caller drops this binder.
            Gauge.builder(spec.meterName(), w, f)
                    .description(spec.description())
                    .tags(tags)
                    .strongReference(true)
                    .register(registry);
        } catch (RuntimeException e) {
            if (refusalWarned.compareAndSet(false, true)) {
                log.warn(
                        "sgdnoise: {} refused the gauge {}{}: {}. That gauge is missing from it; the others and "
                                + "training go on. Is a meter of that name registered with other tag keys or another "
                                + "type? Give this model's metrics their own names or registry. Later refusals are "
                                + "logged at DEBUG.",
                        registry.getClass().getSimpleName(),
                        spec.meterName(),
                        tags,
                        e.toString());
            } else {
                log.debug("sgdnoise: {} refused the gauge {}{}", registry, spec.meterName(), tags, e);
            }
        }
    }

    private static int workerOf(Map<String, Object> fields) {
        return fields.get(ProbeFields.WORKER) instanceof Number n ? n.intValue() : 0;
    }

    private static double[] values(Map<String, Object> fields, List<Spec> specs) {
        double[] v = new double[specs.size()];
        for (int i = 0; i < v.length; i++) {
            v[i] = number(fields.get(specs.get(i).key()));
        }
        return v;
    }

    private static double number(Object value) {
        return value instanceof Number n ? n.doubleValue() : Double.NaN;
    }

    /** The record's layers and their shares of tr(D); empty when it has none or the two arrays disagree. */
    private static Map<String, Double> layerShares(Map<String, Object> fields) {
        if (!(fields.get(ProbeFields.LAYER_NAMES) instanceof String[] names)
                || !(fields.get(ProbeFields.LAYER_TRACE_SHARE) instanceof double[] shares)
                || names.length != shares.length) {
            return Map.of();
        }
        Map<String, Double> m = new LinkedHashMap<>();
        for (int i = 0; i < names.length; i++) {
            if (names[i] != null) {
                m.put(names[i], shares[i]);
            }
        }
        return Collections.unmodifiableMap(m);
    }

    private static double[] nans(int n) {
        double[] v = new double[n];
        Arrays.fill(v, Double.NaN);
        return v;
    }
}
