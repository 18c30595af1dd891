/** Records and the sinks that write them (JSON Lines, CSV). Sinks flush whole records. */
package org.sgdnoise.output;
