package org.sgdnoise.output;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * One record: an ordered set of named values (numbers, strings, booleans, {@code double[]},
 * {@code String[]}, or null),
 * written as one JSON object or one CSV row. Immutable.
 */
public final class ProbeRecord {

    private final Map<String, Object> fields;

    private ProbeRecord(Map<String, Object> fields) {
        this.fields = Collections.unmodifiableMap(new LinkedHashMap<>(fields));
    }

    /** A new, empty builder. */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * The fields in insertion order (unmodifiable; the arrays in it are the record's own and must not be changed:
     * sinks read them, use {@link #get} for a copy).
     */
    public Map<String, Object> fields() {
        return fields;
    }

    /** One field's value, or null; an array is returned as a copy. */
    public Object get(String key) {
        Object v = fields.get(key);
        return v instanceof double[] a ? a.clone() : v instanceof String[] sa ? sa.clone() : v;
    }

    /** This record as one line of JSON (no newline). */
    public String toJson() {
        return Json.write(fields);
    }

    @Override
    public String toString() {
        return toJson();
    }

    /** Collects fields in order. */
    public static final class Builder {
        private final Map<String, Object> fields = new LinkedHashMap<>();

        private Builder() {}

        /**
         * Adds a field. Non-finite doubles are stored as null (JSON has no NaN).
         *
         * @throws IllegalArgumentException for a duplicate key or an unsupported value type
         */
        public Builder put(String key, Object value) {
            if (fields.containsKey(key)) {
                throw new IllegalArgumentException("duplicate record key " + key);
            }
            if (value instanceof Double dv && !Double.isFinite(dv)) {
                value = null;
            }
            if (value instanceof Float fv && !Float.isFinite(fv)) {
                value = null;
            }
            if (value != null
                    && !(value instanceof Number
                            || value instanceof String
                            || value instanceof Boolean
                            || value instanceof double[]
                            || value instanceof String[])) {
                throw new IllegalArgumentException("unsupported record value for " + key + ": " + value.getClass());
            }
            fields.put(
                    key, value instanceof double[] a ? a.clone() : value instanceof String[] sa ? sa.clone() : value);
            return this;
        }

        /** The record. */
        public ProbeRecord build() {
            return new ProbeRecord(fields);
        }
    }
}
