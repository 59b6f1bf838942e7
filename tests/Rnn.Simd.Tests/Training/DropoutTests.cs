using Rnn.Simd.Cells;
using Rnn.Simd.Layers;
using Rnn.Simd.Networks;
using Rnn.Simd.Tests.Infrastructure;
using Rnn.Simd.Tests.Layers;
using Rnn.Simd.Training;

namespace Rnn.Simd.Tests.Training;

/// <summary>
/// Dropout's contract apart from its gradients (<see cref="DropoutGradientTests"/>): the masks' statistics, rates
/// of 0 computing today's bits, embedding dropout as a row mask on the embedding, inference untouched, the step that
/// keys the masks, no allocation per step, the options' validation and JSON.
/// </summary>
[Trait("Category", "Training")]
[Collection(NonParallelCollection.Name)]
public sealed class DropoutTests
{
    private const int Steps = 6, Batch = 4, Vocabulary = 9;

    [Theory]
    [InlineData(0.05f)]
    [InlineData(0.25f)]
    [InlineData(0.5f)]
    [InlineData(0.8f)]
    public void Masks_DropTheRate_KeepWithTheInverseScale_AndAreIndependentBetweenKeys(float rate)
    {
        const int n = 200_000;
        var first = new float[n];
        var second = new float[n];
        DropoutMask.Fill(first, rate, DropoutMask.Key(3, 10, DropoutMask.LayerOutput, 0));
        DropoutMask.Fill(second, rate, DropoutMask.Key(3, 11, DropoutMask.LayerOutput, 0));
        float scale = (float)(1.0 / (1.0 - rate));
        int dropped = 0, droppedBoth = 0;
        for (int i = 0; i < n; i++)
        {
            Assert.True(first[i] == 0 || first[i] == scale, $"mask[{i}] = {first[i]}");
            dropped += first[i] == 0 ? 1 : 0;
            droppedBoth += first[i] == 0 && second[i] == 0 ? 1 : 0;
        }

        // Binomial counts: within 5 standard deviations of n·p, and of n·p² for two independent masks.
        double sigma = Math.Sqrt(n * rate * (1 - rate));
        Assert.InRange(dropped, (n * rate) - (5 * sigma), (n * rate) + (5 * sigma));
        double both = rate * rate, sigmaBoth = Math.Sqrt(n * both * (1 - both));
        Assert.InRange(droppedBoth, (n * both) - (5 * sigmaBoth), (n * both) + (5 * sigmaBoth));

        // Another kind, index or seed is another mask; the same key is the same mask.
        Assert.NotEqual(first, Mask(n, rate, DropoutMask.Key(3, 10, DropoutMask.LayerOutput, 1)));
        Assert.NotEqual(first, Mask(n, rate, DropoutMask.Key(3, 10, DropoutMask.WeightDrop, 0)));
        Assert.NotEqual(first, Mask(n, rate, DropoutMask.Key(4, 10, DropoutMask.LayerOutput, 0)));
        Assert.Equal(first, Mask(n, rate, DropoutMask.Key(3, 10, DropoutMask.LayerOutput, 0)));
    }

    [Fact]
    public void RatesOfZero_ComputeTheBitsOfNoDropout_AndAnyRateChangesThem()
    {
        RecurrentNetworkOptions o = new() { Cell = CellType.Lstm, InputSize = 3, HiddenSize = 5, Layers = 2 };
        (float[] plain, float[] plainGrad) = RunOnce(o, null);
        (float[] zero, float[] zeroGrad) = RunOnce(o, new DropoutOptions { Seed = 9 });
        Assert.Equal(plain, zero);
        Assert.Equal(plainGrad, zeroGrad);
        foreach (DropoutOptions d in (DropoutOptions[])[new() { Dropout = 0.3f }, new() { OutputDropout = 0.3f }, new() { WeightDrop = 0.3f }, new() { InputDropout = 0.3f }, new() { RecurrentDropout = 0.3f }])
        {
            (float[] y, float[] grad) = RunOnce(o, d);
            Assert.NotEqual(plain, y);
            Assert.NotEqual(plainGrad, grad);
        }
    }

    [Fact]
    public void TheMasksAreKeyedByTheStep_WhichEveryForwardPassAdvances()
    {
        RecurrentNetworkOptions o = new() { Cell = CellType.Gru, InputSize = 3, HiddenSize = 5, Layers = 2 };
        var d = new DropoutOptions { Dropout = 0.5f, OutputDropout = 0.5f, WeightDrop = 0.5f, InputDropout = 0.5f, RecurrentDropout = 0.5f, Seed = 2 };
        TrainableRecurrentNetwork network = TrainableRecurrentNetwork.FromPyTorch(o, TestNetworks.PyTorchParameters(o, 4));
        network.Dropout = d;
        using RecurrentTape tape = network.CreateTape();
        float[] x = new TestRandom(5).Array(Steps * Batch * 3);
        float[] Forward(long step)
        {
            network.DropoutStep = step;
            var y = new float[Steps * Batch * 5];
            network.Forward(tape, x, Steps, Batch, y);
            Assert.Equal(step + 1, network.DropoutStep);
            return y;
        }

        float[] at7 = Forward(7);
        Assert.NotEqual(at7, Forward(8));
        Assert.Equal(at7, Forward(7));
        Assert.Throws<ArgumentOutOfRangeException>("value", () => network.DropoutStep = -1);
    }

    [Fact]
    public void EmbeddingDropout_IsTheModelWithTheDroppedRowsZeroedAndTheKeptOnesScaled()
    {
        const float rate = 0.4f;
        const long step = 3;
        var random = new TestRandom(12);
        int[] tokens = [.. Enumerable.Range(0, Steps * Batch).Select(_ => random.Next(Vocabulary))];
        int[] targets = [.. Enumerable.Range(0, Steps * Batch).Select(_ => random.Next(Vocabulary))];
        var d = new DropoutOptions { EmbeddingDropout = rate, Seed = 21 };
        using LanguageModel dropped = Lm(d);
        using LanguageModel masked = Lm(null);
        dropped.Network.DropoutStep = step;

        // The reference model's embedding is E with row v multiplied by its mask: 0, or 1/(1 − p).
        ulong key = DropoutMask.Key(d.Seed, step, DropoutMask.Embedding, 0);
        uint threshold = DropoutMask.Threshold(rate);
        bool[] kept = [.. Enumerable.Range(0, Vocabulary).Select(v => DropoutMask.Kept(key, v, threshold))];
        Assert.Contains(true, tokens.Select(t => kept[t]));
        Assert.Contains(false, tokens.Select(t => kept[t]));
        float scale = (float)(1.0 / (1.0 - rate));
        Span<float> embedding = masked.Parameters.Value("embedding.weight");
        for (int v = 0; v < Vocabulary; v++)
        {
            Span<float> row = embedding.Slice(v * 4, 4);
            for (int i = 0; i < row.Length; i++)
            {
                row[i] = kept[v] ? row[i] * scale : 0;
            }
        }

        masked.Parameters.MarkChanged();
        double lossDropped = dropped.ForwardBackward(tokens, Steps, Batch, targets).Loss;
        double lossMasked = masked.ForwardBackward(tokens, Steps, Batch, targets).Loss;
        Assert.Equal(lossMasked, lossDropped);
        foreach (string name in dropped.Parameters.Tensors.Select(t => t.Name).Where(n => n != "embedding.weight"))
        {
            Assert.Equal(masked.Parameters.Gradient(name).ToArray(), dropped.Parameters.Gradient(name).ToArray());
        }

        // dL/dE[v] = m_v · dL/d(E[v] m_v): zero for a dropped row, the masked model's gradient times 1/(1 − p) for a kept one.
        ReadOnlySpan<float> gradDropped = dropped.Parameters.Gradient("embedding.weight"), gradMasked = masked.Parameters.Gradient("embedding.weight");
        for (int i = 0; i < gradDropped.Length; i++)
        {
            double expected = kept[i / 4] ? gradMasked[i] * (double)scale : 0;
            Assert.True(Math.Abs(gradDropped[i] - expected) <= 1e-6 * Math.Max(1, Math.Abs(expected)), $"dE[{i}] = {gradDropped[i]:R}, expected {expected:R}.");
        }
    }

    [Fact]
    public void Inference_IgnoresDropout()
    {
        var random = new TestRandom(3);
        int[] text = [.. Enumerable.Range(0, 40).Select(_ => random.Next(Vocabulary))];
        using LanguageModel dropped = Lm(new DropoutOptions { Dropout = 0.5f, OutputDropout = 0.5f, WeightDrop = 0.5f, EmbeddingDropout = 0.5f, InputDropout = 0.5f, RecurrentDropout = 0.5f, Seed = 1 });
        using LanguageModel plain = Lm(null);
        Assert.Equal(plain.ToInference().Evaluate(text).MeanLoss, dropped.ToInference().Evaluate(text).MeanLoss);
        Assert.NotNull(dropped.ToInference().Options.Dropout);
    }

    [Fact]
    public void ATrainingStepWithEveryKindOfDropout_AllocatesNothing()
    {
        using LanguageModel model = Lm(new DropoutOptions { Dropout = 0.2f, OutputDropout = 0.3f, WeightDrop = 0.4f, EmbeddingDropout = 0.1f, InputDropout = 0.2f, RecurrentDropout = 0.3f, Seed = 1 });
        var trainer = new Trainer(model.Parameters, new Adam(0.01));
        var random = new TestRandom(9);
        int[] tokens = [.. Enumerable.Range(0, Steps * Batch).Select(_ => random.Next(Vocabulary))];
        AllocationAssert.None(() =>
        {
            model.ForwardBackward(tokens, Steps, Batch, tokens);
            trainer.Update();
        });
    }

    [Theory]
    [InlineData(-0.1f, 0f, 0f, 0f, "Dropout")]
    [InlineData(0f, 1f, 0f, 0f, "OutputDropout")]
    [InlineData(0f, 0f, float.NaN, 0f, "WeightDrop")]
    [InlineData(0f, 0f, 0f, 1.5f, "EmbeddingDropout")]
    [InlineData(0f, 0f, 0f, 0f, "InputDropout")]
    [InlineData(0f, 0f, 0f, 0f, "RecurrentDropout")]
    public void RatesOutsideZeroToOne_AreRefused_ByTheNetworkTheModelAndTheJson(float dropout, float output, float weight, float embedding, string name)
    {
        var d = new DropoutOptions { Dropout = dropout, OutputDropout = output, WeightDrop = weight, EmbeddingDropout = embedding, InputDropout = name == "InputDropout" ? 1 : 0, RecurrentDropout = name == "RecurrentDropout" ? -1 : 0 };
        TrainableRecurrentNetwork network = TrainableRecurrentNetwork.Create(new RecurrentNetworkOptions { InputSize = 2, HiddenSize = 3 });
        ArgumentOutOfRangeException e = Assert.Throws<ArgumentOutOfRangeException>("value", () => network.Dropout = d);
        Assert.Contains($"{name} must be in [0, 1)", e.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => Lm(d));
        float sum = dropout + output + weight + embedding + d.InputDropout + d.RecurrentDropout;
        string rate = float.IsNaN(sum) ? "2" : sum.ToString(System.Globalization.CultureInfo.InvariantCulture);   // JSON has no NaN
        string plain = Options(null).ToJson();
        string json = plain[..^1] + $",\"dropout\":{{\"{Snake(name)}\":{rate}}}}}";
        InvalidDataException invalid = Assert.Throws<InvalidDataException>(() => SequenceModelOptions.FromJson(json));
        Assert.Contains(name, invalid.Message);
    }

    [Fact]
    public void TheOptionsRoundTripThroughJson_AndNoDropoutWritesNoKey()
    {
        var d = new DropoutOptions { Dropout = 0.25f, OutputDropout = 0.5f, WeightDrop = 0.125f, EmbeddingDropout = 0.1f, InputDropout = 0.375f, RecurrentDropout = 0.625f, Seed = 77 };
        LanguageModelOptions options = Options(d);
        Assert.Equal(options, SequenceModelOptions.FromJson(options.ToJson()));
        Assert.Equal(d, SequenceModelOptions.FromJson(options.ToJson()).Dropout);
        Assert.DoesNotContain("dropout", Options(null).ToJson());
    }

    private static string Snake(string name) => string.Concat(name.Select((c, i) => char.IsUpper(c) && i > 0 ? "_" + char.ToLowerInvariant(c) : char.ToLowerInvariant(c).ToString()));

    private static float[] Mask(int n, float rate, ulong key)
    {
        var mask = new float[n];
        DropoutMask.Fill(mask, rate, key);
        return mask;
    }

    private static LanguageModelOptions Options(DropoutOptions? d) => new()
    {
        VocabularySize = Vocabulary,
        EmbeddingSize = 4,
        Recurrent = new RecurrentNetworkOptions { HiddenSize = 6, Layers = 2 },
        Dropout = d,
    };

    private static LanguageModel Lm(DropoutOptions? d) => LanguageModel.Create(Options(d), seed: 5);

    /// <summary>One forward and backward pass of a seeded network; returns the output and every parameter gradient.</summary>
    private static (float[] Output, float[] Gradients) RunOnce(RecurrentNetworkOptions o, DropoutOptions? d)
    {
        TrainableRecurrentNetwork network = TrainableRecurrentNetwork.FromPyTorch(o, TestNetworks.PyTorchParameters(o, 6));
        network.Dropout = d;
        using RecurrentTape tape = network.CreateTape();
        var random = new TestRandom(8);
        float[] x = random.Array(Steps * Batch * o.InputSize), g = random.Array(Steps * Batch * o.LayerOutputSize);
        var y = new float[g.Length];
        network.Forward(tape, x, Steps, Batch, y);
        network.Backward(tape, g);
        return (y, network.Parameters.Gradients.ToArray());
    }
}
