package org.sgdnoise.listeners;

import java.lang.ref.WeakReference;
import java.util.Collection;
import java.util.concurrent.atomic.AtomicBoolean;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.optimize.api.TrainingListener;
import org.nd4j.autodiff.listeners.Listener;
import org.nd4j.autodiff.samediff.SameDiff;
import org.slf4j.Logger;

/**
 * Notices a listener registered more than once on a model (for example {@code attachTo(net)} followed by
 * {@code net.addListeners(listener)}): DL4J then calls it twice per iteration. A second call of an iteration on
 * the same thread and model is skipped when the model really lists the listener more than once, so the listener
 * runs once; one WARN line says so. A repeated iteration with a single registration (a {@code fit()} retried
 * after an exception, before DL4J advanced its count) is observed again, as before.
 */
final class Registrations {

    private final Logger log;
    private final TrainingListener listener;
    private final AtomicBoolean warned = new AtomicBoolean();

    /** The model and iteration of the last call on a thread. */
    private static final class Last {
        WeakReference<Object> model = new WeakReference<>(null);
        int iteration = -1;
    }

    /** One per worker thread. */
    private final ThreadLocal<Last> last = ThreadLocal.withInitial(Last::new);

    Registrations(Logger log, TrainingListener listener) {
        this.log = log;
        this.listener = listener;
    }

    /** True when this call repeats the last one on this thread for a listener registered twice: skip it. */
    boolean repeated(Object model, int iteration) {
        Last l = last.get();
        if (l.model.get() == model && l.iteration == iteration) {
            int n = count(model, listener);
            if (n > 1) {
                if (warned.compareAndSet(false, true)) {
                    log.warn(
                            "sgdnoise: {} is registered {} times on this model (attachTo adds it; do not also pass it "
                                    + "to addListeners); it runs once per iteration.",
                            listener.getClass().getSimpleName(),
                            n);
                }
                return true;
            }
        }
        if (l.model.get() != model) {
            l.model = new WeakReference<>(model); // once per model: this runs at every recorded iteration
        }
        l.iteration = iteration;
        return false;
    }

    /** How many times {@code listener} is registered on {@code model} (on a SameDiff graph: through a hook). */
    static int count(Object model, TrainingListener listener) {
        if (model instanceof SameDiff sd) {
            int n = 0;
            for (Listener l : sd.getListeners()) {
                n += l instanceof SameDiffHook h && h.observer() == listener ? 1 : 0;
            }
            return n;
        }
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
