package org.sgdnoise.output;

/**
 * The scalars of one training iteration, cheap enough to keep at every iteration: the minibatch loss, the learning
 * rate in force and the norm of the parameter update. Probes and loop verdicts stay {@link ProbeRecord}s (events);
 * these are the series a live view draws between them.
 *
 * @param iteration the iteration just done (DL4J's count)
 * @param epoch its epoch
 * @param worker the ParallelWrapper worker (0 without one)
 * @param loss the minibatch loss DL4J reports for it ({@code model.score()})
 * @param learningRate the updater's learning rate at this iteration and epoch (NaN when the updater has none)
 * @param updateNorm ‖θ_after − θ_before‖₂ of this iteration's update (NaN at a worker's first iteration)
 */
public record IterationScalars(
        int iteration, int epoch, int worker, double loss, double learningRate, double updateNorm) {

    /** Record keys, in this order, where the scalars are written as a row or a JSON object. */
    public static final String[] KEYS = {"iteration", "epoch", "worker", "loss", "learning_rate", "update_norm"};

    /** These scalars as a record with {@link #KEYS} (non-finite values stored as null). */
    public ProbeRecord toRecord() {
        return ProbeRecord.builder()
                .put(KEYS[0], iteration)
                .put(KEYS[1], epoch)
                .put(KEYS[2], worker)
                .put(KEYS[3], loss)
                .put(KEYS[4], learningRate)
                .put(KEYS[5], updateNorm)
                .build();
    }
}
