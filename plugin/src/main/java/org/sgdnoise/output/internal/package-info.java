/**
 * Not API: whole-line file writing ({@link LineFile}), whose byte position lets a resumed run cut a file back; and
 * TensorBoard's event files without a protobuf dependency: the wire format ({@link ProtoWriter}), the few messages
 * ({@link EventSummary}), the eigenvalue histogram's bucket rule ({@link LogHistogram}) and the TFRecord framing
 * ({@link TfRecordFile}). None of these classes is thread-safe.
 */
package org.sgdnoise.output.internal;
