package io.passgate.status;

/**
 * A status panel that cannot run on this machine as configured: its GPIO chip or one of its lines is
 * missing, or held by another process. The message names the board.* key. Unlike a bad setting
 * (IllegalArgumentException), the daemon may fall back to the virtual board for it ({@code board = auto},
 * or {@code board.on-error = virtual}).
 */
public final class PanelUnavailableException extends RuntimeException
{
    private static final long serialVersionUID = 1L;

    public PanelUnavailableException(final String message)
    {
        super(message);
    }

    public PanelUnavailableException(final String message, final Throwable cause)
    {
        super(message, cause);
    }
}
