/** Not API: whole-line file writing ({@link org.sgdnoise.output.internal.LineFile}), whose byte position lets a resumed run cut a file back. */
package org.sgdnoise.output.internal;
