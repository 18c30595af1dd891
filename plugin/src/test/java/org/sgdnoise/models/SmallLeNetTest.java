package org.sgdnoise.models;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;
import org.sgdnoise.gradients.ParameterLayout;

class SmallLeNetTest {

    @Test
    void hasThePapersParameterCount() {
        var net = SmallLeNet.build(1, 0.1, 0.9);
        // theory.md §2: small-lenet, d = 13,338 (BN running statistics excluded).
        assertThat(ParameterLayout.of(net).numParams()).isEqualTo(13_338);
        assertThat(net.numParams()).isEqualTo(13_338 + 2 * (8 + 16 + 128));
    }
}
