package org.sgdnoise.gradients;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.conf.layers.BatchNormalization;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.layers.FrozenLayer;
import org.deeplearning4j.nn.layers.FrozenLayerWithBackprop;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.nn.params.BatchNormalizationParamInitializer;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.autodiff.samediff.VariableType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.indexing.NDArrayIndex;

/**
 * Which entries of a model's flat parameter vector are trained by gradients, as contiguous segments.
 *
 * <p>Excluded: BatchNormalization running mean, variance and log-standard-deviation (their "gradients"
 * are running-average updates) and the parameters of frozen layers. {@link #numParams()} is the d that
 * sgdnoise reports: the count of included entries. A SameDiff graph has no flat vector: its layout ({@link
 * #of(SameDiff)}) lays its trained variables end to end. Immutable.
 */
public final class ParameterLayout {

    private static final Set<String> BN_RUNNING = Set.of(
            BatchNormalizationParamInitializer.GLOBAL_MEAN,
            BatchNormalizationParamInitializer.GLOBAL_VAR,
            BatchNormalizationParamInitializer.GLOBAL_LOG_STD);

    /** One included run of the flat vector: {@code [offset, offset + length)}. */
    public record Segment(long offset, long length, String name) {}

    /** One layer's included parameters: columns {@code [start, start + length)} of a gathered row. */
    public record LayerRange(String layer, long start, long length) {}

    private final List<Segment> segments;
    private final List<Segment> named;
    private final List<LayerRange> layerRanges;
    private final Map<String, Long> columns;
    private final long totalParams;
    private final long numParams;

    private ParameterLayout(List<Segment> segments, long totalParams) {
        List<LayerRange> ranges = new ArrayList<>();
        Map<String, Long> cols = new HashMap<>();
        long pos = 0;
        for (Segment s : segments) {
            cols.put(s.name(), pos);
            String layer = layerOf(s.name());
            LayerRange last = ranges.isEmpty() ? null : ranges.get(ranges.size() - 1);
            if (last != null && last.layer().equals(layer) && last.start() + last.length() == pos) {
                ranges.set(ranges.size() - 1, new LayerRange(layer, last.start(), last.length() + s.length()));
            } else {
                ranges.add(new LayerRange(layer, pos, s.length()));
            }
            pos += s.length();
        }
        this.layerRanges = List.copyOf(ranges);
        this.columns = Map.copyOf(cols);
        this.named = List.copyOf(segments);
        segments = merge(segments);
        this.segments = List.copyOf(segments);
        this.totalParams = totalParams;
        this.numParams = segments.stream().mapToLong(Segment::length).sum();
    }

    /**
     * Reads the layout of a {@link MultiLayerNetwork} or {@link ComputationGraph}.
     *
     * @throws IllegalArgumentException for other model types, or when the parameter views do not tile the
     *     flat parameter vector
     */
    public static ParameterLayout of(Model model) {
        Layer[] layers;
        if (model instanceof MultiLayerNetwork net) {
            layers = net.getLayers();
        } else if (model instanceof ComputationGraph cg) {
            layers = cg.getLayers();
        } else {
            throw new IllegalArgumentException("model must be a MultiLayerNetwork or ComputationGraph, got "
                    + (model == null ? "null" : model.getClass().getName()));
        }
        INDArray flat = model.params();
        long base = flat.offset();
        List<Segment> all = new ArrayList<>();
        List<Boolean> keep = new ArrayList<>();
        for (Layer layer : layers) {
            boolean frozen = layer instanceof FrozenLayer || layer instanceof FrozenLayerWithBackprop;
            boolean bn = layer.conf() != null && layer.conf().getLayer() instanceof BatchNormalization;
            for (Map.Entry<String, INDArray> e : layer.paramTable().entrySet()) {
                INDArray v = e.getValue();
                if (v.length() == 0) {
                    continue;
                }
                String name = layerName(layer) + "/" + e.getKey();
                all.add(new Segment(v.offset() - base, v.length(), name));
                keep.add(!frozen && !(bn && BN_RUNNING.contains(e.getKey())));
            }
        }
        // Validate that the views tile [0, total) exactly, whatever order the model flattens in.
        List<Integer> order = new ArrayList<>();
        for (int i = 0; i < all.size(); i++) {
            order.add(i);
        }
        order.sort(Comparator.comparingLong(i -> all.get(i).offset()));
        long expected = 0;
        List<Segment> included = new ArrayList<>();
        for (int i : order) {
            Segment s = all.get(i);
            if (s.offset() != expected) {
                throw new IllegalArgumentException("parameter views do not tile the flat parameter vector at "
                        + s.name() + ": offset " + s.offset() + ", expected " + expected);
            }
            expected += s.length();
            if (keep.get(i)) {
                included.add(s);
            }
        }
        if (expected != flat.length()) {
            throw new IllegalArgumentException(
                    "parameter views cover " + expected + " of " + flat.length() + " parameters");
        }
        return new ParameterLayout(included, flat.length());
    }

    /**
     * The layout of a SameDiff graph: its floating-point VARIABLEs (the trained parameters; constants and
     * placeholders are not) in the order of their names, each flattened in 'c' order, end to end. A variable
     * {@code "a/b/W"} belongs to the layer {@code "a/b"}, a name without '/' is a layer of its own.
     *
     * @throws IllegalArgumentException when the graph has no floating-point VARIABLE
     */
    public static ParameterLayout of(SameDiff sd) {
        List<String> names = new ArrayList<>();
        for (SDVariable v : sd.variables()) {
            if (v.getVariableType() == VariableType.VARIABLE && v.dataType().isFPType()) {
                names.add(v.name());
            }
        }
        if (names.isEmpty()) {
            throw new IllegalArgumentException("the graph has no floating-point VARIABLE to differentiate");
        }
        names.sort(null);
        List<Segment> segs = new ArrayList<>();
        long pos = 0;
        for (String n : names) {
            long len = sd.getVariable(n).getArr().length();
            segs.add(new Segment(pos, len, n));
            pos += len;
        }
        return new ParameterLayout(segs, pos);
    }

    /** The layer of a parameter named {@code "layer/key"}: the part before the last '/', or the whole name. */
    public static String layerOf(String parameter) {
        int slash = parameter.lastIndexOf('/');
        return slash < 0 ? parameter : parameter.substring(0, slash);
    }

    /** Each parameter array's own segment, in order, unmerged: for a SameDiff layout, one per variable. */
    public List<Segment> parameters() {
        return named;
    }

    /**
     * Copies the current values of the variables of {@code sd} into {@code target}, a row of {@link #numParams()},
     * as laid out by {@link #of(SameDiff)}. Not modified: {@code sd}.
     */
    public void gather(SameDiff sd, INDArray target) {
        INDArray dst = target.reshape(target.length());
        for (Segment s : named) {
            INDArray v = sd.getVariable(s.name()).getArr();
            dst.get(NDArrayIndex.interval(s.offset(), s.offset() + s.length())).assign(v.reshape(v.length()));
        }
    }

    private static List<Segment> merge(List<Segment> in) {
        List<Segment> out = new ArrayList<>();
        for (Segment s : in) {
            if (!out.isEmpty()) {
                Segment last = out.get(out.size() - 1);
                if (last.offset() + last.length() == s.offset()) {
                    out.set(out.size() - 1, new Segment(last.offset(), last.length() + s.length(), last.name()));
                    continue;
                }
            }
            out.add(s);
        }
        return out;
    }

    /** The number of included entries: the d that every statistic refers to. */
    public long numParams() {
        return numParams;
    }

    /** The length of the model's whole flat parameter vector, excluded entries included. */
    public long totalParams() {
        return totalParams;
    }

    /** Each layer's columns in a gathered row, in flat order (layers without trained parameters omitted). */
    public List<LayerRange> layerRanges() {
        return layerRanges;
    }

    /**
     * The first column, in a gathered row, of one parameter array ({@code W}, {@code b}, ...) of a layer, or
     * -1 when it is excluded or absent. Its entries follow in the array's own flat order.
     *
     * @param layer the layer's name as in {@link LayerRange#layer()} (its configured name, else
     *     {@code "layer" + index})
     */
    public long column(String layer, String paramKey) {
        Long c = columns.get(layer + "/" + paramKey);
        return c == null ? -1 : c;
    }

    /** The name {@link #column} and {@link LayerRange} use for a layer. */
    public static String layerName(Layer layer) {
        String n = layer.conf() == null ? null : layer.conf().getLayer().getLayerName();
        return n != null ? n : "layer" + layer.getIndex();
    }

    /** The included runs, in flat order, adjacent runs merged. */
    public List<Segment> segments() {
        return segments;
    }

    /**
     * The position in the model's flat vector of included entry {@code i} (0 ≤ i &lt; {@link #numParams()}).
     */
    public long flatIndex(long i) {
        if (i < 0 || i >= numParams) {
            throw new IndexOutOfBoundsException("entry " + i + " of " + numParams);
        }
        long pos = i;
        for (Segment s : segments) {
            if (pos < s.length()) {
                return s.offset() + pos;
            }
            pos -= s.length();
        }
        throw new IllegalStateException("unreachable");
    }

    /** True when nothing is excluded. */
    public boolean isIdentity() {
        return numParams == totalParams;
    }

    /**
     * Copies the included entries of a flat vector (params or gradient, length {@link #totalParams()})
     * into {@code target}, a row of length {@link #numParams()}. Modified: {@code target}.
     */
    public void gather(INDArray flat, INDArray target) {
        INDArray src = flat.reshape(flat.length());
        INDArray dst = target.reshape(target.length());
        if (isIdentity()) {
            dst.assign(src);
            return;
        }
        long pos = 0;
        for (Segment s : segments) {
            dst.get(NDArrayIndex.interval(pos, pos + s.length()))
                    .assign(src.get(NDArrayIndex.interval(s.offset(), s.offset() + s.length())));
            pos += s.length();
        }
    }

    /**
     * The inverse of {@link #gather}: writes a row of length {@link #numParams()} into the included entries of
     * a flat vector of length {@link #totalParams()}; excluded entries are left as they are. Not modified:
     * {@code row}. Modified: {@code flat}.
     */
    public void scatter(INDArray row, INDArray flat) {
        INDArray src = row.reshape(row.length());
        INDArray dst = flat.reshape(flat.length());
        if (isIdentity()) {
            dst.assign(src);
            return;
        }
        long pos = 0;
        for (Segment s : segments) {
            dst.get(NDArrayIndex.interval(s.offset(), s.offset() + s.length()))
                    .assign(src.get(NDArrayIndex.interval(pos, pos + s.length())));
            pos += s.length();
        }
    }

    @Override
    public String toString() {
        return "ParameterLayout[d=" + numParams + " of " + totalParams + ", segments=" + segments.size() + "]";
    }
}
