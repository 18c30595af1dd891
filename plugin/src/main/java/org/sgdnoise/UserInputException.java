package org.sgdnoise;

/**
 * A problem with what a user supplied (an option, a file, a data set), as opposed to a bug or a failure of the
 * machine; its message names the input, the constraint and the value found.
 *
 * <p>Command lines built on sgdnoise print it as one {@code error:} line and exit with {@link #EXIT_CODE}; see
 * {@link #find(Throwable)} for the policy. Library methods that read files or validate user-facing options
 * throw it, so that a program can tell bad input from a failure without parsing messages. It is an
 * {@link IllegalArgumentException}, so code that already handles those keeps working.
 */
public class UserInputException extends IllegalArgumentException {

    /** The exit code of a command line that stops on bad input: 2 (0 is success, 1 a failure). */
    public static final int EXIT_CODE = 2;

    private static final long serialVersionUID = 1L;

    /**
     * Bad input, described by {@code message}.
     *
     * @param message what is wrong: the input's name, the constraint and the value
     */
    public UserInputException(String message) {
        super(message);
    }

    /**
     * Bad input found through {@code cause} (an I/O or parse error, or a failure that wraps this one).
     *
     * @param message what is wrong: the input's name, the constraint and the value
     * @param cause the underlying exception
     */
    public UserInputException(String message, Throwable cause) {
        super(message, cause);
    }

    /**
     * Throws a UserInputException with {@code message} unless {@code ok}.
     *
     * @param ok the condition that the input meets
     * @param message what is wrong when it does not
     */
    public static void require(boolean ok, String message) {
        if (!ok) {
            throw new UserInputException(message);
        }
    }

    /**
     * The error policy of sgdnoise's command lines: the first UserInputException in the cause chain of
     * {@code failure} (itself included), or null when the failure is not bad input. A caller prints
     * {@code "error: " + found.getMessage()} and exits with {@link #EXIT_CODE} when one is found, and otherwise
     * logs the failure with its stack trace and exits with 1.
     *
     * @param failure any throwable, or null
     * @return the bad input that caused it, or null
     */
    public static UserInputException find(Throwable failure) {
        for (Throwable t = failure; t != null; t = t.getCause()) {
            if (t instanceof UserInputException u) {
                return u;
            }
            if (t.getCause() == t) {
                break;
            }
        }
        return null;
    }
}
