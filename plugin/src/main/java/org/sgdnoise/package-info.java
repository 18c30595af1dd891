/**
 * Types shared by every sgdnoise package: {@link org.sgdnoise.UserInputException}, the exception for bad user
 * input (options, files, data), and its exit-code policy for command lines.
 */
package org.sgdnoise;
