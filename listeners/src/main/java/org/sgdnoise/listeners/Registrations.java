package org.sgdnoise.listeners;

import java.util.Collection;
import java.util.concurrent.atomic.AtomicBoolean;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.optimize.api.TrainingListener;
import org.slf4j.Logger;

/**
 * Notices a listener registered more than once on a model (for example {@code attachTo(net)} followed by
 * {@code net.addListeners(listener)}): DL4J then calls it twice per iteration. The second call of an iteration
 * on the same thread and model is recognised and skipped, so the listener runs once; one WARN line says so.
 */
final class Registrations {

    private final Logger log;
    private final TrainingListener listener;
    private final AtomicBoolean warned = new AtomicBoolean();
    /** The model (identity hash) and iteration of the last call on this thread; one per worker thread. */
    private final ThreadLocal<long[]> last = ThreadLocal.withInitial(() -> new long[] {-1, -1});

    Registrations(Logger log, TrainingListener listener) {
        this.log = log;
        this.listener = listener;
    }

    /** True when this call repeats the last one on this thread (same model, same iteration): skip it. */
    boolean repeated(Model model, int iteration) {
        long[] l = last.get();
        long id = System.identityHashCode(model);
        if (l[0] == id && l[1] == iteration) {
            if (warned.compareAndSet(false, true)) {
                log.warn(
                        "sgdnoise: {} is registered {} times on this model (attachTo adds it; do not also pass it "
                                + "to addListeners); it runs once per iteration.",
                        listener.getClass().getSimpleName(),
                        count(model, listener));
            }
            return true;
        }
        l[0] = id;
        l[1] = iteration;
        return false;
    }

    /** How many times {@code listener} is registered on {@code model}. */
    static int count(Object model, TrainingListener listener) {
        Collection<TrainingListener> all = model instanceof MultiLayerNetwork net
                ? net.getListeners()
                : model instanceof ComputationGraph cg ? cg.getListeners() : null;
        int n = 0;
        if (all != null) {
            for (TrainingListener l : all) {
                n += l == listener ? 1 : 0;
            }
        }
        return n;
    }
}
