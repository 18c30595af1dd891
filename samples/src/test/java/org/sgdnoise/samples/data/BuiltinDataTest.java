package org.sgdnoise.samples.data;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.dataset.DataSet;
import org.sgdnoise.data.FashionMnist;

/** The built-in Fashion-MNIST sample (moved here from IdxTest when the IDX reader moved to the plugin). */
class BuiltinDataTest {

    @Test
    void builtinSampleLoadsAsOneHotImages() {
        FashionMnist.Data d = BuiltinData.load();
        assertThat(d.train().numExamples()).isEqualTo(2000);
        assertThat(d.test().numExamples()).isEqualTo(500);
        DataSet t = d.train();
        assertThat(t.getFeatures().shape()).containsExactly(2000, 784);
        assertThat(t.getLabels().sum(1).minNumber().doubleValue()).isEqualTo(1.0);
        assertThat(t.getFeatures().maxNumber().doubleValue()).isLessThanOrEqualTo(1.0);
        // All ten classes appear in the sample.
        assertThat(t.getLabels().sum(0).minNumber().doubleValue()).isGreaterThan(100);
    }

    @Test
    @Tag("real-data")
    void systemFashionMnistMatchesTheBuiltinSample() {
        assumeTrue(FashionMnist.isPresent(FashionMnist.SYSTEM_DIR), "dataset-fashion-mnist is not installed");
        FashionMnist.Data sys = FashionMnist.load(FashionMnist.SYSTEM_DIR, 2000, 500);
        FashionMnist.Data builtin = BuiltinData.load();
        assertThat(sys.train().getFeatures().equals(builtin.train().getFeatures()))
                .isTrue();
        assertThat(sys.test().getLabels().equals(builtin.test().getLabels())).isTrue();
        FashionMnist.Data all = FashionMnist.load(FashionMnist.SYSTEM_DIR, Integer.MAX_VALUE, Integer.MAX_VALUE);
        assertThat(all.train().numExamples()).isEqualTo(60000);
        assertThat(all.test().numExamples()).isEqualTo(10000);
    }
}
