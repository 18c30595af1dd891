package org.sgdnoise.samples;

/** A problem with the user's input (options, files): printed as one line, exit code 2. */
public final class UserInputException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public UserInputException(String message) {
        super(message);
    }

    public UserInputException(String message, Throwable cause) {
        super(message, cause);
    }

    /** Throws a UserInputException with {@code message} unless {@code ok}. */
    public static void require(boolean ok, String message) {
        if (!ok) {
            throw new UserInputException(message);
        }
    }
}
