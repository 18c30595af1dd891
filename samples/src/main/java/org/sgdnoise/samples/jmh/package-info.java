/**
 * JMH microbenchmarks of the engine: per-example gradients (batched path as rows and as factors, against
 * DL4J's batched gradient), the Gram matrix from factors and from rows, and the Frequent Directions sketch
 * (insert, shrink, a probe into a DiffusionSketch).
 *
 * <p>They are compiled into the samples jar (JMH's annotation processor writes {@code META-INF/BenchmarkList});
 * run them with JMH's own launcher through the jar's manifest class path:
 * <pre>{@code
 * mvn -q -pl samples -am package -DskipTests
 * OMP_NUM_THREADS=1 java -cp samples/target/sgdnoise-samples.jar org.openjdk.jmh.Main -f 1 -wi 3 -i 5 Sketch
 * }</pre>
 * Each class's Javadoc names its parameters. Times are per operation (one probe of k examples, one Gram
 * matrix, one insert or shrink), average time in milliseconds. The end-to-end overhead of the listeners on
 * training stays in the {@code bench} command, and the sketch's memory and GFLOP/s in {@code bench-sketch}.
 * Benchmarks run single-threaded in forked JVMs; on a shared machine set {@code OMP_NUM_THREADS}.
 */
package org.sgdnoise.samples.jmh;
