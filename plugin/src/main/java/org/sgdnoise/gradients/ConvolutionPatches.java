package org.sgdnoise.gradients;

import org.deeplearning4j.nn.conf.CNN2DFormat;
import org.deeplearning4j.nn.conf.ConvolutionMode;
import org.deeplearning4j.util.Convolution1DUtils;
import org.deeplearning4j.util.ConvolutionUtils;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.convolution.Convolution;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.INDArrayIndex;
import org.nd4j.linalg.indexing.NDArrayIndex;

/**
 * The arguments of im2col and col2im for one layer and input: kernel, stride, top/left padding and
 * dilation, whether im2col pads as in Same mode, and the sizes of the image and of the patch grid.
 */
record ConvolutionPatches(
        int[] kernel, int[] stride, int[] pad, int[] dilation, boolean same, long inH, long inW, int outH, int outW) {

    /** A 2-D convolution over x [k, C, H, W], as DL4J's ConvolutionLayer computes its output size. */
    static ConvolutionPatches conv2d(org.deeplearning4j.nn.conf.layers.ConvolutionLayer conf, INDArray x) {
        int[] kernel = conf.getKernelSize();
        int[] stride = conf.getStride();
        int[] dilation = conf.getDilation();
        ConvolutionMode mode = conf.getConvolutionMode();
        boolean same = mode == ConvolutionMode.Same;
        int[] out = ConvolutionUtils.getOutputSize(
                x, kernel, stride, same ? null : conf.getPadding(), mode, dilation, CNN2DFormat.NCHW);
        int[] pad = same
                ? ConvolutionUtils.getSameModeTopLeftPadding(
                        out, new int[] {(int) x.size(2), (int) x.size(3)}, kernel, stride, dilation)
                : conf.getPadding();
        return new ConvolutionPatches(kernel, stride, pad, dilation, same, x.size(2), x.size(3), out[0], out[1]);
    }

    /**
     * A 1-D convolution over x [k, C, T] as one over [k, C, 1, T], the way libnd4j's conv1d runs it; Causal
     * mode pads (k − 1)·d on the left only (the patch grid stops before any right padding).
     */
    static ConvolutionPatches conv1d(org.deeplearning4j.nn.conf.layers.Convolution1DLayer conf, long steps) {
        int kernel = conf.getKernelSize()[0];
        int stride = conf.getStride()[0];
        int dilation = conf.getDilation()[0];
        ConvolutionMode mode = conf.getConvolutionMode();
        int padding = mode == ConvolutionMode.Same || mode == ConvolutionMode.Causal ? 0 : conf.getPadding()[0];
        int out = (int) Convolution1DUtils.getOutputSize(steps, kernel, stride, padding, mode, dilation);
        int pad = switch (mode) {
            case Same -> Convolution1DUtils.getSameModeTopLeftPadding(out, (int) steps, kernel, stride, dilation);
            case Causal -> (kernel - 1) * dilation;
            default -> padding;
        };
        return new ConvolutionPatches(
                new int[] {1, kernel},
                new int[] {1, stride},
                new int[] {0, pad},
                new int[] {1, dilation},
                mode == ConvolutionMode.Same,
                1,
                steps,
                1,
                out);
    }

    /**
     * The patches of a deconvolution's output (they map it back onto the input grid): the image is the
     * output, the patch grid the input x [k, C, H, W]. Same mode pads as libnd4j's deconv2d does, with the
     * roles of input and output swapped: {@code ((in − 1)·s + (k − 1)·d + 1 − out) / 2}.
     */
    static ConvolutionPatches deconv2d(org.deeplearning4j.nn.conf.layers.ConvolutionLayer conf, INDArray x) {
        int[] kernel = conf.getKernelSize();
        int[] stride = conf.getStride();
        int[] dilation = conf.getDilation();
        ConvolutionMode mode = conf.getConvolutionMode();
        boolean same = mode == ConvolutionMode.Same;
        int[] out = ConvolutionUtils.getDeconvolutionOutputSize(
                x, kernel, stride, same ? null : conf.getPadding(), mode, dilation, CNN2DFormat.NCHW);
        int[] in = {(int) x.size(2), (int) x.size(3)};
        int[] pad = same
                ? ConvolutionUtils.getSameModeTopLeftPadding(in, out, kernel, stride, dilation)
                : conf.getPadding();
        return new ConvolutionPatches(kernel, stride, pad, dilation, false, out[0], out[1], in[0], in[1]);
    }

    long positions() {
        return (long) outH * outW;
    }

    long taps() {
        return (long) kernel[0] * kernel[1];
    }

    /** The reach of the dilated kernel along dimension d (0 height, 1 width). */
    private long reach(int d) {
        return (kernel[d] - 1L) * dilation[d] + 1;
    }

    /** The patch grid's size along dimension d. */
    private long grid(int d) {
        return d == 0 ? outH : outW;
    }

    /**
     * True when im2col's own grid (padding on both sides) is the patch grid. Otherwise (Causal mode, a
     * deconvolution's Same mode) the grid ends before the bottom/right padding, which im2col rejects: the
     * image is then padded explicitly to {@link #padded} and read without padding.
     */
    private boolean direct() {
        if (same) {
            return true;
        }
        for (int d = 0; d < 2; d++) {
            long in = d == 0 ? inH : inW;
            if ((in + 2L * pad[d] - reach(d)) / stride[d] + 1 != grid(d)) {
                return false;
            }
        }
        return true;
    }

    /** The size along dimension d that the patch grid covers exactly, padding included. */
    private long padded(int d) {
        return (grid(d) - 1) * stride[d] + reach(d);
    }

    /** The image's part that lies inside the explicitly padded image: [0, fit) along each dimension. */
    private INDArrayIndex[] fit(boolean inPadded) {
        long h = Math.min(inH, padded(0) - pad[0]);
        long w = Math.min(inW, padded(1) - pad[1]);
        return new INDArrayIndex[] {
            NDArrayIndex.all(),
            NDArrayIndex.all(),
            inPadded ? NDArrayIndex.interval(pad[0], pad[0] + h) : NDArrayIndex.interval(0, h),
            inPadded ? NDArrayIndex.interval(pad[1], pad[1] + w) : NDArrayIndex.interval(0, w)
        };
    }

    /** The patches of images [k, C, inH, inW]: [k, C, kH, kW, outH, outW], c-order. */
    INDArray im2col(INDArray images) {
        INDArray cols = Nd4j.createUninitialized(
                images.dataType(), new long[] {images.size(0), images.size(1), kernel[0], kernel[1], outH, outW}, 'c');
        boolean direct = direct();
        INDArray source = images;
        if (!direct) {
            source = Nd4j.create(images.dataType(), images.size(0), images.size(1), padded(0), padded(1));
            source.get(fit(true)).assign(images.get(fit(false)));
        }
        Convolution.im2col(
                source,
                kernel[0],
                kernel[1],
                stride[0],
                stride[1],
                direct ? pad[0] : 0,
                direct ? pad[1] : 0,
                dilation[0],
                dilation[1],
                same,
                cols);
        return cols;
    }

    /** Sums patch values [k, C·kH·kW, P] (any shape of that length, c-order) back onto [k, C, inH, inW]. */
    INDArray col2im(INDArray cols, long k, long channels) {
        boolean direct = direct();
        long h = direct ? inH : padded(0);
        long w = direct ? inW : padded(1);
        INDArray image = Nd4j.create(cols.dataType(), k, channels, h, w);
        Convolution.col2im(
                cols.reshape('c', k, channels, kernel[0], kernel[1], outH, outW),
                image,
                stride[0],
                stride[1],
                direct ? pad[0] : 0,
                direct ? pad[1] : 0,
                (int) h,
                (int) w,
                dilation[0],
                dilation[1]);
        if (direct) {
            return image;
        }
        INDArray cropped = Nd4j.create(cols.dataType(), k, channels, inH, inW);
        cropped.get(fit(false)).assign(image.get(fit(true)));
        image.close();
        return cropped;
    }
}
