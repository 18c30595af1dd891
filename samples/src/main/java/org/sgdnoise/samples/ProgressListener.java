package org.sgdnoise.samples;

import java.util.Locale;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.optimize.api.BaseTrainingListener;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Logs training progress about every 10% of the planned iterations, with the loss and an ETA. */
final class ProgressListener extends BaseTrainingListener {

    private static final Logger log = LoggerFactory.getLogger("sgdnoise.progress");

    private final long total;
    private final long every;
    private final long start = System.nanoTime();
    private long done; // iterations seen by this listener (a model may arrive with iterations behind it)

    ProgressListener(long totalIterations) {
        this.total = Math.max(1, totalIterations);
        this.every = Math.max(1, total / 10);
    }

    @Override
    public void iterationDone(Model model, int iteration, int epoch) {
        done++;
        if (done % every != 0 && done != total) {
            return;
        }
        double elapsed = (System.nanoTime() - start) / 1e9;
        double eta = elapsed / done * (total - done);
        log.info(String.format(
                Locale.ROOT,
                "progress %3.0f%% (iteration %d/%d, epoch %d) loss %.4f, elapsed %.1f s, ETA %.1f s",
                100.0 * done / total,
                done,
                total,
                epoch,
                model.score(),
                elapsed,
                Math.max(0, eta)));
    }
}
