package org.sgdnoise.samples;

import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.function.Consumer;
import org.sgdnoise.UserInputException;
import org.sgdnoise.listeners.Dashboard;
import org.sgdnoise.output.RecordSink;
import org.sgdnoise.output.TensorBoardSink;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A training command's live outputs ({@code --tensorboard DIR}, {@code --dashboard PORT}): a TensorBoard sink for
 * each listener (both in DIR, each its own event file, one run folder per worker) and one dashboard both listeners
 * publish to. The listeners close their TensorBoard sinks; {@link #close} stops the dashboard.
 */
final class Monitors implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(Monitors.class);

    private final Path tensorboard;
    private final Dashboard dashboard;

    private Monitors(Path tensorboard, Dashboard dashboard) {
        this.tensorboard = tensorboard;
        this.dashboard = dashboard;
    }

    /**
     * Starts what is asked for: the dashboard on 127.0.0.1 (its URL logged and printed) and nothing yet for
     * TensorBoard (each listener gets its sink in {@link #addTo}).
     *
     * @param tensorboard a log directory, or null
     * @param dashboardPort a port (0: a free one), or null
     * @throws UserInputException when the port is in use or cannot be bound
     */
    static Monitors open(Path tensorboard, Integer dashboardPort) {
        Dashboard d = null;
        if (dashboardPort != null) {
            try {
                d = Dashboard.start(dashboardPort);
            } catch (IllegalArgumentException | UncheckedIOException e) {
                throw new UserInputException("dashboard: " + e.getMessage());
            }
            log.info("dashboard: {} (127.0.0.1 only; it stops when the command ends)", d.url());
            System.out.println("dashboard: " + d.url());
        }
        if (tensorboard != null) {
            log.info("tensorboard: event files under {} (tensorboard --logdir {})", tensorboard, tensorboard);
        }
        return new Monitors(tensorboard, d);
    }

    /** Adds this run's live sinks to a listener's builder: {@code monitors.addTo(builder::sink)}. */
    void addTo(Consumer<RecordSink> builder) {
        if (tensorboard != null) {
            builder.accept(new TensorBoardSink(tensorboard)); // one per listener: each its own event file
        }
        if (dashboard != null) {
            builder.accept(dashboard);
        }
    }

    /** The dashboard, or null. */
    Dashboard dashboard() {
        return dashboard;
    }

    @Override
    public void close() {
        if (dashboard != null) {
            dashboard.close();
        }
    }
}
