package org.sgdnoise.samples.cli;

import java.nio.file.Path;
import java.util.concurrent.Callable;
import org.sgdnoise.samples.report.Report;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code report}: one self-contained HTML page, the dashboard's, from a run's output folder. */
@Command(
        name = "report",
        mixinStandardHelpOptions = true,
        description = {
            "Renders a run's output folder (quickstart, spectrum, compare-sampling, trajectory files) "
                    + "as one self-contained HTML page, the live dashboard's page with the data embedded: loss, "
                    + "noise, rank and anisotropy against iteration, D's eigenvalue histogram with the rank "
                    + "threshold, the spectra during training overlaid, the layers' shares, the loop verdicts, the "
                    + "phase portrait of the most circulating plane, the sampling comparison, the final figures and "
                    + "the configuration."
        })
public final class ReportCommand implements Callable<Integer> {

    @Parameters(index = "0", paramLabel = "FOLDER", description = "the run's output folder")
    Path folder;

    @Option(names = "--out", description = "where report.html goes (default: FOLDER/report)")
    Path out;

    @Override
    public Integer call() throws Exception {
        Report.Result r = Report.run(folder, out != null ? out : folder.resolve("report"));
        System.out.println(r.html().toAbsolutePath());
        return 0;
    }
}
