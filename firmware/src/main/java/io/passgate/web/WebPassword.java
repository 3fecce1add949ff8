package io.passgate.web;

import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.Base64;

import javax.crypto.SecretKeyFactory;
import javax.crypto.spec.PBEKeySpec;

/**
 * The status page's admin password, stored as one string in {@code web.password-hash}:
 * {@code pbkdf2-sha256:ITERATIONS:SALT:HASH} (salt 16 random bytes, hash 32 bytes, both base64), PBKDF2 with
 * HMAC-SHA256 from the JDK: salted and slow, so a copy of the config file does not give the password away
 * cheaply. {@code none}: no password, the page is read-only.
 */
public final class WebPassword
{
    public static final String NONE = "none";
    /** OWASP's 2023 figure for PBKDF2-HMAC-SHA256 (0.14 to 0.33 s per check on the development machine). */
    public static final int ITERATIONS = 600_000;
    /** The fewest iterations a stored hash may have. */
    public static final int MIN_ITERATIONS = 100_000;
    private static final String SCHEME = "pbkdf2-sha256";
    private static final SecureRandom RANDOM = new SecureRandom();

    private final int iterations;
    private final byte[] salt;
    private final byte[] hash;

    private WebPassword(final int iterations, final byte[] salt, final byte[] hash)
    {
        this.iterations = iterations;
        this.salt = salt;
        this.hash = hash;
    }

    /** A new hash string for {@code password} with a fresh salt. */
    public static String hash(final char[] password, final int iterations)
    {
        if (iterations < MIN_ITERATIONS)
        {
            throw new IllegalArgumentException("at least " + MIN_ITERATIONS + " iterations");
        }
        final byte[] salt = new byte[16];
        RANDOM.nextBytes(salt);
        final Base64.Encoder b64 = Base64.getEncoder().withoutPadding();
        return SCHEME + ":" + iterations + ":" + b64.encodeToString(salt) + ":"
            + b64.encodeToString(derive(password, salt, iterations));
    }

    /**
     * Parses a stored hash; null for {@code none}. Throws IllegalArgumentException saying what is wrong.
     */
    public static WebPassword parse(final String stored)
    {
        if (stored == null || stored.equals(NONE))
        {
            return null;
        }
        final String[] f = stored.split(":");
        if (f.length != 4 || !f[0].equals(SCHEME))
        {
            throw new IllegalArgumentException("must be none or pbkdf2-sha256:ITERATIONS:SALT:HASH as passgatectl "
                + "web-password prints it");
        }
        final int iterations;
        final byte[] salt;
        final byte[] hash;
        try
        {
            iterations = Integer.parseInt(f[1]);
            salt = Base64.getDecoder().decode(f[2]);
            hash = Base64.getDecoder().decode(f[3]);
        }
        catch (final IllegalArgumentException e)
        {
            throw new IllegalArgumentException("malformed pbkdf2-sha256 hash (" + e.getMessage() + ")");
        }
        if (iterations < MIN_ITERATIONS || salt.length < 16 || hash.length != 32)
        {
            throw new IllegalArgumentException("hash too weak or truncated: at least " + MIN_ITERATIONS
                + " iterations, a 16-byte salt and a 32-byte hash");
        }
        return new WebPassword(iterations, salt, hash);
    }

    /** Whether {@code password} is this one (constant time in the comparison). */
    public boolean matches(final char[] password)
    {
        return MessageDigest.isEqual(hash, derive(password, salt, iterations));
    }

    private static byte[] derive(final char[] password, final byte[] salt, final int iterations)
    {
        final PBEKeySpec spec = new PBEKeySpec(password, salt, iterations, 256);
        try
        {
            return SecretKeyFactory.getInstance("PBKDF2WithHmacSHA256").generateSecret(spec).getEncoded();
        }
        catch (final GeneralSecurityException e)
        {
            throw new IllegalStateException("PBKDF2WithHmacSHA256 missing from this JDK", e);
        }
        finally
        {
            spec.clearPassword();
        }
    }
}
