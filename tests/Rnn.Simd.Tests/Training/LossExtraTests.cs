using Rnn.Simd.IO;
using Rnn.Simd.Training;
using Xunit.Abstractions;

namespace Rnn.Simd.Tests.Training;

/// <summary>
/// Binary cross-entropy with logits (pos_weight) and label-smoothed softmax cross-entropy against PyTorch 1.13
/// (tools/golden/losses_extra.py) and against central differences of a plain double formula.
/// </summary>
[Trait("Category", "Training")]
[Trait("Isa", "All")]
public sealed class LossExtraTests(ITestOutputHelper output)
{
    private static readonly string s_file = Path.Combine(AppContext.BaseDirectory, "GoldenLosses", "losses_extra.safetensors");

    [Theory]
    [InlineData(false, LossReduction.Mean)]
    [InlineData(false, LossReduction.Sum)]
    [InlineData(true, LossReduction.Mean)]
    [InlineData(true, LossReduction.Sum)]
    public void BinaryCrossEntropyWithLogits_MatchesPyTorch(bool weighted, LossReduction reduction)
    {
        using SafeTensorsFile file = SafeTensorsFile.Open(s_file);
        float[] logits = file.ReadSingle("bce.logits"), targets = file.ReadSingle("bce.targets");
        float[] posWeight = weighted ? file.ReadSingle("bce.pos_weight") : [];
        var gradient = new float[logits.Length];
        double loss = Losses.BinaryCrossEntropyWithLogits(logits, targets, gradient, reduction, posWeight);
        Compare(file, $"bce{(weighted ? "_pw" : "")}.{Name(reduction)}", loss, gradient);
    }

    [Theory]
    [InlineData("ls", 0.1f, LossReduction.Mean)]
    [InlineData("ls", 0.1f, LossReduction.Sum)]
    [InlineData("ls", 0.25f, LossReduction.Mean)]
    [InlineData("ls", 0.25f, LossReduction.Sum)]
    [InlineData("ls_all_ignored", 0.1f, LossReduction.Mean)]
    [InlineData("ls_all_ignored", 0.25f, LossReduction.Sum)]
    public void SoftmaxCrossEntropy_WithLabelSmoothing_MatchesPyTorch(string prefix, float epsilon, LossReduction reduction)
    {
        using SafeTensorsFile file = SafeTensorsFile.Open(s_file);
        float[] logits = file.ReadSingle("ls.logits");
        int[] targets = [.. file.ReadInt64(prefix + ".targets").Select(t => (int)t)];
        int rows = targets.Length, classes = logits.Length / rows;
        var gradient = new float[logits.Length];
        double loss = Losses.SoftmaxCrossEntropy(logits, rows, classes, targets, gradient, epsilon, reduction);
        Compare(file, $"{prefix}.{(int)Math.Round(epsilon * 100):00}.{Name(reduction)}", loss, gradient);
    }

    [Theory]
    [InlineData(false, LossReduction.Mean)]
    [InlineData(true, LossReduction.Sum)]
    public void BinaryCrossEntropyWithLogits_GradientMatchesFiniteDifferences(bool weighted, LossReduction reduction)
    {
        var random = new Random(7);
        const int Rows = 4, Classes = 3;
        float[] logits = [.. Enumerable.Range(0, Rows * Classes).Select(_ => (float)((random.NextDouble() * 8) - 4))];
        float[] targets = [.. Enumerable.Range(0, Rows * Classes).Select(i => i % 4 == 3 ? 0.3f : random.Next(2))];
        float[] posWeight = weighted ? [2f, 0.5f, 1.5f] : [];
        var gradient = new float[logits.Length];
        double loss = Losses.BinaryCrossEntropyWithLogits(logits, targets, gradient, reduction, posWeight);
        double[] point = FiniteDifference.ToDouble(logits);

        // The definition, in double: −[w·y·log σ(x) + (1 − y)·log(1 − σ(x))].
        double Reference()
        {
            double sum = 0;
            for (int i = 0; i < point.Length; i++)
            {
                double s = 1 / (1 + Math.Exp(-point[i])), w = weighted ? posWeight[i % Classes] : 1;
                sum -= (w * targets[i] * Math.Log(s)) + ((1 - targets[i]) * Math.Log(1 - s));
            }

            return reduction == LossReduction.Mean ? sum / point.Length : sum;
        }

        Assert.Equal(Reference(), loss, 1e-9);
        FiniteDifference.Check(output, "bce", Reference, point, gradient);
    }

    [Fact]
    public void SoftmaxCrossEntropy_WithLabelSmoothing_GradientMatchesFiniteDifferences()
    {
        var random = new Random(11);
        const int Rows = 5, Classes = 4;
        const float Epsilon = 0.2f;
        float[] logits = [.. Enumerable.Range(0, Rows * Classes).Select(_ => (float)((random.NextDouble() * 4) - 2))];
        int[] targets = [2, Losses.DefaultIgnoreIndex, 0, 3, 1];
        var gradient = new float[logits.Length];
        double loss = Losses.SoftmaxCrossEntropy(logits, Rows, Classes, targets, gradient, Epsilon);
        double[] point = FiniteDifference.ToDouble(logits);

        // The mean over the counted rows of −Σ_c q_c log p_c with q = (1 − ε)·onehot + ε/C.
        double Reference()
        {
            double sum = 0;
            int counted = 0;
            for (int r = 0; r < Rows; r++)
            {
                if (targets[r] == Losses.DefaultIgnoreIndex)
                {
                    continue;
                }

                counted++;
                double max = Enumerable.Range(0, Classes).Max(c => point[(r * Classes) + c]);
                double logZ = max + Math.Log(Enumerable.Range(0, Classes).Sum(c => Math.Exp(point[(r * Classes) + c] - max)));
                for (int c = 0; c < Classes; c++)
                {
                    double q = (c == targets[r] ? 1 - (double)Epsilon : 0) + ((double)Epsilon / Classes);
                    sum -= q * (point[(r * Classes) + c] - logZ);
                }
            }

            return sum / counted;
        }

        Assert.Equal(Reference(), loss, 1e-6);
        FiniteDifference.Check(output, "label smoothing", Reference, point, gradient);
        Assert.All(gradient.AsSpan(Classes, Classes).ToArray(), g => Assert.Equal(0f, g));
    }

    [Theory]
    [InlineData(LossReduction.Mean)]
    [InlineData(LossReduction.Sum)]
    public void MeanSquaredError_WithLengths_CountsOnlyTheValidSteps_AndMatchesFiniteDifferences(LossReduction reduction)
    {
        const int Steps = 4, Batch = 3, Features = 2;
        int[] lengths = [4, 1, 0];
        var random = new Random(5);
        float[] prediction = [.. Enumerable.Range(0, Steps * Batch * Features).Select(_ => (float)((random.NextDouble() * 4) - 2))];
        float[] target = [.. Enumerable.Range(0, prediction.Length).Select(_ => (float)((random.NextDouble() * 4) - 2))];
        var gradient = new float[prediction.Length];
        double loss = Losses.MeanSquaredError(prediction, target, gradient, Steps, Batch, lengths, reduction);
        double[] point = FiniteDifference.ToDouble(prediction);

        // The valid rows gathered into a plain list, then the definition.
        double Reference()
        {
            double sum = 0;
            int n = 0;
            for (int b = 0; b < Batch; b++)
            {
                for (int t = 0; t < lengths[b]; t++)
                {
                    for (int j = 0; j < Features; j++)
                    {
                        int i = (((t * Batch) + b) * Features) + j;
                        sum += (point[i] - target[i]) * (point[i] - target[i]);
                        n++;
                    }
                }
            }

            return reduction == LossReduction.Mean ? sum / n : sum;
        }

        Assert.Equal(Reference(), loss, 1e-6);   // the engine rounds y − t to float first
        FiniteDifference.Check(output, "masked mse", Reference, point, gradient);
        for (int i = 0; i < gradient.Length; i++)
        {
            int t = i / Features / Batch, b = i / Features % Batch;
            if (t >= lengths[b])
            {
                Assert.Equal(0f, gradient[i]);
            }
        }

        var plain = new float[prediction.Length];
        var all = new float[prediction.Length];
        Assert.Equal(Losses.MeanSquaredError(prediction, target, plain, reduction), Losses.MeanSquaredError(prediction, target, all, Steps, Batch, default, reduction));
        Assert.Equal(plain, all);
    }

    [Fact]
    public void SoftmaxCrossEntropy_WithZeroSmoothing_IsThePlainLossToTheBit()
    {
        float[] logits = [0.5f, -1.25f, 2f, 0.125f, 3f, -0.75f];
        int[] targets = [1, 0];
        float[] plain = new float[6], smoothed = new float[6];
        double a = Losses.SoftmaxCrossEntropy(logits, 2, 3, targets, plain);
        double b = Losses.SoftmaxCrossEntropy(logits, 2, 3, targets, smoothed, 0f);
        Assert.Equal(a, b);
        Assert.Equal(plain, smoothed);
    }

    [Theory]
    [InlineData(-0.1f)]
    [InlineData(1.5f)]
    [InlineData(float.NaN)]
    public void SoftmaxCrossEntropy_RefusesASmoothingOutsideZeroToOne(float epsilon)
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => Losses.SoftmaxCrossEntropy(new float[3], 1, 3, [0], new float[3], epsilon));
        Assert.Equal("labelSmoothing", e.ParamName);
    }

    private void Compare(SafeTensorsFile file, string name, double loss, float[] gradient) => LossGoldenTests.Compare(output, file, name, loss, gradient);

    private static string Name(LossReduction reduction) => LossGoldenTests.Name(reduction);
}
