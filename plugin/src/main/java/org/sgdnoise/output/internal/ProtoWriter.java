package org.sgdnoise.output.internal;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * Encodes one protocol-buffers message in the wire format, field by field, for the few field types TensorBoard's
 * event files need: varint ({@code int64}), 64-bit ({@code double}), 32-bit ({@code float}) and length-delimited
 * (strings, nested messages, packed {@code repeated double}). Fields are written in the order they are added, each
 * one even when it holds its default value (a proto3 reader accepts both). Not thread-safe.
 *
 * <p>A key is {@code (field << 3) | wireType}, as a varint; a varint holds 7 bits per byte, least significant first,
 * the high bit set on every byte but the last; fixed-width values are little-endian.
 */
public final class ProtoWriter {

    private static final int VARINT = 0;
    private static final int FIXED64 = 1;
    private static final int LENGTH_DELIMITED = 2;
    private static final int FIXED32 = 5;

    private byte[] buf = new byte[64];
    private int size;

    /** Adds an {@code int64} field (a negative value takes ten bytes, as in protobuf). */
    public ProtoWriter int64(int field, long value) {
        key(field, VARINT);
        varint(value);
        return this;
    }

    /** Adds a {@code double} field. */
    public ProtoWriter float64(int field, double value) {
        key(field, FIXED64);
        fixed64(Double.doubleToRawLongBits(value));
        return this;
    }

    /** Adds a {@code float} field. */
    public ProtoWriter float32(int field, float value) {
        key(field, FIXED32);
        int bits = Float.floatToRawIntBits(value);
        ensure(4);
        for (int i = 0; i < 4; i++) {
            buf[size++] = (byte) (bits >>> (8 * i));
        }
        return this;
    }

    /** Adds a {@code string} field, UTF-8 encoded. */
    public ProtoWriter string(int field, String value) {
        return bytes(field, value.getBytes(StandardCharsets.UTF_8));
    }

    /** Adds a nested message field. */
    public ProtoWriter message(int field, ProtoWriter message) {
        return bytes(field, message.toByteArray());
    }

    /** Adds a packed {@code repeated double} field (omitted when {@code values} is empty, as protobuf does). */
    public ProtoWriter packedDoubles(int field, double[] values) {
        if (values.length == 0) {
            return this;
        }
        key(field, LENGTH_DELIMITED);
        varint(8L * values.length);
        for (double v : values) {
            fixed64(Double.doubleToRawLongBits(v));
        }
        return this;
    }

    /** The message's bytes so far. */
    public byte[] toByteArray() {
        return Arrays.copyOf(buf, size);
    }

    private ProtoWriter bytes(int field, byte[] value) {
        key(field, LENGTH_DELIMITED);
        varint(value.length);
        ensure(value.length);
        System.arraycopy(value, 0, buf, size, value.length);
        size += value.length;
        return this;
    }

    private void key(int field, int wireType) {
        if (field < 1) {
            throw new IllegalArgumentException("field must be >= 1, got " + field);
        }
        varint(((long) field << 3) | wireType);
    }

    private void varint(long value) {
        ensure(10);
        while ((value & ~0x7FL) != 0) {
            buf[size++] = (byte) ((value & 0x7F) | 0x80);
            value >>>= 7;
        }
        buf[size++] = (byte) value;
    }

    private void fixed64(long bits) {
        ensure(8);
        for (int i = 0; i < 8; i++) {
            buf[size++] = (byte) (bits >>> (8 * i));
        }
    }

    private void ensure(int more) {
        if (size + more > buf.length) {
            buf = Arrays.copyOf(buf, Math.max(2 * buf.length, size + more));
        }
    }
}
