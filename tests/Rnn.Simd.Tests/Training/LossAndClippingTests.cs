using Rnn.Simd.Tests.Infrastructure;
using Rnn.Simd.Training;

namespace Rnn.Simd.Tests.Training;

[Trait("Category", "Training")]
public sealed class LossAndClippingTests
{
    [Theory]
    [InlineData(LossReduction.Mean)]
    [InlineData(LossReduction.Sum)]
    public void MeanSquaredError_ValueAndGradient_MatchTheDefinition(LossReduction reduction)
    {
        var random = new TestRandom(1);
        float[] y = random.Array(37), t = random.Array(37), g = new float[37];
        double loss = Losses.MeanSquaredError(y, t, g, reduction);
        double expected = y.Zip(t, (a, b) => ((double)a - b) * ((double)a - b)).Sum() / (reduction == LossReduction.Mean ? 37 : 1);
        Assert.Equal(expected, loss, 12);

        double Function(double[] p) => p.Select((v, i) => (v - t[i]) * (v - t[i])).Sum() / (reduction == LossReduction.Mean ? 37 : 1);
        GradientCheck.Result check = GradientCheck.Check(Function, [.. y.Select(v => (double)v)], [.. g.Select(v => (double)v)]);
        Assert.True(check.MaxRelativeError < 1e-5, $"{check}");
    }

    [Theory]
    [InlineData(LossReduction.Mean)]
    [InlineData(LossReduction.Sum)]
    public void SoftmaxCrossEntropy_MatchesADoubleReference_AndFiniteDifferences(LossReduction reduction)
    {
        const int rows = 6, classes = 9;
        var random = new TestRandom(2);
        float[] z = random.Array(rows * classes, -4f, 4f), g = new float[rows * classes];
        int[] targets = [3, -100, 0, 8, 5, -100];
        double loss = Losses.SoftmaxCrossEntropy(z, rows, classes, targets, g, reduction);

        double Reference(double[] logits)
        {
            double sum = 0;
            int counted = 0;
            for (int r = 0; r < rows; r++)
            {
                if (targets[r] < 0)
                {
                    continue;
                }

                double max = double.NegativeInfinity, total = 0;
                for (int j = 0; j < classes; j++)
                {
                    max = Math.Max(max, logits[(r * classes) + j]);
                }

                for (int j = 0; j < classes; j++)
                {
                    total += Math.Exp(logits[(r * classes) + j] - max);
                }

                sum -= logits[(r * classes) + targets[r]] - max - Math.Log(total);
                counted++;
            }

            return reduction == LossReduction.Mean ? sum / counted : sum;
        }

        double[] point = [.. z.Select(v => (double)v)];
        Assert.Equal(Reference(point), loss, 5);
        GradientCheck.Result check = GradientCheck.Check(Reference, point, [.. g.Select(v => (double)v)], floor: 1e-6);
        Assert.True(check.MaxRelativeError < 1e-4, $"{check}");
        Assert.All(g.AsSpan(classes, classes).ToArray(), v => Assert.Equal(0f, v));   // the ignored row
    }

    [Fact]
    public void SoftmaxCrossEntropy_RefusesATargetOutsideTheClasses()
    {
        Assert.Equal("targets", Assert.ThrowsAny<ArgumentException>(() => Losses.SoftmaxCrossEntropy(new float[6], 2, 3, [1, 3], new float[6])).ParamName);
        Assert.Equal("gradient", Assert.ThrowsAny<ArgumentException>(() => Losses.SoftmaxCrossEntropy(new float[6], 2, 3, [1, 2], new float[5])).ParamName);
        Assert.True(double.IsNaN(Losses.SoftmaxCrossEntropy(new float[6], 2, 3, [-100, -100], new float[6])));
    }

    [Fact]
    public void ClipByGlobalNorm_ReturnsTheNormBeforeClipping_AndScalesLikePyTorch()
    {
        var random = new TestRandom(3);
        float[] g = random.Array(1000, -3f, 3f), original = (float[])g.Clone();
        double norm = Math.Sqrt(original.Sum(v => (double)v * v));
        Assert.Equal(norm, GradientClipping.ClipByGlobalNorm(g, 5.0), 10);
        float factor = (float)(5.0 / (norm + 1e-6));
        for (int i = 0; i < g.Length; i++)
        {
            Assert.Equal(original[i] * factor, g[i]);
        }

        Assert.Equal(5.0, GradientClipping.GlobalNorm(g), 4);
        float[] small = [0.1f, -0.2f];
        GradientClipping.ClipByGlobalNorm(small, 5.0);
        Assert.Equal([0.1f, -0.2f], small);
    }

    [Fact]
    public void NonFiniteGradients_AreReported_AndLeftAlone()
    {
        float[] g = [1f, float.NaN, 2f];
        Assert.True(double.IsNaN(GradientClipping.ClipByGlobalNorm(g, 1.0)));
        Assert.Equal(1f, g[0]);
        float[] h = [1f, float.PositiveInfinity];
        Assert.True(double.IsPositiveInfinity(GradientClipping.ClipByGlobalNorm(h, 1.0)));
        Assert.Equal(1f, h[0]);
    }

    [Fact]
    public void ClipByValue_Clamps()
    {
        float[] g = [-5f, -0.5f, 0f, 0.25f, 7f, float.NaN];
        GradientClipping.ClipByValue(g, 1f);
        Assert.Equal(new[] { -1f, -0.5f, 0f, 0.25f, 1f }, g[..5]);
        Assert.True(float.IsNaN(g[5]));
        Assert.Equal("clipValue", Assert.ThrowsAny<ArgumentException>(() => GradientClipping.ClipByValue(g, 0f)).ParamName);
        Assert.Equal("maxNorm", Assert.ThrowsAny<ArgumentException>(() => GradientClipping.ClipByGlobalNorm(g, -1)).ParamName);
    }
}
