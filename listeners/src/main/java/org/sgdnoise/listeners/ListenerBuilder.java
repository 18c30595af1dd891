package org.sgdnoise.listeners;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.sgdnoise.output.CsvSink;
import org.sgdnoise.output.JsonlSink;
import org.sgdnoise.output.RecordSink;

/**
 * The options both listeners' builders share, with one name each: where records go ({@code sink},
 * {@code jsonlSink}, {@code csvSink}), the failure policy ({@code failFast}, {@code disableAfter}) and the
 * overhead budget ({@code overheadBudget}).
 *
 * @param <B> the concrete builder
 */
abstract class ListenerBuilder<B extends ListenerBuilder<B>> {

    final List<RecordSink> sinks = new ArrayList<>();
    boolean failFast;
    int disableAfter = Failures.DEFAULT_DISABLE_AFTER;
    double overheadBudget = OverheadBudget.DEFAULT_FRACTION;

    abstract B self();

    /** Adds a sink for the records: any {@link RecordSink}, for example a lambda {@code records::add}. */
    public B sink(RecordSink sink) {
        sinks.add(Options.notNull("sink", sink));
        return self();
    }

    /** Adds a JSON Lines sink writing to {@code path} (replaced; created with its folders at the first record). */
    public B jsonlSink(Path path) {
        return sink(new JsonlSink(Options.notNull("jsonlSink path", path), false));
    }

    /** Adds a CSV sink writing to {@code path} (replaced; created with its folders at the first record). */
    public B csvSink(Path path) {
        return sink(new CsvSink(Options.notNull("csvSink path", path)));
    }

    /** Throw the first failure into fit() (default false: log once, count and go on). */
    public B failFast(boolean failFast) {
        this.failFast = failFast;
        return self();
    }

    /**
     * After this many failures in a row the listener switches itself off for the rest of training, with one WARN
     * line (default 10; 0: never). A success resets the count.
     */
    public B disableAfter(int failuresInARow) {
        this.disableAfter = Failures.checkDisableAfter(failuresInARow);
        return self();
    }

    /**
     * The share of training time this listener may take (default 0.01, so both listeners together stay within 2%).
     * The listener measures its own time against the training time between its calls and, when over the budget, acts less
     * often: every n·2<sup>j</sup> iterations, never more often than configured. Its records say the interval in
     * force and the measured share, and one INFO line says when it first stretches. 0 turns the budget off: the
     * listener acts exactly at the configured interval.
     *
     * @param fraction in [0, 1)
     */
    public B overheadBudget(double fraction) {
        this.overheadBudget = OverheadBudget.checkFraction(fraction);
        return self();
    }
}
