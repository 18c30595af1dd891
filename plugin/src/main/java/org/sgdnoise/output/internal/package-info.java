/** Not API: whole-line file writing ({@link LineFile}), whose byte position lets a resumed run cut a file back. */
package org.sgdnoise.output.internal;
