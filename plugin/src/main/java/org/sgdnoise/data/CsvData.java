package org.sgdnoise.data;

import java.io.BufferedReader;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.sgdnoise.UserInputException;

/**
 * Reads a classification data set from CSV: numeric features, then an integer class label (0-based) in
 * the last column; an optional header line (any line whose first cell is not a number) is skipped.
 */
public final class CsvData {

    private CsvData() {}

    /**
     * Reads at most {@code limit} rows.
     *
     * @param file the CSV file
     * @param classes the number of classes (labels must lie in [0, classes))
     * @param limit the most rows to keep (the first ones), at least 1
     * @param dataType the data type of the features and labels
     * @throws UserInputException for a missing file, ragged rows, non-numbers or labels out of range
     * @throws IllegalArgumentException when {@code limit} is below 1
     */
    public static DataSet read(Path file, int classes, int limit, DataType dataType) {
        if (limit < 1) {
            throw new IllegalArgumentException("limit must be >= 1, got " + limit);
        }
        if (!Files.isRegularFile(file)) {
            throw new UserInputException("data file " + file + " does not exist");
        }
        List<double[]> features = new ArrayList<>();
        List<Integer> labels = new ArrayList<>();
        int width = -1;
        try (BufferedReader in = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            String line;
            int lineNo = 0;
            while ((line = in.readLine()) != null && features.size() < limit) {
                lineNo++;
                if (line.isBlank()) {
                    continue;
                }
                String[] cells = line.split(",", -1);
                if (isHeader(lineNo, line)) {
                    continue; // header
                }
                if (width < 0) {
                    width = width(file.toString(), lineNo, cells);
                }
                Example e = parse(file.toString(), lineNo, cells, width, classes);
                features.add(e.features());
                labels.add(e.label());
            }
        } catch (IOException e) {
            throw new UserInputException("cannot read " + file + ": " + e.getMessage(), e);
        }
        if (features.isEmpty()) {
            throw new UserInputException(file + " holds no data rows");
        }
        double[][] y = new double[labels.size()][classes];
        for (int i = 0; i < y.length; i++) {
            y[i][labels.get(i)] = 1;
        }
        return new DataSet(
                Nd4j.createFromArray(features.toArray(new double[0][])).castTo(dataType),
                Nd4j.createFromArray(y).castTo(dataType));
    }

    /**
     * One data row: its features and its class.
     *
     * @param features the feature values
     * @param label the class, 0-based
     */
    public record Example(double[] features, int label) {}

    /** True when {@code line} is the optional header: the first line, with a first cell that is not a number. */
    public static boolean isHeader(long lineNo, String line) {
        return lineNo == 1 && !isNumber(line.split(",", -1)[0].trim());
    }

    /**
     * The width of the first data row, which every row must have.
     *
     * @throws UserInputException when it has fewer than two cells (a feature and a label)
     */
    public static int width(String name, long lineNo, String[] cells) {
        if (cells.length < 2) {
            throw new UserInputException(name + ": line " + lineNo + " needs at least one feature and a label");
        }
        return cells.length;
    }

    /**
     * Parses one data row of {@code width} cells: features, then an integer label in [0, classes).
     *
     * @param name the file's name, and {@code lineNo} its 1-based line, for messages
     * @throws UserInputException for a row of another width, a non-number or a label out of range
     */
    public static Example parse(String name, long lineNo, String[] cells, int width, int classes) {
        if (cells.length != width) {
            throw new UserInputException(
                    name + ": line " + lineNo + " has " + cells.length + " columns, expected " + width);
        }
        double[] x = new double[width - 1];
        for (int j = 0; j < width - 1; j++) {
            x[j] = parse(name, lineNo, j, cells[j]);
        }
        double label = parse(name, lineNo, width - 1, cells[width - 1]);
        if (label != Math.rint(label) || label < 0 || label >= classes) {
            throw new UserInputException(name + ": line " + lineNo + ": label " + cells[width - 1].trim()
                    + " is not a class in [0, " + classes + ")");
        }
        return new Example(x, (int) label);
    }

    /** True when the trimmed cell parses as a number (used to tell a header line from data). */
    public static boolean isNumber(String s) {
        try {
            Double.parseDouble(s);
            return true;
        } catch (NumberFormatException e) {
            return false;
        }
    }

    /**
     * Parses one cell as a finite number.
     *
     * @throws UserInputException naming the file, line and column
     */
    public static double parse(Path file, int line, int col, String cell) {
        return parse(file.toString(), line, col, cell);
    }

    /**
     * Parses one cell as a finite number.
     *
     * @param name the file's name, for the message
     * @throws UserInputException naming the file, line and column
     */
    public static double parse(String name, long line, int col, String cell) {
        try {
            double v = Double.parseDouble(cell.trim());
            if (!Double.isFinite(v)) {
                throw new NumberFormatException();
            }
            return v;
        } catch (NumberFormatException e) {
            throw new UserInputException(name + ": line " + line + ", column " + (col + 1) + ": '" + cell.trim()
                    + "' is not a finite number");
        }
    }
}
