package io.passgate.testing;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * A test that needs root (CAP_NET_ADMIN, network namespaces, nftables). Tagged {@code root}; skipped with
 * a reason when not root, unless {@code -Dpassgate.requireRoot=true} (the README's test command sets it),
 * where not being root is a failure, so a CI run can never pass by skipping.
 */
@Target({ElementType.TYPE, ElementType.METHOD})
@Retention(RetentionPolicy.RUNTIME)
@Tag("root")
@ExtendWith(RootCondition.class)
public @interface RequiresRoot
{
}
