package org.sgdnoise.listeners;

import java.util.Collections;
import java.util.Set;
import java.util.WeakHashMap;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.optimize.api.TrainingListener;
import org.nd4j.autodiff.samediff.SameDiff;
import org.sgdnoise.diffusion.UpdaterSettings;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Which models the listeners observe: DL4J's MultiLayerNetwork and ComputationGraph through DL4J's listener API, and
 * SameDiff graphs through SameDiff's ({@link SameDiffHook}).
 */
final class Models {

    private static final Logger log = LoggerFactory.getLogger(Models.class);

    private Models() {}

    /** Null for a supported model; otherwise why it is not supported. */
    static String unsupportedReason(Object model) {
        if (model instanceof MultiLayerNetwork || model instanceof ComputationGraph || model instanceof SameDiff) {
            return null;
        }
        if (model == null) {
            return "the model is null";
        }
        if (model instanceof Model) {
            return model.getClass().getName() + " is not supported: only MultiLayerNetwork, ComputationGraph and "
                    + "SameDiff (a single layer or a custom Model has no per-example gradients here)";
        }
        return model.getClass().getName() + " is not a DL4J model (MultiLayerNetwork, ComputationGraph or SameDiff)";
    }

    /**
     * Adds {@code listener} to {@code model}, or throws when the model is not supported.
     *
     * @throws IllegalArgumentException naming the model type and the reason
     */
    static <L extends TrainingListener & SameDiffHook.Observer> void attach(Object model, L listener) {
        String reason = unsupportedReason(model);
        if (reason != null) {
            throw new IllegalArgumentException(
                    listener.getClass().getSimpleName() + " cannot observe this model: " + reason);
        }
        if (Registrations.count(model, listener) > 0) {
            log.warn(
                    "sgdnoise: {} is already attached to this model; not adding it again.",
                    listener.getClass().getSimpleName());
            return;
        }
        if (model instanceof SameDiff sd) {
            warnOfTheArrayCache(sd);
            sd.addListeners(new SameDiffHook(sd, listener));
        } else {
            ((Model) model).addListeners(listener);
        }
    }

    /** The system property that turns SameDiff's array cache (ArrayCacheMemoryMgr) off when "false". */
    static final String ARRAY_CACHE = "org.nd4j.autodiff.samediff";

    private static final Set<SameDiff> WARNED = Collections.newSetFromMap(new WeakHashMap<>());

    /**
     * Says once per graph, at WARN, that ND4J 1.0.0-M2.1 trains a graph with {@code xw_plus_b} ({@code sd.nn.linear})
     * on wrong gradients from the second iteration of a {@code fit(iterator)} call while SameDiff's array cache is on
     * (system property {@value #ARRAY_CACHE}, default true): the cache hands back an array whose order flag it flips
     * without its strides (README, "SameDiff graphs").
     */
    static void warnOfTheArrayCache(SameDiff sd) {
        if (!Boolean.parseBoolean(System.getProperty(ARRAY_CACHE, "true"))) {
            return;
        }
        boolean linear = sd.getOps().values().stream()
                .anyMatch(op ->
                        op.getOp() != null && "xw_plus_b".equals(op.getOp().opName()));
        boolean first;
        synchronized (WARNED) {
            first = linear && WARNED.add(sd);
        }
        if (first) {
            log.warn("sgdnoise: this SameDiff graph uses xw_plus_b (sd.nn.linear) with SameDiff's array cache on: in "
                    + "ND4J 1.0.0-M2.1, fit(iterator) then trains on wrong gradients from the second iteration of each "
                    + "call (a cached array's order flag is flipped without its strides). Set the system property "
                    + ARRAY_CACHE + "=false before fit, fit one DataSet at a time, or use mmul and add.");
        }
    }

    /** The updater's settings of a DL4J model or SameDiff graph at an iteration. */
    static UpdaterSettings updater(Object model, int iteration, int epoch) {
        return model instanceof SameDiff sd
                ? UpdaterSettings.of(sd, iteration, epoch)
                : UpdaterSettings.of((Model) model, iteration, epoch);
    }

    /** The model's iteration count (DL4J's, the same on every callback of one iteration). */
    static int iteration(Model model) {
        if (model instanceof MultiLayerNetwork net) {
            return net.getLayerWiseConfigurations().getIterationCount();
        }
        if (model instanceof ComputationGraph cg) {
            return cg.getConfiguration().getIterationCount();
        }
        throw new IllegalArgumentException("supported models are MultiLayerNetwork and ComputationGraph, got "
                + model.getClass().getName());
    }

    /** The model's epoch count. */
    static int epoch(Model model) {
        if (model instanceof MultiLayerNetwork net) {
            return net.getLayerWiseConfigurations().getEpochCount();
        }
        return ((ComputationGraph) model).getConfiguration().getEpochCount();
    }
}
