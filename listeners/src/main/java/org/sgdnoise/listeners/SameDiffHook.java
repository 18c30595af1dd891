package org.sgdnoise.listeners;

import org.nd4j.autodiff.listeners.At;
import org.nd4j.autodiff.listeners.BaseListener;
import org.nd4j.autodiff.listeners.Loss;
import org.nd4j.autodiff.listeners.Operation;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.autodiff.samediff.internal.Variable;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.api.MultiDataSet;

/**
 * A listener's registration on a SameDiff graph: SameDiff's own listener API, passed on to the listener with the
 * graph it was attached to. SameDiff hands {@code iterationDone} and {@code preUpdate} its internal gradient
 * function, not the user's graph, so the graph is kept here. Active during training only.
 */
final class SameDiffHook extends BaseListener {

    /** What a listener does at SameDiff's training callbacks; {@code graph} is always the user's graph. */
    interface Observer {
        /** Before the step: the variables hold θ_t, {@code batch} is the minibatch. */
        void iterationStart(SameDiff graph, int iteration, int epoch, MultiDataSet batch);

        /** The update SameDiff is about to subtract from one variable. */
        default void preUpdate(SameDiff graph, int iteration, String variable, INDArray update) {}

        /** After the step: the variables hold θ_{t+1}. */
        void iterationDone(SameDiff graph, int iteration, int epoch, MultiDataSet batch);
    }

    private final SameDiff graph;
    private final Observer observer;

    SameDiffHook(SameDiff graph, Observer observer) {
        this.graph = graph;
        this.observer = observer;
    }

    /** The listener this registration passes the callbacks to. */
    Observer observer() {
        return observer;
    }

    @Override
    public boolean isActive(Operation operation) {
        return operation == Operation.TRAINING;
    }

    @Override
    public void iterationStart(SameDiff sd, At at, MultiDataSet data, long etlMs) {
        observer.iterationStart(graph, at.iteration(), at.epoch(), data);
    }

    @Override
    public void preUpdate(SameDiff sd, At at, Variable v, INDArray update) {
        observer.preUpdate(graph, at.iteration(), v.getName(), update);
    }

    @Override
    public void iterationDone(SameDiff sd, At at, MultiDataSet data, Loss loss) {
        observer.iterationDone(graph, at.iteration(), at.epoch(), data);
    }

    @Override
    public String toString() {
        return "SameDiffHook[" + observer + "]";
    }
}
